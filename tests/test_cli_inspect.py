"""``cwasm inspect``: JSON and text output on Wasmtime artifacts, and clean failures."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

import cwasm
from cwasm.cli import main
from tests.obj.wasmtime_samples import SAMPLES, artifact, code_bodies, wasm
from tests.runtime.wat import wat


@pytest.fixture(scope="module")
def data_cwasm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "data.cwasm"
    path.write_bytes(artifact("data"))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_json_output_parses_and_holds_the_module(
    data_cwasm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "inspect", "--json", str(data_cwasm))
    assert status == 0 and err == ""
    d: dict[str, Any] = json.loads(out)
    assert d["producer"] == "wasmtime"
    assert d["engine"]["version"] == "28.0.0"
    assert d["file_size"] == data_cwasm.stat().st_size
    assert [e["name"] for e in d["module"]["exports"]] == [n for n, _ in SAMPLES["data"].exports]
    assert {f["name"] for f in d["functions"]} == {"add", "div", "load", "boom"}
    assert {t["trap"] for t in d["traps"]} >= {
        "IntegerOverflow",
        "IntegerDivisionByZero",
        "MemoryOutOfBounds",
        "UnreachableCodeReached",
    }
    assert [p["preview_text"] for p in d["passive_data"]] == ["passive!"]
    assert "disassembly" not in d


def test_text_output_contains_the_key_pieces(
    data_cwasm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "inspect", str(data_cwasm))
    assert status == 0 and err == ""
    for piece in (
        "producer wasmtime",
        "OSABI=200",
        ".wasmtime.engine",
        ".wasmtime.info",
        "version '28.0.0'",
        "export 'div' -> func[1]",
        "wasm[0]::function[1]::div",
        "signatures[0]::wasm_to_array_trampoline",
        "IntegerDivisionByZero",
        "UnreachableCodeReached",
        "memory initialization: Static",
        "data at 0x10..0x1b",
        "'passive!'",
        "function[2] = 'load'",
        "relocations (0)",
    ):
        assert piece in out, piece


def test_disassembly_marks_trap_sites(data_cwasm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("capstone")
    status, out, _ = _run(capsys, "inspect", "--disas", str(data_cwasm))
    assert status == 0
    d = json.loads(_run(capsys, "inspect", "--disas", "--json", str(data_cwasm))[1])
    dis = d["disassembly"]
    assert dis["error"] is None
    names = [f["name"] for f in dis["functions"]]
    assert names == [s["name"] for s in d["function_symbols"]]
    trapped = {
        i["address"]: i["trap"] for f in dis["functions"] for i in f["instructions"] if "trap" in i
    }
    assert trapped == {t["text_offset"]: t["trap"] for t in d["traps"]}
    div = next(f for f in dis["functions"] if f["name"].endswith("::div"))
    mnemonics = {i["mnemonic"] for i in div["instructions"]}
    divide = "idiv" if d["header"]["machine"] == "x86_64" else "sdiv"
    assert divide in mnemonics
    assert "<wasm[0]::function[1]::div>:" in out
    assert "trap: IntegerDivisionByZero" in out


def test_disassembly_without_capstone_says_so(
    data_cwasm: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "capstone", None)  # makes `import capstone` fail
    status, out, _ = _run(capsys, "inspect", "--disas", str(data_cwasm))
    assert status == 0
    assert "disassembly: disassembly needs capstone" in out
    assert "wasm[0]::function[1]::div" in out  # everything else is still shown


def test_empty_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.cwasm"
    path.write_bytes(artifact("empty"))
    status, out, _ = _run(capsys, "inspect", "--json", str(path))
    d = json.loads(out)
    assert status == 0
    assert d["functions"] == [] and d["traps"] == [] and d["address_map"] == []
    assert d["function_symbols"] == [] and d["errors"] == []
    assert [s["name"] for s in d["sections"]] == [
        ".wasmtime.engine",
        ".wasmtime.bti",
        ".text",
        ".wasmtime.addrmap",
        ".wasmtime.traps",
        ".rodata.wasm",
        ".wasmtime.info",
        ".symtab",
        ".strtab",
        ".shstrtab",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        (b"just some text\n", "not an ELF file"),
        (artifact("data")[:100], "section header table"),
        (b"\0asm\x01\0\0\0\x01\x05\x01", "(at offset 0x9)"),
    ],
)
def test_errors_are_one_line_and_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.cwasm"
    if content is not None:
        path.write_bytes(content)
    status, out, err = _run(capsys, "inspect", str(path))
    assert status == 1 and out == ""
    assert err.startswith("cwasm: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_damaged_section_is_reported_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = bytearray(artifact("data"))
    info = ELFFile(io.BytesIO(bytes(raw))).get_section_by_name(".wasmtime.info")
    start = info["sh_offset"]
    raw[start : start + info["sh_size"]] = b"\xff" * info["sh_size"]
    path = tmp_path / "damaged.cwasm"
    path.write_bytes(bytes(raw))
    status, out, _ = _run(capsys, "inspect", str(path))
    assert status == 0
    assert "errors:" in out and ".wasmtime.info:" in out
    assert "wasm[0]::function[1]::div" in out  # symbols still shown


def test_console_script_runs_as_a_process(data_cwasm: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cwasm.cli", "inspect", "--json", str(data_cwasm)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["header"]["e_flags"] == 1
    bad = subprocess.run(
        [sys.executable, "-m", "cwasm.cli", "inspect", str(data_cwasm.with_suffix(".nope"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("cwasm: error:")
    assert "Traceback" not in bad.stderr


# --------------------------------------------------------------------------------------
# .wasm input: a summary of the decoded module


@pytest.mark.parametrize("name", ["data", "imports", "tables"])
def test_wasm_summary_matches_the_source(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = wasm(name)
    path = tmp_path / f"{name}.wasm"
    path.write_bytes(module)
    status, out, err = _run(capsys, "inspect", "--json", str(path))
    assert status == 0 and err == ""
    d = json.loads(out)
    src = SAMPLES[name]
    assert d["kind"] == "wasm" and d["size"] == len(module)
    assert [(e["name"], e["kind"]) for e in d["exports"]] == src.exports
    assert [(i["module"], i["name"], i["kind"]) for i in d["imports"]] == src.imports
    assert {f["index"]: f["name"] for f in d["functions"] if f["name"]} == src.func_names
    assert [(m["min"], m["max"]) for m in d["memories"]] == src.memories
    assert [(t["min"], t["max"], t["element"]) for t in d["tables"]] == src.tables
    assert [(g["type"], g["mutable"]) for g in d["globals"]] == src.globals
    assert d["start"] == src.start
    passive = [s for s in d["data"] if s["mode"] == "PASSIVE"]
    assert [bytes.fromhex(s["preview_hex"]) for s in passive] == src.passive_data
    code_offset, bodies = code_bodies(module)
    assert d["code_section_offset"] == code_offset
    defined = [f["body"] for f in d["functions"] if not f["imported"]]
    assert [(b["start"], b["end"]) for b in defined] == bodies
    assert len(defined) == src.defined_funcs

    status, text, _ = _run(capsys, "inspect", str(path))
    assert status == 0
    for export_name, _ in src.exports:
        assert f"'{export_name}' -> " in text
    for func_name in src.func_names.values():
        assert f" {func_name}: type[" in text


def test_every_memory_and_its_data_are_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cwasm import Engine, Module
    from tests.runtime.test_multi_memory import WAT
    from tests.runtime.wat import wat

    path = tmp_path / "multi.cwasm"
    path.write_bytes(Module(Engine(), wat(WAT)).serialize())
    status, out, err = _run(capsys, "inspect", str(path))
    assert status == 0 and err == ""
    for piece in (
        "import 'env' 'mem' -> memory[0]",
        "export 'm2' -> memory[2]",
        "memory[0] min 1 max 4 pages",
        "memory[1] min 1 max 2 pages",
        "memory[2] min 2 max None pages",
        "memory[1] at i32.const 32",
        "memory[2] at i32.const 65536",
    ):
        assert piece in out, piece


def test_64_bit_memories_and_tables_show_their_index_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wasm_path = tmp_path / "m64.wasm"
    wasm_path.write_bytes(wat("(module (memory i64 2 0x2_0000) (memory 1) (table i64 3 funcref))"))
    cwasm_path = tmp_path / "m64.cwasm"
    cwasm_path.write_bytes(cwasm.Module.from_file(cwasm.Engine(), str(wasm_path)).serialize())
    for path in (wasm_path, cwasm_path):
        status, out, _ = _run(capsys, "inspect", str(path))
        assert status == 0
        assert "memory[0] min 2 max 131072" in out and "memory[1] min 1 max None" in out
        lines = out.splitlines()
        assert [
            line.endswith(" i64") for line in lines if "memory[" in line and " min " in line
        ] == [
            True,
            False,
        ]
        assert any("table[0] funcref min 3 max None i64" in line for line in lines)
        status, out, _ = _run(capsys, "inspect", "--json", str(path))
        d = json.loads(out)
        m = d.get("module", d)
        assert [x["index_type"] for x in m["memories"]] == ["I64", "I32"]
        assert [x["index_type"] for x in m["tables"]] == ["I64"]


def test_cwasm_artifact_shows_its_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cwasm

    wat = """(module (import "m" "t" (tag (param i64))) (tag (export "e") (param i32 f64)))"""
    path = tmp_path / "tags.cwasm"
    path.write_bytes(cwasm.Module(cwasm.Engine(), cwasm.wat2wasm(wat)).serialize())
    status, out, _ = _run(capsys, "inspect", str(path))
    assert status == 0
    assert "  tag[0] type[0] func(i64) -> ()" in out.splitlines()
    assert "  tag[1] type[1] func(i32, f64) -> ()" in out.splitlines()
    assert "  export 'e' -> tag[1]" in out.splitlines()
    status, out, _ = _run(capsys, "inspect", "--json", str(path))
    d = json.loads(out)
    assert d["module"]["num_imported"]["tags"] == 1
    assert [t["type"] for t in d["module"]["tags"]] == [0, 1]


def test_typed_tables_and_globals_show_the_modules_type_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Typed references name the module's own type index (as the text format), never
    the id an engine gives the type: here the engine has seen other types first."""
    engine = cwasm.Engine()
    cwasm.Module(engine, "(module (func (param f32 f64 i64)) (func (param i32 i32)))")
    source = """(module
      (type $a (func (param f64)))
      (type $ii (func (param i32) (result i32)))
      (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
      (global (export "g") (ref $ii) (ref.func $inc))
      (table (export "t") 3 (ref $ii) (ref.func $inc))
      (table i64 2 (ref null $a)))"""
    path = tmp_path / "typed.cwasm"
    path.write_bytes(cwasm.Module(engine, source).serialize())
    status, out, _ = _run(capsys, "inspect", str(path))
    assert status == 0
    lines = [line.strip() for line in out.splitlines()]
    assert "table[0] (ref 1) min 3 max None" in lines
    assert "table[1] (ref null 0) min 2 max None i64" in lines
    assert "global[0] (ref 1) = ref.func 0" in lines
