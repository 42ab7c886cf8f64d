"""GC object layouts (``cwasm.abi.gc_layout``): every struct field naturally aligned,
in declaration order, without overlap and inside the object; references where the
collector looks; array elements after the u32 length; the store-context slots and the
``GC_ALLOC`` builtin of the contract."""

from __future__ import annotations

import itertools

import pytest

from cwasm.abi import vmoffsets as vo
from cwasm.abi.builtins import NUM_BUILTIN_SLOTS, Builtin
from cwasm.abi.gc_layout import (
    ARRAY_LENGTH,
    MAX_ARRAY_BYTES,
    OBJ_ALIGN,
    OBJ_GC_BITS,
    OBJ_HEADER_SIZE,
    OBJ_TYPE_ID,
    array_layout,
    is_ref_field,
    storage_size,
    struct_layout,
)
from cwasm.wasm.gc_types import I8, I16, ArrayType, FieldType, StructType
from cwasm.wasm.types import ANYREF, HeapType, ValType, ref_type

STORAGE = (I8, I16, ValType.I32, ValType.I64, ValType.F32, ValType.F64, ValType.V128, ANYREF)
SIZES = {I8: 1, I16: 2, ValType.I32: 4, ValType.F32: 4, ValType.I64: 8, ValType.F64: 8}


def _fields(kinds: tuple[int, ...]) -> StructType:
    return StructType(tuple(FieldType(k, mutable=bool(i % 2)) for i, k in enumerate(kinds)))


@pytest.mark.parametrize("kinds", list(itertools.product(STORAGE, repeat=3)))
def test_struct_fields_are_aligned_ordered_disjoint_and_inside(kinds: tuple[int, ...]) -> None:
    st = _fields(kinds)
    lay = struct_layout(st)
    assert lay.size % OBJ_ALIGN == 0
    end = OBJ_HEADER_SIZE
    for f, off in zip(st.fields, lay.offsets, strict=True):
        size = storage_size(f)
        assert size == SIZES.get(int(f.storage), 16 if f.storage == ValType.V128 else 8)
        assert off >= end and off % min(size, 8) == 0
        end = off + size
    assert end <= lay.size < end + OBJ_ALIGN
    assert lay.ref_offsets == tuple(
        off for f, off in zip(st.fields, lay.offsets, strict=True) if f.storage == ANYREF
    )


def test_the_header_holds_the_type_id_and_the_collector_bits() -> None:
    assert (OBJ_TYPE_ID, OBJ_GC_BITS) == (0, 4) and OBJ_HEADER_SIZE == 8
    assert struct_layout(StructType(())).size == OBJ_HEADER_SIZE


@pytest.mark.parametrize("kind", STORAGE)
def test_array_elements_follow_the_length_aligned(kind: int) -> None:
    lay = array_layout(ArrayType(FieldType(kind, mutable=True)))
    size = lay.element_size
    assert lay.elements_offset >= ARRAY_LENGTH + 4
    assert lay.elements_offset % min(size, 8) == 0 and lay.elements_offset < ARRAY_LENGTH + 4 + 8
    for n in (0, 1, 3, 17):
        assert lay.size(n) % OBJ_ALIGN == 0
        assert lay.elements_offset + n * size <= lay.size(n) < lay.elements_offset + n * size + 8
    assert lay.size(lay.max_length()) <= MAX_ARRAY_BYTES + OBJ_ALIGN
    assert lay.element_is_ref == (kind == ANYREF)


def test_every_reference_type_is_a_word_the_collector_follows() -> None:
    for t in (ANYREF, ref_type(False, HeapType.I31), ValType.EXTERNREF, ValType.FUNCREF):
        f = FieldType(t, mutable=False)
        assert is_ref_field(f) and storage_size(f) == 8
    assert not is_ref_field(FieldType(I8, mutable=False))


def test_the_store_context_has_the_heap_and_root_chain_slots() -> None:
    slots = (vo.STORE_GC_NEXT, vo.STORE_GC_END, vo.STORE_GC_ROOTS)
    assert len(set(slots)) == 3 and all(s % 8 == 0 for s in slots)
    assert max(slots) + 8 <= vo.STORE_SIZE
    assert min(slots) >= vo.STORE_FRAMES + vo.MAX_FRAMES * 8  # after the backtrace buffer


def test_gc_alloc_is_a_python_builtin_with_its_own_slot() -> None:
    assert Builtin.GC_ALLOC.in_python
    assert 0 <= Builtin.GC_ALLOC < NUM_BUILTIN_SLOTS
    assert Builtin.GC_ALLOC.param_names[1:3] == ("type_index", "size")
