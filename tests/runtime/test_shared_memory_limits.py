"""Store limits (``Store.set_limits``) and shared memories, beside wasmtime-py 28, which
shows Wasmtime's rules: a module's own shared memory is created and grown (by wasm)
within the instantiating store's ``memory_size`` and counts as one of its memories; an
imported shared memory grown by wasm is limited by the store of the growing instance;
a ``SharedMemory`` made or grown from Python is asked of no store.

wasmtime-py (28 to 51) cannot pass a ``SharedMemory`` as an import: its ``_as_extern``
wraps the pointer twice. The tests mend that method (as ``bench/threads.py`` does) for
the duration of a test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import wasmtime

import cwasm

PAGE = 65536
OWN = """(module (memory (export "m") 1 10 shared)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size)))"""
IMPORTS = """(module (import "" "m" (memory 1 10 shared))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size)))"""


@pytest.fixture
def wasmtime_imports_shared_memories(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let wasmtime-py pass a ``SharedMemory`` as an import (its pointer, once)."""
    from wasmtime import _ffi as ffi

    def as_extern(self: Any) -> Any:
        union = ffi.wasmtime_extern_union(sharedmemory=self.ptr())
        return ffi.wasmtime_extern_t(ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)

    monkeypatch.setattr(wasmtime.SharedMemory, "_as_extern", as_extern)


def _outcome(action: Callable[[], Any]) -> Any:
    """The result of ``action``, or the first line of its error."""
    try:
        return action()
    except (cwasm.WasmtimeError, wasmtime.WasmtimeError) as e:
        return ("error", str(e).splitlines()[0])


def _own_memory(api: Any) -> list[Any]:
    engine = api.Engine()
    store = api.Store(engine)
    store.set_limits(memory_size=2 * PAGE)
    exports = api.Instance(store, api.Module(engine, OWN), []).exports(store)
    grow, size, memory = exports["grow"], exports["size"], exports["m"]
    out: list[Any] = [type(memory).__name__]
    out += [grow(store, 1), grow(store, 1), size(store)]  # 1, then the limit: -1
    out.append(memory.grow(1))  # from Python: no store is asked
    out += [size(store), grow(store, 1)]
    big = api.Store(engine)
    big.set_limits(memory_size=2 * PAGE)
    module = api.Module(engine, OWN.replace("1 10 shared", "3 10 shared"))
    out.append(_outcome(lambda: api.Instance(big, module, []) and "instantiated"))
    counted = api.Store(engine)
    counted.set_limits(memories=0)
    out.append(_outcome(lambda: api.Instance(counted, api.Module(engine, OWN), []) and "ok"))
    return out


def test_a_modules_own_shared_memory_is_within_the_store_limits() -> None:
    ours, theirs = _own_memory(cwasm), _own_memory(wasmtime)
    assert ours == theirs
    assert ours[1:4] == [1, -1, 2]
    assert ours[-2] == ("error", "memory minimum size of 3 pages exceeds memory limits")
    assert ours[-1] == ("error", "resource limit exceeded: memory count too high at 1")


def _imported(api: Any) -> list[Any]:
    engine = api.Engine()
    memory = api.SharedMemory(engine, api.MemoryType(api.Limits(3, 10), shared=True))
    module = api.Module(engine, IMPORTS)
    out: list[Any] = []
    # importing asks no store about the memory's size (it exists already)
    small = api.Store(engine)
    small.set_limits(memory_size=2 * PAGE)
    small_exports = api.Instance(small, module, [memory]).exports(small)
    small_grow, size = small_exports["grow"], small_exports["size"]
    roomy = api.Store(engine)
    roomy.set_limits(memory_size=5 * PAGE)
    roomy_grow = api.Instance(roomy, module, [memory]).exports(roomy)["grow"]
    out += [small_grow(small, 1), roomy_grow(roomy, 1), roomy_grow(roomy, 1), roomy_grow(roomy, 1)]
    # (wasmtime-py 28's ``SharedMemory.size`` passes its pointer twice: wasm tells)
    out += [small_grow(small, 0), size(small), memory.grow(2), size(small)]
    return out


@pytest.mark.usefixtures("wasmtime_imports_shared_memories")
def test_an_imported_shared_memory_is_limited_by_the_growing_store() -> None:
    ours, theirs = _imported(cwasm), _imported(wasmtime)
    assert ours == theirs
    # the small store cannot grow it; the roomy one can, to its own limit of 5 pages;
    # Python grows it past both
    assert ours == [-1, 3, 4, -1, 5, 5, 5, 7]
