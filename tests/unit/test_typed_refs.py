"""Typed function references (Wasm 3.0) in the wasm layer: the reference type
representation, subtyping, type equivalence, decoding (``0x63``/``0x64`` value types,
tables with initializers, block types), validation (``call_ref``, ``br_on_null``,
``br_on_non_null``, ``ref.as_non_null``, the local initialization rule), the
``function_references`` feature check, and the artifact info round trip."""

from __future__ import annotations

import pytest

from cwasm.errors import InvalidError
from cwasm.obj.info.codec import _w_valtype
from cwasm.obj.info.decoding import InfoDecoder
from cwasm.obj.postcard import Writer
from cwasm.wasm import decode_module
from cwasm.wasm.features import CHECKED_FEATURES, check_features
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import (
    CONCRETE_HEAP,
    FuncType,
    HeapType,
    RefType,
    ValType,
    canonical_types,
    close_func_type,
    ref_type,
    val_subtype,
    val_type,
)
from tests.unit.test_decoder import wat

FUNC, EXTERN = HeapType.FUNC, HeapType.EXTERN
NOFUNC, NOEXTERN = HeapType.NOFUNC, HeapType.NOEXTERN


def concrete(index: int, *, nullable: bool = False) -> int:
    return int(ref_type(nullable, CONCRETE_HEAP + index))


# -- representation -------------------------------------------------------------------


def test_nullable_abstract_references_are_the_2_0_value_types() -> None:
    assert ref_type(True, FUNC) is ValType.FUNCREF
    assert ref_type(True, EXTERN) is ValType.EXTERNREF
    assert val_type(0x70) is ValType.FUNCREF


@pytest.mark.parametrize(
    ("nullable", "heap", "text"),
    [
        (False, FUNC, "(ref func)"),
        (False, EXTERN, "(ref extern)"),
        (True, NOFUNC, "nullfuncref"),
        (False, NOEXTERN, "(ref noextern)"),
        (False, CONCRETE_HEAP + 3, "(ref 3)"),
        (True, CONCRETE_HEAP + 70000, "(ref null 70000)"),
    ],
)
def test_ref_types_are_ints_that_keep_their_parts(nullable: bool, heap: int, text: str) -> None:
    t = ref_type(nullable, heap)
    assert isinstance(t, RefType) and isinstance(t, int)
    assert (t.nullable, t.heap, t.text, t.is_ref) == (nullable, heap, text, True)
    assert t.is_defaultable == nullable
    assert val_type(int(t)) == t  # the int code round-trips
    assert int(t) not in {int(v) for v in ValType}  # never one of the 2.0 codes


def test_top_is_the_representation_of_the_values() -> None:
    assert ref_type(False, CONCRETE_HEAP).top is ValType.FUNCREF
    assert ref_type(True, NOFUNC).top is ValType.FUNCREF
    assert ref_type(False, EXTERN).top is ValType.EXTERNREF
    assert ValType.I32.top is ValType.I32


# -- subtyping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "sup", "expected"),
    [
        (concrete(0), ValType.FUNCREF, True),  # a concrete function type is below func
        (concrete(0), int(ref_type(False, FUNC)), True),
        (ValType.FUNCREF, concrete(0, nullable=True), False),
        (concrete(0), concrete(0, nullable=True), True),  # non-null below nullable
        (concrete(0, nullable=True), concrete(0), False),
        (int(ref_type(True, NOFUNC)), concrete(0, nullable=True), True),  # the bottoms
        (int(ref_type(True, NOFUNC)), ValType.FUNCREF, True),
        (int(ref_type(False, NOEXTERN)), ValType.EXTERNREF, True),
        (int(ref_type(True, NOFUNC)), ValType.EXTERNREF, False),
        (ValType.EXTERNREF, ValType.FUNCREF, False),
        (ValType.I32, ValType.I64, False),
        (ValType.I32, ValType.I32, True),
        (concrete(0), ValType.I32, False),
    ],
)
def test_subtyping(sub: int, sup: int, expected: bool) -> None:
    assert val_subtype(sub, sup) is expected


def test_equivalent_type_indices_match_through_the_canonical_map() -> None:
    types = [
        FuncType((ValType.I32,), ()),
        FuncType((ValType.I32,), ()),  # equal to 0
        FuncType((ref_type(False, CONCRETE_HEAP + 0),), ()),
        FuncType((ref_type(False, CONCRETE_HEAP + 1),), ()),  # equal to 2 through 0 ~ 1
        FuncType((ValType.I64,), ()),
    ]
    canon = canonical_types(types)
    assert canon == (0, 0, 2, 2, 4)
    assert val_subtype(concrete(1), concrete(0), canon)
    assert val_subtype(concrete(3), concrete(2, nullable=True), canon)
    assert not val_subtype(concrete(4), concrete(0), canon)


def test_canonical_map_without_type_references_maps_equal_types_to_the_first() -> None:
    """The quick path (no parameter or result names a type index) gives what the general
    rule gives: each type maps to the first index of an equal type; abstract typed
    references such as ``(ref func)`` name no index and stay on that path."""
    types = [
        FuncType((ValType.I32,), (ValType.I64,)),
        FuncType((ref_type(False, FUNC),), ()),
        FuncType((ValType.I32,), (ValType.I64,)),
        FuncType((ref_type(False, FUNC),), ()),
        FuncType((ref_type(True, FUNC),), ()),
        FuncType((), ()),
    ]
    first = {}
    expected = tuple(first.setdefault(ft, i) for i, ft in enumerate(types))
    assert canonical_types(types) == expected
    # one reference to a type index anywhere takes the general path, with the same result
    # for the reference-free types
    with_ref = [*types, FuncType((), (ref_type(False, CONCRETE_HEAP + 2),))]
    assert canonical_types(with_ref)[: len(types)] == expected
    assert all(close_func_type(ft, i, list(range(i))) is ft for i, ft in enumerate(types))


def test_closed_types_agree_across_modules() -> None:
    """A module's types closed over engine-wide ids (see ``Engine.type_ids_for``): the
    same structure gives the same closed type whatever the indices."""
    a = [FuncType((), ()), FuncType((ref_type(False, CONCRETE_HEAP + 0),), ())]
    b = [FuncType((ValType.I32,), ()), FuncType((), ()), FuncType((concrete_t(1),), ())]
    ids_a = [10, 11]  # engine ids of a's types
    ids_b = [12, 10, 13]
    assert close_func_type(a[1], 1, ids_a) == close_func_type(b[2], 2, ids_b)
    self_ref = FuncType((concrete_t(0),), ())
    assert close_func_type(self_ref, 0, []) == close_func_type(self_ref, 0, [])


def concrete_t(index: int) -> RefType:
    t = ref_type(False, CONCRETE_HEAP + index)
    assert isinstance(t, RefType)
    return t


# -- decoding -------------------------------------------------------------------------

MODULE = """
(module
  (type $t (func (param i32) (result i32)))
  (func $f (type $t) (local.get 0))
  (global $g (ref $t) (ref.func $f))
  (table $tab 2 (ref $t) (ref.func $f))
  (table $nul 1 (ref null $t))
  (elem declare func $f)
  (func (export "run") (param (ref null $t)) (result i32)
    (local $l (ref $t))
    (local.set $l (ref.as_non_null (local.get 0)))
    (block $null (result i32)
      (br_on_null $null (i32.const 7) (local.get 0))
      (drop)
      (drop)
      (call_ref $t (i32.const 1) (local.get $l))))
)
"""


def test_decoded_module_keeps_typed_references() -> None:
    m = decode_module(wat(MODULE)).module
    ref_t = ref_type(False, CONCRETE_HEAP + 0)
    assert m.globals[0].content == ref_t
    assert [t.element for t in m.tables] == [ref_t, ref_type(True, CONCRETE_HEAP + 0)]
    assert m.table_inits[0] is not None and m.table_init(1) is None
    assert m.types[1].params == (ref_type(True, CONCRETE_HEAP + 0),)


def test_value_type_encodings() -> None:
    from cwasm.wasm.operators import read_blocktype, read_value_type

    assert read_value_type(BinaryReader(b"\x64\x70")) == ref_type(False, FUNC)
    assert read_value_type(BinaryReader(b"\x63\x05")) == ref_type(True, CONCRETE_HEAP + 5)
    assert read_value_type(BinaryReader(b"\x63\x70")) is ValType.FUNCREF  # one form
    assert read_value_type(BinaryReader(b"\x73")) == ref_type(True, NOFUNC)
    assert read_blocktype(BinaryReader(b"\x64\x00")) == -concrete(0)


def test_info_codec_round_trips_value_types() -> None:
    types = [ValType.I32, ValType.FUNCREF, ref_type(False, CONCRETE_HEAP + 300)]
    types += [ref_type(True, NOEXTERN), ref_type(False, EXTERN)]
    w = Writer()
    w.seq(types, lambda t: _w_valtype(w, t))
    assert InfoDecoder(w.getvalue()).valtypes() == tuple(types)


# -- validation -----------------------------------------------------------------------


def _invalid(text: str) -> str:
    with pytest.raises(InvalidError) as info:
        decode_module(wat(text))
    return info.value.message


def test_local_initialization_rule() -> None:
    ok = """(module (func (param $p (ref extern)) (local $x (ref extern))
        (local.set $x (local.get $p)) (block (drop (local.get $x))) (drop (local.get $x))))"""
    decode_module(wat(ok))
    after_block = """(module (func (param $p (ref extern)) (local $x (ref extern))
        (block (local.set $x (local.get $p))) (drop (local.get $x))))"""
    assert _invalid(after_block) == "uninitialized local"
    in_else = """(module (func (param $p (ref extern)) (local $x (ref extern))
        (if (i32.const 1) (then (local.set $x (local.get $p)))
          (else (drop (local.get $x))))))"""
    assert _invalid(in_else) == "uninitialized local"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("(call_ref 5 (ref.null func))", "unknown type 5"),
        ("(call_ref $t (ref.null extern))", "type mismatch"),
        ("(drop (ref.as_non_null (i32.const 0)))", "type mismatch"),
        ("(drop (block (result i32) (br_on_non_null 0 (ref.null func))))", "type mismatch"),
    ],
)
def test_invalid_uses(body: str, message: str) -> None:
    text = f"(module (type $t (func)) (func {body}))"
    assert _invalid(text) == message


def test_non_nullable_table_needs_an_initializer() -> None:
    assert _invalid("(module (type $t (func)) (table 1 (ref $t)))") == "type mismatch"


def test_feature_off_refuses_with_wasmparser_wording() -> None:
    translation = decode_module(wat(MODULE))
    without = set(CHECKED_FEATURES) - {"function_references"}
    check_features(translation, CHECKED_FEATURES)
    with pytest.raises(InvalidError, match="function references required"):
        check_features(translation, without)
    funcref_only = decode_module(
        wat("(module (func (param funcref) (drop (ref.as_non_null (local.get 0)))))")
    )
    with pytest.raises(InvalidError, match="function references support is not enabled"):
        check_features(funcref_only, without)
