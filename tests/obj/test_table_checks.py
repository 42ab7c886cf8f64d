"""The bulk load-time checks of the trap and address tables agree with a per-entry reference."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwasm.obj.addrmap import check_address_map
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.offset_table import strictly_ascending
from cwasm.obj.traps import Trap, check_trap_table

U32 = st.integers(0, 0xFFFFFFFF)
SMALL = st.integers(0, 300)


def reference_problem(offsets: list[int], codes: list[int] | None, text_size: int) -> str | None:
    """What a plain loop over the entries finds wrong first (None: the table is fine)."""
    for a, b in zip(offsets, offsets[1:], strict=False):
        if a >= b:
            return "ascending"
    if offsets and offsets[-1] >= text_size:
        return "outside `.text`"
    for o, c in zip(offsets, codes or [], strict=codes is not None):
        if c >= len(Trap):
            return f"unknown trap code {c} at text offset {o:#x}"
    return None


def check(fn: object, section: bytes, text_size: int, problem: str | None) -> None:
    assert callable(fn)
    if problem is None:
        fn(section, text_size)
    else:
        with pytest.raises(CorruptArtifactError, match=problem):
            fn(section, text_size)


@settings(max_examples=300, deadline=None)
@given(st.lists(SMALL | U32, max_size=40), st.data(), SMALL | U32)
def test_trap_table_check_matches_reference(
    offsets: list[int], data: st.DataObject, text_size: int
) -> None:
    codes = [data.draw(st.integers(0, len(Trap) + 2)) for _ in offsets]
    section = struct.pack(f"<I{len(offsets)}I", len(offsets), *offsets) + bytes(codes)
    check(check_trap_table, section, text_size, reference_problem(offsets, codes, text_size))


@settings(max_examples=300, deadline=None)
@given(st.lists(SMALL | U32, max_size=40), SMALL | U32)
def test_address_map_check_matches_reference(offsets: list[int], text_size: int) -> None:
    n = len(offsets)
    section = struct.pack(f"<I{n}I{n}I", n, *offsets, *range(n))
    check(check_address_map, section, text_size, reference_problem(offsets, None, text_size))


@pytest.mark.parametrize(
    ("values", "expected"),
    [((), True), ((5,), True), ((1, 2, 3), True), ((1, 1), False), ((2, 1), False)],
)
def test_strictly_ascending(values: tuple[int, ...], expected: bool) -> None:
    assert strictly_ascending(values) is expected


def test_size_mismatch_is_reported() -> None:
    with pytest.raises(CorruptArtifactError, match="claims 2 entries"):
        check_trap_table(struct.pack("<IIB", 2, 8, 1), 64)
    with pytest.raises(CorruptArtifactError, match="too small"):
        check_address_map(b"\1", 64)
    with pytest.raises(CorruptArtifactError, match="claims 1 entries"):
        check_address_map(struct.pack("<II", 1, 0), 64)
