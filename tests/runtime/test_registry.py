"""AddressRegistry: half-open ranges, exact and containing look-ups, overlap refusal, lifetimes."""

from __future__ import annotations

import gc
import threading

import pytest

from cwasm.runtime.registry import AddressRegistry


class Obj:
    """A weakly referenceable stand-in for an instance or a module."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Obj({self.name})"


def test_lookup_is_half_open() -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    a = Obj("a")
    reg.register(0x1000, 0x1100, a)
    assert reg.lookup(0x0FFF) is None
    assert reg.lookup(0x1000) is a
    assert reg.lookup(0x10FF) is a
    assert reg.lookup(0x1100) is None
    assert reg.lookup(0) is None
    assert reg.lookup(1 << 64) is None


def test_at_finds_only_the_start() -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    a = Obj("a")
    reg.register(0x1000, 0x1100, a)
    assert reg.at(0x1000) is a
    assert reg.at(0x1001) is None
    assert reg.at(0x0FFF) is None


def test_adjacent_ranges_do_not_overlap() -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    a, b, c = Obj("a"), Obj("b"), Obj("c")
    reg.register(0x2000, 0x3000, b)  # registered out of address order
    reg.register(0x1000, 0x2000, a)
    reg.register(0x3000, 0x3001, c)
    assert [reg.lookup(x) for x in (0x1FFF, 0x2000, 0x2FFF, 0x3000, 0x3001)] == [
        a,
        b,
        b,
        c,
        None,
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0x0F00, 0x1001),  # reaches into the range from below
        (0x10FF, 0x1200),  # starts inside it
        (0x1000, 0x1100),  # the same range
        (0x1000, 0x1001),  # the same start
        (0x1010, 0x1020),  # inside it
        (0x0F00, 0x1200),  # around it
    ],
)
def test_overlapping_registration_is_refused(start: int, end: int) -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    a = Obj("a")
    reg.register(0x1000, 0x1100, a)
    with pytest.raises(ValueError, match="test range .* overlaps"):
        reg.register(start, end, Obj("b"))
    assert reg.lookup(0x1000) is a and reg.lookup(0x10FF) is a
    assert reg.lookup(start) is (a if 0x1000 <= start < 0x1100 else None)


def test_empty_range_is_refused() -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    with pytest.raises(ValueError, match="empty"):
        reg.register(0x1000, 0x1000, Obj("a"))


def test_unregister() -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    a, b = Obj("a"), Obj("b")
    reg.register(0x1000, 0x1100, a)
    reg.register(0x2000, 0x2100, b)
    reg.unregister(0x1000)
    assert reg.lookup(0x1000) is None and reg.at(0x1000) is None
    assert reg.lookup(0x2000) is b
    reg.unregister(0x1000)  # nothing there: no error
    reg.unregister(0x2050)  # not a start: nothing happens
    assert reg.lookup(0x2050) is b
    reg.register(0x1000, 0x1200, a)  # the range is free again
    assert reg.lookup(0x11FF) is a


def test_a_dead_object_leaves_and_frees_its_range() -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    a = Obj("a")
    reg.register(0x1000, 0x1100, a)
    del a
    gc.collect()
    assert reg.lookup(0x1000) is None and reg.at(0x1000) is None
    b = Obj("b")
    reg.register(0x1080, 0x1180, b)  # overlaps the dead range
    assert reg.lookup(0x1000) is None
    assert reg.lookup(0x1080) is b and reg.lookup(0x117F) is b


def test_a_stale_finalizer_keeps_the_new_object_at_its_start() -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    a, b = Obj("a"), Obj("b")
    reg.register(0x1000, 0x1100, a)
    reg.unregister(0x1000)
    reg.register(0x1000, 0x1100, b)
    del a
    gc.collect()  # a's finalizer runs for a start that is b's now
    reg.register(0x5000, 0x5100, Obj("c"))  # (registration removes the dead)
    assert reg.at(0x1000) is b and reg.lookup(0x1050) is b


def test_concurrent_registration_and_lookup() -> None:
    reg: AddressRegistry[Obj] = AddressRegistry("test")
    per_thread, threads = 300, 4
    objs = [[Obj(f"{t}.{i}") for i in range(per_thread)] for t in range(threads)]
    resident = Obj("resident")
    reg.register(0x10, 0x20, resident)
    misses: list[int] = []

    def register(t: int) -> None:
        for i, obj in enumerate(objs[t]):
            start = 0x1000 * (1 + i * threads + t)
            reg.register(start, start + 0x800, obj)

    def look() -> None:
        for _ in range(per_thread * threads):
            if reg.lookup(0x18) is not resident:
                misses.append(1)

    workers = [threading.Thread(target=register, args=(t,)) for t in range(threads)]
    workers.append(threading.Thread(target=look))
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert misses == []
    for t in range(threads):
        for i, obj in enumerate(objs[t]):
            start = 0x1000 * (1 + i * threads + t)
            assert reg.at(start) is obj
            assert reg.lookup(start + 0x7FF) is obj
            assert reg.lookup(start + 0x800) is None


def test_the_runtime_registries_index_instances_and_code() -> None:
    from cwasm.api import Engine, Instance, Module, Store
    from cwasm.runtime.registry import CODE, INSTANCES

    engine = Engine()
    store = Store(engine)
    module = Module(engine, '(module (func (export "f")))')
    inst = Instance(store, module, [])
    size = inst.compiled.offsets.size
    assert INSTANCES.at(inst.vmctx) is inst
    assert INSTANCES.lookup(inst.vmctx + size - 1) is inst
    assert INSTANCES.lookup(inst.vmctx + size) is not inst
    code = module.compiled.code
    assert CODE.lookup(code.base) is module.compiled
    assert CODE.lookup(code.base + code.size - 1) is module.compiled
