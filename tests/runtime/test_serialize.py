"""Artifacts round-trip: serialize → deserialize behaves like the compiled module, without LLVM."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cwasm.api import Config, Engine, Instance, Module, Store, Trap, TrapCode
from cwasm.errors import ArtifactError, CwasmError
from tests.runtime.wat import wat

PROGRAM = """
(module
  (memory (export "mem") 1)
  (data (i32.const 0) "\\01\\02\\03\\04")
  (func $fib (export "fib") (param i64) (result i64)
    local.get 0 i64.const 2 i64.lt_u
    if (result i64) local.get 0
    else
      local.get 0 i64.const 1 i64.sub call $fib
      local.get 0 i64.const 2 i64.sub call $fib
      i64.add
    end)
  (func (export "sum") (param i32) (result i32) (local i32)
    block
      loop
        local.get 0 i32.eqz br_if 1
        local.get 1 local.get 0 i32.load8_u i32.add local.set 1
        local.get 0 i32.const 1 i32.sub local.set 0
        br 0
      end
    end
    local.get 1)
  (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.rem_s)
)
"""


def _results(store: Store, inst: Instance) -> list[object]:
    ex = inst.exports(store)
    out: list[object] = [ex["fib"](store, 20), ex["sum"](store, 3), ex["div"](store, -7, 2)]
    try:
        ex["div"](store, 1, 0)
    except Trap as t:
        out.append((t.trap_code, t.message, [(f.func_name, f.module_offset) for f in t.frames]))
    return out


def test_serialized_module_behaves_like_the_compiled_one(tmp_path: Path) -> None:
    engine = Engine()
    compiled = Module(engine, wat(PROGRAM))
    data = compiled.serialize()
    assert data[:4] == b"\x7fELF"
    loaded = Module.deserialize(engine, data)
    path = tmp_path / "p.cwasm"
    path.write_bytes(data)
    from_file = Module.deserialize_file(engine, path)
    expected = _results(Store(engine), Instance(Store(engine), compiled, []))
    store = Store(engine)
    assert expected[0] == 6765 and expected[1] == 9 and expected[2] == -1
    assert expected[3][0] == TrapCode.INTEGER_DIVISION_BY_ZERO  # type: ignore[index]
    for m in (loaded, from_file):
        assert _results(store, Instance(store, m, [])) == expected
        assert m.serialize() == data


def test_corrupt_or_foreign_artifacts_are_rejected(tmp_path: Path) -> None:
    engine = Engine()
    data = bytearray(Module(engine, wat(PROGRAM)).serialize())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ArtifactError):
        Module.deserialize(engine, bytes(data))
    with pytest.raises(ArtifactError):
        Module.deserialize(engine, wat(PROGRAM))
    path = tmp_path / "bad.cwasm"
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="failed deserialization for"):
        Module.deserialize_file(engine, path)
    # the optimisation level is informational: an O2 artifact loads into an O0 engine
    o0 = Config()
    o0.opt_level = 0
    loaded = Module.deserialize(Engine(o0), Module(engine, wat(PROGRAM)).serialize())
    assert [e.name for e in loaded.exports] == [
        e.name for e in Module(engine, wat(PROGRAM)).exports
    ]


def test_cross_compiled_module_serializes_but_cannot_run() -> None:
    config = Config()
    config.target = "aarch64-unknown-linux-gnu"
    engine = Engine(config)
    module = Module(engine, wat(PROGRAM))
    again = Module.deserialize(engine, module.serialize())
    assert again.serialize() == module.serialize()
    with pytest.raises(CwasmError, match="cannot run here"):
        Instance(Store(engine), module, [])


def test_loaded_artifact_runs_without_llvmlite(tmp_path: Path) -> None:
    path = tmp_path / "p.cwasm"
    path.write_bytes(Module(Engine(), wat(PROGRAM)).serialize())
    script = textwrap.dedent(
        f"""
        import sys
        from cwasm.api import Engine, Instance, Module, Store, Trap
        engine = Engine()
        module = Module.deserialize_file(engine, {str(path)!r})
        store = Store(engine)
        ex = Instance(store, module, []).exports(store)
        assert ex["fib"](store, 15) == 610
        try:
            ex["div"](store, 1, 0)
        except Trap as t:
            assert t.frames[0].func_index == 2 and t.frames[0].module_offset
        else:
            raise AssertionError("no trap")
        assert "llvmlite" not in sys.modules, sorted(m for m in sys.modules if "llvm" in m)
        assert not any(m.startswith("cwasm.compile") for m in sys.modules)
        print("ok")
        """
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
