"""The GC proposal's values in the public API (docs/gc.md, docs/api.md).

wasmtime-py 51, its newest release, has no ``anyref`` values: its ``ValType`` names no
GC heap type and its ``Val`` has no constructor for them (calls fail on them, checked
below when its venv is there), so cwasm's names follow Wasmtime's Rust API
(``ValType::ANYREF``, ``Val::AnyRef``): ``ValType.anyref()`` ... ``nullref()``,
``Val.anyref``, ``Val.as_anyref`` and ``AnyRef``, with GC on by default.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import cwasm
from cwasm import AnyRef, Val, ValType
from tests.runtime.wat import wat

WASMTIME51 = Path(
    os.environ.get(
        "CWASM_FUZZ_WASMTIME51_PYTHON", "/work/main/build/bench-venv-wasmtime/bin/python"
    )
)

MODULE = """
(module
  (type $pt (struct (field i32)))
  (type $bytes (array i8))
  (import "host" "pass" (func $pass (param anyref) (result anyref)))
  (import "host" "eq" (func $eq (param eqref i31ref structref arrayref) (result i32)))
  (func (export "i31") (param i32) (result i31ref) (ref.i31 (local.get 0)))
  (func (export "get") (param i31ref) (result i32) (i31.get_s (local.get 0)))
  (func (export "via_host") (param i32) (result i32)
    (i31.get_s (ref.cast (ref i31) (call $pass (ref.i31 (local.get 0))))))
  (func (export "kinds") (result i32)
    (call $eq (ref.i31 (i32.const 1)) (ref.null i31) (struct.new $pt (i32.const 2))
      (array.new_fixed $bytes 0)))
)
"""


def test_gc_value_types_have_their_names() -> None:
    names = {
        "anyref": ValType.anyref(),
        "eqref": ValType.eqref(),
        "i31ref": ValType.i31ref(),
        "structref": ValType.structref(),
        "arrayref": ValType.arrayref(),
        "nullref": ValType.nullref(),
    }
    for name, t in names.items():
        assert str(t) == name and t == getattr(ValType, name)()
    assert len(set(names.values())) == len(names)
    assert ValType.anyref() != ValType.externref()
    assert Val.ref_null(ValType.structref()).as_anyref() is None


def test_anyref_values_cross_in_vals_and_host_functions() -> None:
    assert "AnyRef" in cwasm.__all__
    store = cwasm.Store()
    module = cwasm.Module(store.engine, wat(MODULE))
    seen: list[object] = []

    def kinds(a: AnyRef, b: object, c: AnyRef, d: AnyRef) -> int:
        seen.extend((a, b, c, d))
        return 7

    funcs = [
        cwasm.Func(store, cwasm.FuncType([ValType.anyref()], [ValType.anyref()]), lambda v: v),
        cwasm.Func(
            store,
            cwasm.FuncType(
                [ValType.eqref(), ValType.i31ref(), ValType.structref(), ValType.arrayref()],
                [ValType.i32()],
            ),
            kinds,
        ),
    ]
    x = cwasm.Instance(store, module, funcs).exports(store)
    r = x["i31"](store, -4)
    assert r == AnyRef.i31(-4) and r.i31_s == -4
    assert x["get"](store, Val.anyref(AnyRef.i31(9))) == 9
    assert Val.anyref(r).as_anyref() is r and Val.anyref(r).as_funcref() is None
    assert repr(Val.anyref(None)) == "Val.anyref(None)"
    assert x["via_host"](store, 123) == 123
    assert x["kinds"](store) == 7
    a, b, c, d = seen
    assert a == AnyRef.i31(1) and b is None
    assert isinstance(c, AnyRef) and c.is_struct and isinstance(d, AnyRef) and d.is_array
    with pytest.raises(TypeError):
        x["get"](store, Val.i32(1))


def test_gc_globals_and_tables_made_from_python() -> None:
    store = cwasm.Store()
    g = cwasm.Global(store, cwasm.GlobalType(ValType.eqref(), True), AnyRef.i31(5))
    assert g.value(store) == AnyRef.i31(5) and str(g.type(store).content) == "eqref"
    with pytest.raises(cwasm.WasmtimeError, match="type mismatch"):
        g.set_value(store, AnyRef.from_extern("host"))  # a host reference is no eqref
    t = cwasm.Table(store, cwasm.TableType(ValType.anyref(), cwasm.Limits(2, None)), None)
    t.set(store, 1, Val.anyref(AnyRef.from_extern("host")))
    assert t.get(store, 0) is None and t.get(store, 1).host == "host"
    n = cwasm.Global(store, cwasm.GlobalType(ValType.nullref(), False), None)
    assert n.value(store) is None
    with pytest.raises(cwasm.WasmtimeError, match="type mismatch"):
        cwasm.Global(store, cwasm.GlobalType(ValType.nullref(), False), AnyRef.i31(0))


@pytest.mark.skipif(not WASMTIME51.exists(), reason="needs the wasmtime-py 51 venv")
def test_wasmtime_py_51_has_no_anyref_values() -> None:
    code = (
        "import importlib.metadata as m, wasmtime as w\n"
        "print(hasattr(w.ValType, 'anyref'), hasattr(w.Val, 'anyref'), m.version('wasmtime'))\n"
    )
    out = subprocess.run(
        [str(WASMTIME51), "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    has_type, has_val, version = out.stdout.split()
    assert (has_type, has_val) == ("False", "False") and version.startswith("51")
