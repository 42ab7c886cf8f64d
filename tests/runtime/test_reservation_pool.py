"""Released linear-memory reservations are reused (``native._ReservationPool``): a reused
memory reads as zeros, has exactly its new size, and still traps past its end, as a
fresh one does (and as wasmtime-py's does)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.runtime import native

WAT = """
(module
  (memory (export "mem") 1)
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
"""

#: offsets written in the first life of the memory: in its first page, and in pages it
#: grew into
_WRITTEN = (0, 4095, 4096, 65535, 65536 + 17, 3 * 65536 - 1)


def _dirty(api: Any, engine: Any, module: Any) -> int:
    """Instantiate, grow to 3 pages and write every offset of ``_WRITTEN``; the memory's
    base (cwasm's; 0 for wasmtime-py)."""
    store = api.Store(engine)
    exports = api.Instance(store, module, []).exports(store)
    assert exports["grow"](store, 2) == 1
    for offset in _WRITTEN:
        exports["store"](store, offset, 0xA5)
    return int(exports["mem"].base) if api is cwasm else 0


def _fresh_view(api: Any, engine: Any, module: Any) -> tuple[Any, ...]:
    """A new instance's view: size, bytes at the offsets written before (those inside),
    the trap past the end, and the bytes after growing again."""
    store = api.Store(engine)
    exports = api.Instance(store, module, []).exports(store)
    mem = exports["mem"]
    size = mem.size(store)
    inside = [exports["load"](store, o) for o in _WRITTEN if o < 65536]
    with pytest.raises(api.Trap) as trap:
        exports["load"](store, 65536 + 17)
    grown = exports["grow"](store, 2)
    after = [exports["load"](store, o) for o in _WRITTEN]
    return size, inside, "out of bounds" in str(trap.value), grown, after


def test_a_reused_reservation_reads_zero_and_keeps_its_guard() -> None:
    views = {}
    bases = {}
    for api in (cwasm, wasmtime):
        engine = api.Engine()
        module = api.Module(engine, WAT)
        bases[api] = _dirty(api, engine, module)
        gc.collect()  # the store and its memory go: the reservation is released
        views[api] = _fresh_view(api, engine, module)
    assert views[cwasm] == views[wasmtime]
    assert views[cwasm] == (1, [0, 0, 0, 0], True, 1, [0] * len(_WRITTEN))
    # the released reservation was indeed taken again (the pool hands out the latest)
    engine = cwasm.Engine()
    module = cwasm.Module(engine, WAT)
    first = _dirty(cwasm, engine, module)
    gc.collect()
    assert native._reservation_pool.held >= 1
    store = cwasm.Store(engine)
    mem = cwasm.Instance(store, module, []).exports(store)["mem"]
    assert isinstance(mem, cwasm.Memory)
    assert mem.base == first
    assert bytes(mem.read(store, 0, 65536)) == bytes(65536)


def test_a_pooled_reservation_keeps_one_inactive_guard_record() -> None:
    """A released reservation keeps its record with the signal handler, inactive (it
    matches no address) while pooled and active again for the next memory; one the
    pool cannot keep is forgotten with it."""
    from cwasm.runtime import guard

    engine = cwasm.Engine()
    module = cwasm.Module(engine, WAT)
    if not engine.guard_pages:
        pytest.skip("no guard-page bounds checks on this machine")
    gc.collect()
    state = guard._get_state()
    before = dict(state.memories._records)
    stores = []
    for _ in range(native.RESERVATION_POOL_SIZE + 8):  # more than the pool keeps
        store = cwasm.Store(engine)
        cwasm.Instance(store, module, [])
        stores.append(store)
    del stores, store
    gc.collect()
    added = {k: r for k, r in state.memories._records.items() if k not in before}
    assert 0 < len(added) <= native.RESERVATION_POOL_SIZE  # the others were forgotten
    assert all(hi == 0 for _, hi, _ in added.values())  # pooled: inactive
    assert len(added) <= native._reservation_pool.held
    # the next memory takes one, active again in its store: it traps past its end
    assert _fresh_view(cwasm, engine, module)[2]


@pytest.mark.parametrize(
    "pages, dirty",
    [
        (1, [0]),
        (2, [1]),
        (16, [0, 3, 4, 15]),
        (40, [0, 1, 15, 16, 17, 39]),  # past the pages kept resident too
        (40, [14, 15]),  # the last kept page resident, the rest untouched
        (40, [0, 20, 39]),  # the last kept page not resident, pages past it dirty
        (40, []),
        (20, list(range(20))),
    ],
)
def test_released_pages_read_zero_whether_kept_resident_or_discarded(
    pages: int, dirty: list[int]
) -> None:
    import ctypes

    page = native.PAGE_SIZE
    res = native.Reservation(64 * page)
    try:
        res.commit(pages * page)
        for p in dirty:
            ctypes.memset(res.base + p * page + 17, 0xA5, page - 17)
        if pages > 2:  # a page only read: mapped, never written
            ctypes.string_at(res.base + 2 * page, 8)
        assert native._reset_pages(res.base, pages * page)
        assert ctypes.string_at(res.base, pages * page) == bytes(pages * page)
    finally:
        del res
