"""64-bit tables (memory64) from Python: ``TableType(valtype, limits, is_64=True)``, as
``MemoryType``'s ``is_64`` (wasmtime-py, 28 and 51, has no 64-bit table type), tables
made with it, and import matching, which wants the index type of the import."""

from __future__ import annotations

import pytest

import cwasm

IMPORTS64 = """(module
  (import "" "t" (table $t i64 1 funcref))
  (func (export "size") (result i64) (table.size $t))
  (func (export "grow") (param i64) (result i64) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "is_null") (param i64) (result i32) (ref.is_null (table.get $t (local.get 0)))))"""
EXPORTS64 = """(module (type $v (func))
  (table (export "t") i64 3 7 externref)
  (table (export "typed") i64 1 (ref null $v)))"""


def test_table_type_is_64() -> None:
    ty = cwasm.TableType(cwasm.ValType.funcref(), cwasm.Limits(1, 2**40), is_64=True)
    assert ty.is_64 and ty.limits == cwasm.Limits(1, 2**40)
    assert repr(ty) == "TableType(ValType.funcref(), Limits(1, 1099511627776), is_64=True)"
    assert not cwasm.TableType(cwasm.ValType.funcref(), cwasm.Limits(1)).is_64
    with pytest.raises(cwasm.WasmtimeError, match="2\\*\\*32"):
        cwasm.TableType(cwasm.ValType.funcref(), cwasm.Limits(1, 2**32))
    with pytest.raises(cwasm.WasmtimeError, match="2\\*\\*64"):
        cwasm.TableType(cwasm.ValType.funcref(), cwasm.Limits(2**64), is_64=True)


def test_a_64_bit_table_from_python_is_imported_where_one_is_wanted() -> None:
    store = cwasm.Store()
    module = cwasm.Module(store.engine, IMPORTS64)
    (imp,) = module.imports
    assert isinstance(imp.type, cwasm.TableType) and imp.type.is_64
    ty64 = cwasm.TableType(cwasm.ValType.funcref(), cwasm.Limits(2), is_64=True)
    table = cwasm.Table(store, ty64, None)
    assert table.type(store).is_64
    exports = cwasm.Instance(store, module, [table]).exports(store)
    assert exports["size"](store) == 2
    f = cwasm.Func(store, cwasm.FuncType([], []), lambda: None)
    assert table.grow(store, 3, f) == 2
    assert exports["size"](store) == 5 and exports["is_null"](store, 4) == 0
    assert exports["grow"](store, 1) == 5 and table.size(store) == 6
    # a 32-bit table is not a 64-bit one, whatever its limits
    ty32 = cwasm.TableType(cwasm.ValType.funcref(), cwasm.Limits(2))
    with pytest.raises(cwasm.WasmtimeError, match="incompatible import type"):
        cwasm.Instance(store, module, [cwasm.Table(store, ty32, None)])


def test_a_modules_64_bit_table_is_exported_as_one() -> None:
    store = cwasm.Store()
    module = cwasm.Module(store.engine, EXPORTS64)
    export, typed = module.exports
    assert export.type.is_64 and export.type.limits == cwasm.Limits(3, 7)
    # (a typed element type is closed over the engine's type ids: still 64-bit)
    assert typed.type.is_64 and str(typed.type.element) == "(ref null (func))"
    exports = cwasm.Instance(store, module, []).exports(store)
    assert exports["typed"].type(store).is_64
    table = exports["t"]
    ty = table.type(store)
    assert ty.is_64 and ty.element == cwasm.ValType.externref()
    # and it satisfies a 64-bit import, but not a 32-bit one
    importer = '(module (import "" "t" (table {} 1 externref)))'
    cwasm.Instance(store, cwasm.Module(store.engine, importer.format("i64")), [table])
    with pytest.raises(cwasm.WasmtimeError, match="incompatible import type"):
        cwasm.Instance(store, cwasm.Module(store.engine, importer.format("")), [table])
