"""``Store.set_limits``: memories, tables and instance counts, with wasmtime-py as the
reference (every test runs against both)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import wasmtime

import cwasm.api as cw

PAGE = 65536

GROWER = """
(module
  (memory (export "mem") 1)
  (table (export "tab") 1 funcref)
  (func (export "grow_mem") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "grow_tab") (param i32) (result i32)
    (table.grow (ref.null func) (local.get 0))))
"""


@pytest.fixture(params=["cwasm", "wasmtime"])
def api(request: pytest.FixtureRequest) -> ModuleType:
    return cw if request.param == "cwasm" else wasmtime


def _instance(api: ModuleType, store: Any, wat: str) -> Any:
    return api.Instance(store, api.Module(store.engine, wat), []).exports(store)


def test_memory_size_bounds_creation_and_growth(api: ModuleType) -> None:
    store = api.Store()
    store.set_limits(memory_size=3 * PAGE)
    with pytest.raises(api.WasmtimeError, match="memory minimum size of 4 pages exceeds"):
        api.Memory(store, api.MemoryType(api.Limits(4, None)))
    ex = _instance(api, store, GROWER)
    mem = ex["mem"]
    assert ex["grow_mem"](store, 2) == 1
    assert ex["grow_mem"](store, 1) == -1  # to 4 pages: past the limit
    assert mem.size(store) == 3
    assert mem.data_len(store) == 3 * PAGE
    with pytest.raises(api.WasmtimeError, match="failed to grow memory by"):
        mem.grow(store, 1)
    assert ex["grow_mem"](store, 0) == 3
    # raising the limit lets it grow again
    store.set_limits(memory_size=4 * PAGE)
    assert mem.grow(store, 1) == 3
    assert mem.size(store) == 4


def test_memory_size_fails_an_instantiation(api: ModuleType) -> None:
    store = api.Store()
    store.set_limits(memory_size=PAGE)
    module = api.Module(store.engine, "(module (memory 2))")
    with pytest.raises(api.WasmtimeError, match="memory minimum size of 2 pages exceeds memory"):
        api.Instance(store, module, [])


def test_table_elements_bound_creation_and_growth(api: ModuleType) -> None:
    store = api.Store()
    store.set_limits(table_elements=3)
    ty = api.TableType(api.ValType.funcref(), api.Limits(4, None))
    with pytest.raises(api.WasmtimeError, match="table minimum size of 4 elements exceeds"):
        api.Table(store, ty, None)
    ex = _instance(api, store, GROWER)
    tab = ex["tab"]
    assert ex["grow_tab"](store, 2) == 1
    assert ex["grow_tab"](store, 1) == -1
    assert tab.size(store) == 3
    with pytest.raises(api.WasmtimeError, match="failed to grow table by"):
        tab.grow(store, 1, None)
    module = api.Module(store.engine, "(module (table 4 funcref))")
    with pytest.raises(api.WasmtimeError, match="table minimum size of 4 elements exceeds table"):
        api.Instance(store, module, [])


@pytest.mark.parametrize(
    ("limit", "wat", "what"),
    [
        ("instances", "(module)", "instance"),
        ("memories", "(module (memory 1))", "memory"),
        ("tables", "(module (table 1 funcref))", "table"),
    ],
)
def test_counts(api: ModuleType, limit: str, wat: str, what: str) -> None:
    store = api.Store()
    store.set_limits(**{limit: 2})
    module = api.Module(store.engine, wat)
    api.Instance(store, module, [])
    api.Instance(store, module, [])
    with pytest.raises(api.WasmtimeError, match=f"{what} count too high at 3"):
        api.Instance(store, module, [])
    # memories and tables made from Python do not count
    api.Memory(store, api.MemoryType(api.Limits(1, None)))
    api.Table(store, api.TableType(api.ValType.funcref(), api.Limits(1, None)), None)


def test_a_new_call_replaces_the_limits(api: ModuleType) -> None:
    store = api.Store()
    store.set_limits(memory_size=0, table_elements=0)
    store.set_limits(instances=5)  # the size limits are gone
    api.Memory(store, api.MemoryType(api.Limits(1, None)))
    api.Table(store, api.TableType(api.ValType.funcref(), api.Limits(1, None)), None)


def test_trap_on_grow_failure() -> None:
    """The Wasmtime CLI's ``-W trap-on-grow-failure``: a failing grow traps instead."""
    store = cw.Store()
    store.set_limits(memory_size=2 * PAGE)
    store.limits.trap_on_grow_failure = True
    ex = _instance(cw, store, GROWER)
    with pytest.raises(cw.WasmtimeError, match="forcing trap when growing memory to 196608"):
        ex["grow_mem"](store, 2)
    assert ex["mem"].size(store) == 1
    assert ex["grow_mem"](store, 1) == 1
