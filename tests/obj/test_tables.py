"""Trap and address-map tables: encoders, binary-search lookups vs brute force, Trap numbering."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwasm.obj.addrmap import decode_address_map, encode_address_map, lookup_file_pos
from cwasm.obj.bti import decode_bti, encode_bti
from cwasm.obj.constants import NO_FILE_POS
from cwasm.obj.elf import ElfFile
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.traps import Trap, decode_traps, encode_traps, lookup_trap_code

from .genuine import artifact

OFFSETS = st.lists(st.integers(0, 5000), unique=True, max_size=60).map(sorted)
PROBES = st.lists(st.integers(0, 5100), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(OFFSETS, st.data(), PROBES)
def test_lookup_trap_code_matches_brute_force(
    offsets: list[int], data: st.DataObject, probes: list[int]
) -> None:
    table = [(o, data.draw(st.sampled_from(list(Trap)))) for o in offsets]
    section = encode_traps(table)
    assert decode_traps(section) == [(o, int(t)) for o, t in table]
    for probe in probes + offsets:
        expected = next((t for o, t in table if o == probe), None)
        assert lookup_trap_code(section, probe) is expected


@settings(max_examples=200, deadline=None)
@given(OFFSETS, st.data(), PROBES)
def test_lookup_file_pos_matches_brute_force(
    offsets: list[int], data: st.DataObject, probes: list[int]
) -> None:
    table = [(o, data.draw(st.none() | st.integers(0, 0xFFFFFFFE))) for o in offsets]
    section = encode_address_map(table)
    assert decode_address_map(section) == [(o, NO_FILE_POS if p is None else p) for o, p in table]
    for probe in probes + offsets:
        at_or_before = [p for o, p in table if o <= probe]
        expected = at_or_before[-1] if at_or_before else None
        assert lookup_file_pos(section, probe) == expected


def test_lookups_on_wasmtime_t28_tables() -> None:
    f = ElfFile.parse(artifact("t28"))
    traps = f.section(".wasmtime.traps")
    addrmap = f.section(".wasmtime.addrmap")
    assert traps is not None and addrmap is not None
    trap_bytes = bytes(f.section_data(traps))
    map_bytes = bytes(f.section_data(addrmap))
    decoded = decode_traps(trap_bytes)
    assert {Trap(c) for _, c in decoded} == {
        Trap.IntegerOverflow,
        Trap.IntegerDivisionByZero,
        Trap.MemoryOutOfBounds,
    }
    for offset, code in decoded:
        assert lookup_trap_code(trap_bytes, offset) == Trap(code)
        assert lookup_trap_code(trap_bytes, offset + 1) is None
    assert encode_traps([(o, Trap(c)) for o, c in decoded]) == trap_bytes
    entries = decode_address_map(map_bytes)
    assert encode_address_map(entries) == map_bytes
    assert entries[0] == (0, NO_FILE_POS)
    for offset, pos in entries:
        assert lookup_file_pos(map_bytes, offset) == (None if pos == NO_FILE_POS else pos)


def test_malformed_tables_look_up_as_none_and_decode_as_errors() -> None:
    good = encode_traps([(4, Trap.StackOverflow), (9, Trap.Interrupt)])
    for bad in (b"", b"\x01\x00", good[:-1], b"\xff\xff\xff\xff" + good[4:]):
        assert lookup_trap_code(bad, 4) is None
        with pytest.raises(CorruptArtifactError):
            decode_traps(bad)
    unknown_code = good[:-1] + b"\xc8"
    assert lookup_trap_code(unknown_code, 9) is None
    amap = encode_address_map([(0, 5), (10, None)])
    for bad in (b"", amap[:-1], b"\x09\x00\x00\x00" + amap[4:]):
        assert lookup_file_pos(bad, 3) is None
        with pytest.raises(CorruptArtifactError):
            decode_address_map(bad)
    assert lookup_file_pos(amap, 12) is None  # the entry at 10 has no position
    assert lookup_file_pos(amap, 9) == 5


def test_encoders_reject_unsorted_or_oversized_entries() -> None:
    with pytest.raises(ValueError, match="ascending"):
        encode_traps([(8, Trap.Interrupt), (8, Trap.Interrupt)])
    with pytest.raises(ValueError, match="ascending"):
        encode_address_map([(8, 1), (4, 2)])
    with pytest.raises(ValueError, match="32 bits"):
        encode_traps([(1 << 32, Trap.Interrupt)])
    with pytest.raises(ValueError, match="32 bits"):
        encode_address_map([(0, 1 << 32)])


def test_trap_numbering_and_messages_follow_wasmtime_v28() -> None:
    assert len(Trap) == 19
    assert Trap(7) is Trap.IntegerDivisionByZero
    assert Trap.IntegerDivisionByZero.message == "integer divide by zero"
    assert Trap(9).message == "wasm `unreachable` instruction executed"
    assert Trap.OutOfFuel == 12 and Trap.CannotEnterComponent == 18
    assert Trap.TableOutOfBounds.message == "undefined element: out of bounds table access"
    assert all(t.message for t in Trap)
    assert Trap.from_code(19) is None and Trap.from_code(0) is Trap.StackOverflow


def test_bti_section() -> None:
    assert encode_bti(True) == b"\x01" and encode_bti(False) == b"\x00"
    assert decode_bti(b"\x00") is False and decode_bti(b"\x05") is True
    for bad in (b"", b"\x00\x00"):
        with pytest.raises(CorruptArtifactError, match="bti"):
            decode_bti(bad)
