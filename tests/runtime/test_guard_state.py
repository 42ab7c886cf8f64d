"""The signal handlers' state block (``cwasm.runtime.guard``): what the native handlers
read through a state word — the published arrays — says what the registries hold, as
they grow, shrink and reuse slots."""

from __future__ import annotations

import ctypes
from typing import Any

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


def _read_records(word: ctypes.c_uint64, width: int) -> list[tuple[int, ...]]:
    """The records ``(lo, hi, ...)`` a handler can match (``lo <= x < hi``), read as it
    reads them: through the published address, up to the published count."""
    address = word.value
    count = ctypes.c_uint64.from_address(address).value
    flat = [ctypes.c_uint64.from_address(address + 8 * (1 + i)).value for i in range(width * count)]
    records = [tuple(flat[i : i + width]) for i in range(0, len(flat), width)]
    return [r for r in records if r[0] < r[1]]


def test_registry_publishes_whole_records() -> None:
    word = ctypes.c_uint64(0)
    reg = _Registry(ctypes.addressof(word), 3)
    a = reg.add((1, 2, 3))
    reg.add((4, 5, 6))
    reg.remove(a)
    assert _read_records(word, 3) == [(4, 5, 6)]


def test_registry_changes_in_place_and_republishes_packed_when_full() -> None:
    word = ctypes.c_uint64(0)
    reg = _Registry(ctypes.addressof(word), 4)
    first = word.value
    keys = [reg.add((10 * i + 1, 10 * i + 5, i, 7)) for i in range(10)]
    assert word.value == first  # added in place
    for k in keys[:8]:
        reg.remove(k)
    assert word.value == first  # removed in place
    assert _read_records(word, 4) == [(81, 85, 8, 7), (91, 95, 9, 7)]
    reg.remove(keys[9])  # the last slot: the count shrinks
    assert ctypes.c_uint64.from_address(word.value).value == 9
    more = [reg.add((1000 + i, 1001 + i, i, 0)) for i in range(40)]  # past the capacity
    assert word.value != first  # a new array, the live records packed
    want = [(81, 85, 8, 7)] + [(1000 + i, 1001 + i, i, 0) for i in range(40)]
    assert sorted(_read_records(word, 4)) == sorted(want)
    for k in more:
        reg.remove(k)
    assert _read_records(word, 4) == [(81, 85, 8, 7)]


class _RemovingRecord(tuple[int, ...]):
    """A record that, once ``armed``, removes ``victim`` from ``reg`` (or, with
    ``deactivate``, zeroes its ``hi``) when it is read: a change running while the
    registry republishes, as a finalizer the garbage collector runs there (on an
    allocation) makes."""

    reg: _Registry
    victim = -1
    deactivate = False

    def __getitem__(self, index: Any) -> Any:
        if self.victim >= 0:
            victim, self.victim = self.victim, -1
            if self.deactivate:
                self.reg.set_hi(victim, 0)
            else:
                self.reg.remove(victim)
        return super().__getitem__(index)


def test_registry_stays_exact_when_a_record_is_removed_while_it_republishes() -> None:
    word = ctypes.c_uint64(0)
    reg = _Registry(ctypes.addressof(word), 3)
    trigger = _RemovingRecord((1, 2, 3))
    trigger.reg = reg
    reg.add(trigger)
    keys = [reg.add((10 * i, 10 * i + 5, i)) for i in range(1, 16)]  # full: 16 records
    first = word.value
    trigger.victim = keys[-1]  # the last record added goes while the array is refilled
    reg.add((500, 505, 99))
    assert word.value != first  # republished
    want = [(1, 2, 3), *[(10 * i, 10 * i + 5, i) for i in range(1, 15)], (500, 505, 99)]
    assert sorted(_read_records(word, 3)) == sorted(want)
    reg.add((600, 605, 7))  # and it goes on in place
    assert sorted(_read_records(word, 3)) == sorted([*want, (600, 605, 7)])


def test_registry_records_are_deactivated_in_place_and_while_it_republishes() -> None:
    word = ctypes.c_uint64(0)
    reg = _Registry(ctypes.addressof(word), 3)
    trigger = _RemovingRecord((1, 2, 3))
    trigger.reg = reg
    reg.add(trigger)
    keys = [reg.add((10 * i, 10 * i + 5, i)) for i in range(1, 16)]
    first = word.value
    reg.set_hi(keys[0], 0)  # in place: it matches nothing
    assert word.value == first
    assert (10, 15, 1) not in _read_records(word, 3)
    reg.set_hi(keys[0], 15)  # and again
    assert (10, 15, 1) in _read_records(word, 3)
    trigger.victim = keys[1]
    trigger.deactivate = True
    reg.add((500, 505, 99))  # republishes; keys[1] is deactivated meanwhile
    assert word.value != first
    records = _read_records(word, 3)
    assert (20, 25, 2) not in records
    assert (500, 505, 99) in records and (10, 15, 1) in records
