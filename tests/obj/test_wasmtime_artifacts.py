"""cwasm's decoders and ``inspect_artifact`` on genuine Wasmtime v28 artifacts.

Every decoded field is compared with an independent source: ``readelf`` and
pyelftools for the ELF structure, a minimal ``struct`` decoding for the packed
trap and address-map tables, the settings wasmtime-py 28.0.0's default engine records, and
the WAT source (and its binary) for the module information.
"""

from __future__ import annotations

import io
import platform
import re
import shutil
import struct
import subprocess
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cwasm.errors import ArtifactError
from cwasm.inspect import inspect_artifact
from cwasm.inspect import wasmtime_v28 as wt
from tests.obj.wasmtime_samples import SAMPLES, artifact, code_bodies, wasm

NAMES = sorted(SAMPLES)
HOST_ARCH = {"x86_64": "x86_64", "AMD64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(
    platform.machine(), platform.machine()
)


@pytest.fixture(scope="module", params=NAMES)
def sample(request: pytest.FixtureRequest) -> tuple[str, bytes, dict[str, Any]]:
    name: str = request.param
    data = artifact(name)
    return name, data, inspect_artifact(data)


def _elf(data: bytes) -> ELFFile:
    return ELFFile(io.BytesIO(data))


def _section_bytes(data: bytes, name: str) -> bytes | None:
    sec = _elf(data).get_section_by_name(name)
    return None if sec is None else bytes(sec.data())


# --------------------------------------------------------------------------------------
# ELF structure against readelf and pyelftools


def _readelf(data: bytes, tmp_path: Any) -> str:
    path = tmp_path / "a.cwasm"
    path.write_bytes(data)
    proc = subprocess.run(
        ["readelf", "-S", "-s", "-h", "-W", str(path)], capture_output=True, text=True, check=True
    )
    assert proc.stderr == ""
    return proc.stdout


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf is not installed")
def test_header_sections_symbols_match_readelf(sample: Any, tmp_path: Any) -> None:
    _, data, d = sample
    out = _readelf(data, tmp_path)
    h = d["header"]

    def field(label: str) -> str:
        m = re.search(rf"^\s*{re.escape(label)}:\s*(.*)$", out, re.M)
        assert m, label
        return m.group(1).strip()

    assert field("Flags") == hex(h["e_flags"])
    assert field("OS/ABI") == f"<unknown: {h['osabi']:x}>"
    assert field("ABI Version") == str(h["abiversion"])
    assert field("Start of section headers") == f"{h['e_shoff']} (bytes into file)"
    assert field("Number of section headers") == str(h["e_shnum"])
    assert field("Section header string table index") == str(h["e_shstrndx"])
    assert field("Type").startswith("REL ")
    assert field("Class") == "ELF64"

    readelf_sections = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*(\d+)\](.*)$", line)
        if not m or m.group(1) == "0":
            continue
        tokens = m.group(2).split()
        name, sh_type, _addr, off, size, _es = tokens[:6]
        flags = tokens[6] if len(tokens) == 10 else ""
        readelf_sections.append(
            (int(m.group(1)), name, sh_type, int(off, 16), int(size, 16), flags, int(tokens[-1]))
        )
    ours = [
        (
            s["index"],
            s["name"],
            s["type"],
            s["offset"],
            s["size"],
            s["flags_text"].replace("-", ""),
            s["addralign"],
        )
        for s in d["sections"]
    ]
    assert ours == readelf_sections

    readelf_symbols = []
    for line in out.splitlines():
        m = re.match(r"\s*(\d+): ([0-9a-f]{16})\s+(\d+) (\w+)\s+(\w+)\s+\w+\s+(\w+)\s?(.*)$", line)
        if m:
            readelf_symbols.append(
                (
                    int(m.group(1)),
                    int(m.group(2), 16),
                    int(m.group(3)),
                    m.group(4),
                    m.group(5),
                    m.group(6),
                    m.group(7),
                )
            )
    ours_symbols = [
        (
            s["index"],
            s["value"],
            s["size"],
            s["type_name"],
            s["bind_name"],
            "UND" if s["shndx"] == 0 else str(s["shndx"]),
            s["name"],
        )
        for s in d["symbols"]
    ]
    assert ours_symbols == readelf_symbols


def test_sections_and_symbols_match_pyelftools(sample: Any) -> None:
    _, data, d = sample
    elf = _elf(data)
    assert elf.header["e_ident"]["EI_OSABI"] == d["header"]["osabi"] == 200
    assert elf.header["e_flags"] == d["header"]["e_flags"] == 1
    assert d["header"]["kind"] == "module"
    assert elf.header["e_shoff"] == d["header"]["e_shoff"]
    assert d["header"]["machine"] == HOST_ARCH
    theirs = [
        (
            i,
            s.name,
            s["sh_type"],
            s["sh_flags"],
            s["sh_offset"],
            s["sh_size"],
            s["sh_addralign"],
            s["sh_link"],
            s["sh_info"],
            s["sh_entsize"],
        )
        for i, s in enumerate(elf.iter_sections())
        if i
    ]
    ours = [
        (
            s["index"],
            s["name"],
            "SHT_" + s["type"],
            s["flags"],
            s["offset"],
            s["size"],
            s["addralign"],
            s["link"],
            s["info"],
            s["entsize"],
        )
        for s in d["sections"]
    ]
    assert ours == theirs
    symtab = elf.get_section_by_name(".symtab")
    theirs_sym = [
        (s.name, s["st_value"], s["st_size"], s["st_info"]["bind"], s["st_info"]["type"])
        for s in symtab.iter_symbols()
    ]
    ours_sym = [
        (s["name"], s["value"], s["size"], "STB_" + s["bind_name"], "STT_" + s["type_name"])
        for s in d["symbols"]
    ]
    assert ours_sym == theirs_sym
    assert d["relocations"] == []
    assert d["errors"] == []


# --------------------------------------------------------------------------------------
# traps and address map against a minimal struct decoding


def _packed_table(raw: bytes, item: str) -> list[tuple[int, int]]:
    (count,) = struct.unpack_from("<I", raw)
    offsets = struct.unpack_from(f"<{count}I", raw, 4)
    values = struct.unpack_from(f"<{count}{item}", raw, 4 + 4 * count)
    assert len(raw) == 4 + count * (4 + struct.calcsize(item))
    return list(zip(offsets, values, strict=True))


def test_trap_sites_match_struct_decoding(sample: Any) -> None:
    name, data, d = sample
    table = _packed_table(_section_bytes(data, ".wasmtime.traps") or b"", "B")
    assert [(t["text_offset"], t["code"]) for t in d["traps"]] == table
    amap = _packed_table(_section_bytes(data, ".wasmtime.addrmap") or b"", "I")
    for t in d["traps"]:
        # the runtime's rule: the entry with the greatest text offset <= the trap's
        before = [pos for off, pos in amap if off <= t["text_offset"]]
        expected = before[-1] if before and before[-1] != 0xFFFFFFFF else None
        assert t["wasm_offset"] == expected
        assert t["message"].startswith("wasm trap: ")
    if name == "empty":
        assert table == []


def test_address_map_matches_struct_decoding(sample: Any) -> None:
    _, data, d = sample
    amap = _packed_table(_section_bytes(data, ".wasmtime.addrmap") or b"", "I")
    ours = [
        (e["text_offset"], 0xFFFFFFFF if e["wasm_offset"] is None else e["wasm_offset"])
        for e in d["address_map"]
    ]
    assert ours == amap
    # every entry belongs to a wasm function symbol (trampolines have none)
    for e in d["address_map"]:
        assert e["function"] is not None and "::function[" in e["function"]


def test_traps_are_where_the_source_says(sample: Any) -> None:
    name, _, d = sample
    module = wasm(name)
    for func, expected in SAMPLES[name].traps.items():
        sites = [t for t in d["traps"] if t["function"] and t["function"].endswith(func)]
        found = {t["trap"]: t for t in sites}
        for trap, opcode in expected.items():
            assert trap in found, (func, trap, sites)
            # the address map leads back to the trapping instruction in the wasm binary
            assert module[found[trap]["wasm_offset"]] == opcode


# --------------------------------------------------------------------------------------
# engine section against wasmtime-py 28.0.0's default engine

DEFAULT_FEATURES = {
    "reference_types": True,
    "multi_value": True,
    "bulk_memory": True,
    "component_model": True,
    "simd": True,
    "tail_call": True,
    "threads": True,
    "multi_memory": True,
    "exceptions": False,
    "memory64": False,
    "relaxed_simd": True,
    "extended_const": True,
    "function_references": False,
    "gc": False,
    "custom_page_sizes": False,
    "component_model_more_flags": False,
    "component_model_multiple_returns": False,
    "gc_types": True,
    "wide_arithmetic": False,
}
DEFAULT_TUNABLES = {
    "collector": "DEFERRED_REFERENCE_COUNTING",
    "memory_reservation": 4 << 30,
    "memory_guard_size": 32 << 20,
    "memory_reservation_for_growth": 2 << 30,
    "generate_native_debuginfo": False,
    "parse_wasm_debuginfo": False,
    "consume_fuel": False,
    "epoch_interruption": False,
    "memory_may_move": True,
    "guard_before_linear_memory": True,
    "table_lazy_init": True,
    "generate_address_map": True,
    "debug_adapter_modules": False,
    "relaxed_simd_deterministic": False,
    "winch_callable": False,
    "signals_based_traps": True,
    "memory_init_cow": True,
}


def test_engine_metadata_matches_format_doc(sample: Any) -> None:
    _, data, d = sample
    assert d["producer"] == "wasmtime"
    e = d["engine"]
    assert e["version"] == "28.0.0"
    assert e["target"].startswith(HOST_ARCH + "-")
    assert e["features"] == DEFAULT_FEATURES
    assert e["tunables"] == DEFAULT_TUNABLES
    assert e["trailing_bytes"] == 0
    assert len(e["shared_flags"]) == 30
    assert list(e["shared_flags"])[:3] == ["regalloc_algorithm", "opt_level", "tls_model"]
    assert e["shared_flags"]["opt_level"] == "Enum(speed)"
    assert e["shared_flags"]["probestack_size_log2"] == "Num(12)"
    assert e["shared_flags"]["preserve_frame_pointers"] == "Bool(true)"
    assert all(v.startswith("Bool(") for v in e["isa_flags"].values())
    assert d["bti"] == 0
    raw = _section_bytes(data, ".wasmtime.engine") or b""
    assert raw[:2] == b"\x00\x06" and raw[2:8] == b"28.0.0"
    assert raw[8] == len(e["target"]) and raw[9 : 9 + raw[8]].decode() == e["target"]


# --------------------------------------------------------------------------------------
# info section against the WAT source


def test_module_info_matches_source(sample: Any) -> None:
    name, data, d = sample
    src = SAMPLES[name]
    m = d["module"]
    assert [(e["name"], e["kind"]) for e in m["exports"]] == src.exports
    assert [(i["module"], i["field"], i["kind"]) for i in m["imports"]] == src.imports
    assert len(d["functions"]) == src.defined_funcs
    assert m["functions"] == src.defined_funcs + m["num_imported"]["funcs"]
    assert [(x["min"], x["max"]) for x in m["memories"]] == src.memories
    assert [(t["min"], t["max"], t["element"]) for t in m["tables"]] == src.tables
    assert [(g["type"], g["mutable"]) for g in m["globals"]] == src.globals
    assert (None if m["start"] is None else int(m["start"].split()[0])) == src.start
    assert {n["func_index"]: n["name"] for n in d["names"]["func_names"]} == src.func_names
    assert [
        p["preview_text"].encode().decode("unicode_escape").encode("latin-1")
        for p in d["passive_data"]
    ] == src.passive_data
    assert d["info_trailing_bytes"] == 0


def test_function_ranges_agree_with_symbols(sample: Any) -> None:
    _, _, d = sample
    symbols = {s["name"]: (s["start"], s["end"]) for s in d["function_symbols"]}
    for f in d["functions"]:
        name = f"wasm[0]::function[{f['func_index']}]" + (f"::{f['name']}" if f["name"] else "")
        assert symbols[name] == (f["text"]["start"], f["text"]["end"])
        tramp = f["array_to_wasm_trampoline"]
        if tramp is not None:
            key = f"wasm[0]::array_to_wasm_trampoline[{f['func_index']}]"
            assert symbols[key] == (tramp["start"], tramp["end"])
    for w in d["wasm_to_array_trampolines"]:
        key = f"signatures[{w['type_index']}]::wasm_to_array_trampoline"
        assert symbols[key] == (w["text"]["start"], w["text"]["end"])


def test_start_srclocs_and_code_offset_match_the_binary(sample: Any) -> None:
    name, _, d = sample
    code_offset, bodies = code_bodies(wasm(name))
    assert d["info"]["meta"]["code_section_offset"] == code_offset
    assert [f["start_srcloc"] for f in d["functions"]] == [start for start, _ in bodies]


def test_data_segments_hold_the_source_bytes(sample: Any) -> None:
    name, data, d = sample
    src = SAMPLES[name]
    rodata = _section_bytes(data, ".rodata.wasm") or b""
    init = d["memory_initialization"]
    passive = [rodata[p["data"]["start"] : p["data"]["end"]] for p in d["passive_data"]]
    assert passive == src.passive_data
    if init["kind"] == "Static":
        for offset, content in src.active_data:
            (image,) = [e for e in init["entries"] if e.get("image", 0) is not None]
            base, start = image["memory_offset"], image["data"]["start"]
            at = start + offset - base
            assert rodata[at : at + len(content)] == content
            assert {"start": offset, "end": offset + len(content)} in image["nonzero_ranges"]
            assert (image["data"]["end"] - start) % 4096 == 0
    else:
        assert name == "imports"  # its memory is imported: Wasmtime keeps the segments
        segs = init["entries"]
        assert [rodata[s["data"]["start"] : s["data"]["end"]] for s in segs] == [b"seg1", b"seg2"]
        assert [s["offset"] for s in segs] == ["i32.const 8", "global.get 0"]


def test_tables_sample_details() -> None:
    d = inspect_artifact(artifact("tables"))
    m = d["module"]
    assert m["global_initializers"] == [
        "i64.const -5",
        "f32.const 1.5",
        "f64.const 2.25",
        "ref.func 0",
    ]
    assert m["passive_elements"] == {"1": ["func 1", "func 0"]}
    assert d["names"]["section_size"] is None  # no names in the source
    assert d["info"]["module"]["table_initialization"]["initial_values"][0] == {
        "precomputed": [0, 1],
        "expr": None,
    }


# --------------------------------------------------------------------------------------
# robustness: garbage gives ArtifactError, never another exception

_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=200))
def test_decoders_reject_garbage_cleanly(raw: bytes) -> None:
    for decode in (wt.decode_engine_section, wt.decode_module_info):
        try:
            decode(raw)
        except ArtifactError:
            pass


@_FUZZ
@given(st.data())
def test_damaged_info_and_engine_sections(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["data", "imports", "tables"]))
    section = data.draw(st.sampled_from([".wasmtime.info", ".wasmtime.engine"]))
    raw = bytearray(_section_bytes(artifact(name), section) or b"")
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
    decode = wt.decode_module_info if section == ".wasmtime.info" else wt.decode_engine_section
    try:
        decode(bytes(raw))
    except ArtifactError:
        pass


def _metadata_regions(data: bytes) -> list[tuple[int, int]]:
    elf = _elf(data)
    regions = [(0, 64), (elf.header["e_shoff"], len(data))]
    for sec in elf.iter_sections():
        if sec.name not in (".text", ".rodata.wasm", ".eh_frame", "") and sec["sh_size"]:
            regions.append((sec["sh_offset"], sec["sh_offset"] + sec["sh_size"]))
    return regions


@_FUZZ
@given(st.data())
def test_inspect_survives_damaged_artifacts(data: st.DataObject) -> None:
    original = artifact(data.draw(st.sampled_from(["data", "imports", "tables"])))
    regions = _metadata_regions(original)
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        start, end = data.draw(st.sampled_from(regions))
        raw[data.draw(st.integers(start, end - 1))] = data.draw(st.integers(0, 255))
    try:
        d = inspect_artifact(bytes(raw), disassemble=data.draw(st.booleans()))
    except ArtifactError:
        return
    assert isinstance(d["errors"], list)
