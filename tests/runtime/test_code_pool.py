"""Reused code mappings (``cwasm.runtime.native._CodePool``): a module's code may land in
the pages of a module freed before it, holding exactly its own code afterwards."""

from __future__ import annotations

import ctypes
import gc

import pytest
import wasmtime

import cwasm
from cwasm.runtime import native
from cwasm.runtime.native import PAGE_SIZE, CodeMemory, _CodePool


def test_a_freed_mapping_is_reused_and_holds_only_the_new_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gc.collect()  # code of earlier tests goes to the real pool, not to this one
    monkeypatch.setattr(native, "_code_pool", _CodePool(capacity=1 << 20))
    old = CodeMemory(b"\xcc" * (2 * PAGE_SIZE))
    base = old.base
    del old
    gc.collect()
    new_text = b"\x90" * (PAGE_SIZE + 10)  # same page count, shorter
    new = CodeMemory(new_text)
    assert new.base == base
    assert ctypes.string_at(new.base, new.size) == new_text + bytes(new.size - len(new_text))


def test_the_pool_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _CodePool(capacity=2 * PAGE_SIZE)
    gc.collect()  # code of earlier tests goes to the real pool, not to this one
    monkeypatch.setattr(native, "_code_pool", pool)
    mems = [CodeMemory(b"\xc3") for _ in range(3)]
    del mems
    gc.collect()
    assert pool.held == 2 * PAGE_SIZE  # the third was unmapped
    reused = {pool.take(PAGE_SIZE), pool.take(PAGE_SIZE)}
    assert None not in reused and pool.take(PAGE_SIZE) is None and pool.held == 0
    for base in reused:
        native.unmap(base, PAGE_SIZE)


WAT_A = """(module (func (export "f") (param i32) (result i32)
  local.get 0 i32.const 7 i32.mul))"""
WAT_B = """(module (func (export "f") (param i32) (result i32)
  local.get 0 i32.const 100 i32.add))"""


def test_a_module_loaded_into_reused_pages_runs_its_own_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = cwasm.Engine()
    artifact_a = cwasm.Module(engine, WAT_A).serialize()
    artifact_b = cwasm.Module(engine, WAT_B).serialize()
    gc.collect()
    monkeypatch.setattr(native, "_code_pool", _CodePool(capacity=1 << 20))
    first = cwasm.Module.deserialize(engine, artifact_a)
    store = cwasm.Store(engine)
    f = cwasm.Instance(store, first, []).exports(store)["f"]
    assert f(store, 6) == 42
    base, size = first.compiled.code.base, first.compiled.code.size
    del first, store, f
    gc.collect()
    second = cwasm.Module.deserialize(engine, artifact_b)
    assert second.compiled.code.size == size
    assert second.compiled.code.base == base  # B's code went into A's old pages
    store = cwasm.Store(engine)
    got = [cwasm.Instance(store, second, []).exports(store)["f"](store, x) for x in (1, 6)]
    wt_engine = wasmtime.Engine()
    wt_store = wasmtime.Store(wt_engine)
    wt_f = wasmtime.Instance(wt_store, wasmtime.Module(wt_engine, WAT_B), []).exports(wt_store)["f"]
    assert got == [wt_f(wt_store, 1), wt_f(wt_store, 6)] == [101, 106]


def test_a_freed_module_leaves_no_signal_registration_before_its_pages_are_reused() -> None:
    """A module's code is registered with the guard-page and SIGINT handlers while it
    lives; when it goes, both records go before its pages return to the pool (the code's
    release hooks), so a reused mapping is never found under the old module's records."""
    from cwasm.runtime import guard

    engine = cwasm.Engine()
    artifact = cwasm.Module(engine, '(module (func (export "f")))').serialize()
    module = cwasm.Module.deserialize(engine, artifact)
    state = guard._get_state()
    code = module.compiled.code
    base, end = code.base, code.base + code.size
    assert (base, end) in state.code._records.values()
    assert any(r[0] >= base and r[1] <= end for r in state.funcs._records.values())
    assert len(code.release_hooks) == 2
    order: list[object] = []
    code.release_hooks.append(lambda: order.append("hooks"))
    give = native._code_pool.give
    native._code_pool.give = lambda b, s: (order.append(b), give(b, s))  # type: ignore[method-assign]
    try:
        del module, code
        gc.collect()
    finally:
        del native._code_pool.give
    assert order.index("hooks") < order.index(base)
    assert (base, end) not in state.code._records.values()
    assert not any(r[0] >= base and r[1] <= end for r in state.funcs._records.values())
