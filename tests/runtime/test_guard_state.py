"""The signal handlers' state block (``cwasm.runtime.guard``): what the native handlers
read through a state word — the published arrays — says what the registries hold, as
they grow, shrink and reuse slots."""

from __future__ import annotations

import ctypes

from cwasm.runtime.guard import _Registry, _SlotRegistry


def _read_slots(word: ctypes.c_uint64) -> list[int]:
    """``[count, slot...]`` as a handler reads it: through the published address."""
    address = word.value
    count = ctypes.c_uint64.from_address(address).value
    return [ctypes.c_uint64.from_address(address + 8 * (1 + i)).value for i in range(count)]


def test_slot_registry_publishes_every_record_as_it_grows_and_reuses_slots() -> None:
    word = ctypes.c_uint64(0)
    reg = _SlotRegistry(ctypes.addressof(word))
    assert _read_slots(word) == []
    keys = [reg.add((1000 + i,)) for i in range(40)]  # past the first capacity, twice
    assert _read_slots(word) == [1000 + i for i in range(40)]
    for k in keys[5:30]:
        reg.remove(k)
    want = [1000 + i if not 5 <= i < 30 else 0 for i in range(40)]
    assert _read_slots(word) == want
    again = reg.add((7,))  # a freed slot is filled in place
    assert again in keys[5:30]
    want[again] = 7
    assert _read_slots(word) == want


def test_registry_publishes_whole_records() -> None:
    word = ctypes.c_uint64(0)
    reg = _Registry(ctypes.addressof(word))
    a = reg.add((1, 2, 3))
    reg.add((4, 5, 6))
    reg.remove(a)
    address = word.value
    count = ctypes.c_uint64.from_address(address).value
    flat = [ctypes.c_uint64.from_address(address + 8 * (1 + i)).value for i in range(3 * count)]
    assert (count, flat) == (1, [4, 5, 6])
