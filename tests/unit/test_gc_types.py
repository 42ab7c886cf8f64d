"""The GC proposal's types in the wasm layer: decoding of recursion groups, subtypes,
structs and arrays; the heap-type lattice; iso-recursive equivalence; validation of the
type section and of GC instructions; the ``gc`` feature check; the artifact info round
trip of GC types."""

from __future__ import annotations

import pytest
import wasmtime

from cwasm.errors import InvalidError
from cwasm.obj.info.codec import INFO_FIELDS
from cwasm.obj.info.decoding import InfoDecoder
from cwasm.obj.postcard import Writer
from cwasm.wasm import decode_module
from cwasm.wasm.features import check_features
from cwasm.wasm.gc_types import I8, ArrayType, FieldType, StructType, SubType
from cwasm.wasm.operators import BY_NAME, OPERATORS
from cwasm.wasm.types import (
    CONCRETE_HEAP,
    FuncType,
    HeapType,
    ValType,
    heap_subtype,
    ref_type,
    val_subtype,
)
from tests.unit.test_decoder import wat

H = HeapType

MODULE = """
(module
  (rec
    (type $node (sub (struct (field $next (ref null $node)) (field (mut i8)))))
    (type $f (func (param (ref $node)) (result i32))))
  (type $leaf (sub final $node (struct (field (ref null $node)) (field (mut i8)) (field f64))))
  (type $bytes (array (mut i8)))
  (type $plain (func))
)
"""


def test_decoding_keeps_groups_supertypes_and_fields() -> None:
    m = decode_module(wat(MODULE)).module
    node = ref_type(True, CONCRETE_HEAP + 0)
    assert m.types[0] == StructType((FieldType(node, False), FieldType(I8, True)))
    assert m.types[1] == FuncType((ref_type(False, CONCRETE_HEAP + 0),), (ValType.I32,))
    assert m.types[3] == ArrayType(FieldType(I8, True))
    assert m.sub_types == (
        SubType(-1, False, 0, 2),
        SubType(-1, True, 0, 2),
        SubType(0, True, 2, 1),
        SubType(-1, True, 3, 1),
        SubType(-1, True, 4, 1),
    )


def test_a_2_0_module_has_no_sub_types() -> None:
    assert decode_module(wat("(module (type (func)) (type (func)))")).module.sub_types == ()


def test_gc_instructions_are_in_the_operator_table() -> None:
    assert BY_NAME["ref.eq"] == 0xD3
    names = {info.name for info in OPERATORS if info is not None and info.prefix == 0xFB}
    assert {"struct.new", "array.copy", "br_on_cast_fail", "i31.get_u", "ref.cast_null"} <= names
    assert len(names) == 31


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (H.I31, H.EQ, True),
        (H.STRUCT, H.ANY, True),
        (H.NONE, H.ARRAY, True),
        (H.EQ, H.I31, False),
        (H.NONE, H.FUNC, False),
        (H.NOFUNC, H.ANY, False),
        (H.NOEXTERN, H.EXTERN, True),
        (H.ANY, H.EXTERN, False),
    ],
)
def test_the_abstract_heap_lattice(a: int, b: int, expected: bool) -> None:
    assert heap_subtype(a, b) is expected


def test_concrete_types_sit_below_their_kind_and_declared_supertypes() -> None:
    m = decode_module(wat(MODULE)).module
    canon = m.type_canon()
    node, f, leaf, arr = (CONCRETE_HEAP + i for i in range(4))
    assert heap_subtype(leaf, node, canon)
    assert not heap_subtype(node, leaf, canon)
    assert heap_subtype(leaf, H.STRUCT, canon) and heap_subtype(arr, H.EQ, canon)
    assert not heap_subtype(arr, H.STRUCT, canon)
    assert heap_subtype(f, H.FUNC, canon) and not heap_subtype(f, H.ANY, canon)
    assert heap_subtype(H.NONE, leaf, canon) and not heap_subtype(H.NOFUNC, leaf, canon)
    assert heap_subtype(H.NOFUNC, f, canon)
    nullable_leaf = int(ref_type(True, leaf))
    assert val_subtype(nullable_leaf, int(ref_type(True, H.ANY)), canon)
    assert not val_subtype(nullable_leaf, int(ref_type(False, node)), canon)


def test_equal_recursion_groups_are_equivalent_types() -> None:
    m = decode_module(
        wat(
            """(module
              (rec (type $a (struct (field (ref null $b)))) (type $b (struct (field i32))))
              (rec (type $c (struct (field (ref null $d)))) (type $d (struct (field i32))))
              (rec (type $e (struct (field (ref null $e)))))
              (type $g (struct (field i32))))"""
        )
    ).module
    # the groups at 0 and 2 are the same; $g (alone) differs from $b (second of a pair)
    assert m.type_canon() == (0, 1, 0, 1, 4, 5)


INVALID = [
    ("(module (type $a (struct)) (type (sub $a (struct))))", "sub type"),
    (
        "(module (type $a (sub (struct (field i32)))) (type (sub $a (struct (field i64)))))",
        "sub type",
    ),
    ("(module (type $a (sub (array (mut i32)))) (type (sub $a (array i32))))", "sub type"),
    ("(module (type $a (sub (func))) (type (sub $a (struct))))", "sub type"),
    ("(module (type (struct (field (ref 1)))))", "unknown type"),
    (
        "(module (type $s (struct (field i32))) (func (param (ref $s)) (struct.set $s 0"
        " (local.get 0) (i32.const 1))))",
        "immutable field",
    ),
    (
        "(module (type $a (array i8)) (func (param (ref $a)) (result i32)"
        " (array.get $a (local.get 0) (i32.const 0))))",
        "type mismatch",
    ),
    ("(module (func (result anyref) (ref.i31 (i64.const 0))))", "type mismatch"),
    ("(module (func (param externref) (result eqref) (local.get 0)))", "type mismatch"),
    (
        "(module (type $a (array (mut i8))) (type $b (array (mut i16))) (func (param (ref $a)"
        " (ref $b)) (array.copy $a $b (local.get 0) (i32.const 0) (local.get 1) (i32.const 0)"
        " (i32.const 0))))",
        "array types do not match",
    ),
    ("(module (global (ref i31) (ref.i31 (global.get 0))))", "unknown global"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_gc_modules_get_the_reference_interpreters_wording(text: str, message: str) -> None:
    with pytest.raises(InvalidError) as info:
        decode_module(wat(text))
    assert info.value.message.startswith(message)


VALID = [
    "(module (type $a (sub (struct (field i32)))) (type (sub $a (struct (field i32) (field f32)))))",
    "(module (global (ref i31) (ref.i31 (i32.const 7))) (global externref"
    " (extern.convert_any (ref.null none))))",
    "(module (type $p (struct (field i8) (field (mut f64)))) (global (ref $p)"
    " (struct.new $p (i32.const 1) (f64.const 2))))",
    "(module (func (param anyref) (result i32) (ref.test (ref i31) (local.get 0))))",
    "(module (func (param anyref) (result (ref null struct)) (ref.cast (ref null struct)"
    " (local.get 0))))",
    "(module (func (param anyref) (result anyref) (block $l (result anyref)"
    " (br_on_cast $l anyref (ref eq) (local.get 0)))))",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_gc_modules_validate_as_in_wasmtime(text: str) -> None:
    decode_module(wat(text))  # raises if invalid


def test_the_gc_feature_check_refuses_gc_with_wasmparsers_wording() -> None:
    def refusal(text: str) -> str:
        with pytest.raises(InvalidError) as info:
            check_features(decode_module(wat(text)), {"function_references", "reference_types"})
        return info.value.message

    assert refusal("(module (rec (type (func)) (type (func))))").startswith("rec group usage")
    assert refusal("(module (type (sub (func))))").startswith("gc proposal must be enabled")
    assert refusal("(module (type (struct)))").startswith("struct indexed types")
    assert refusal("(module (func (param anyref)))").startswith("heap types not supported")
    assert (
        refusal("(module (func (result i32) (i31.get_s (ref.i31 (i32.const 1)))))")
        == "gc support is not enabled"
    )


def test_gc_is_on_by_default_in_cwasm_and_off_in_wasmtime_28() -> None:
    import cwasm

    wasm = wat("(module (type (struct (field i32))))")
    with pytest.raises(wasmtime.WasmtimeError):  # Wasmtime 28 has GC off by default
        wasmtime.Module(wasmtime.Engine(), wasm)
    assert cwasm.Config().wasm_gc is True  # on with the rest of 3.0 (issue 15)
    assert "gc" in cwasm.Engine().wasm_features
    cwasm.Module(cwasm.Engine(), wasm)
    config = cwasm.Config()
    config.wasm_gc = False
    with pytest.raises(cwasm.WasmtimeError, match="struct indexed types"):
        cwasm.Module(cwasm.Engine(config), wasm)


def test_the_gc_switch_is_recorded_in_artifacts_and_cache_keys() -> None:
    import cwasm
    from cwasm.cache import cache_key

    config = cwasm.Config()
    config.wasm_gc = False
    off = cwasm.Engine(config)
    assert "gc" not in off.wasm_features
    wasm = wat('(module (func (export "f") (result i32) (i32.const 1)))')
    data = cwasm.Module(cwasm.Engine(), wasm).serialize()
    with pytest.raises(cwasm.WasmtimeError, match="wasm_features"):
        cwasm.Module.deserialize(off, data)
    assert cache_key(off, wasm) != cache_key(cwasm.Engine(), wasm)


def test_gc_types_survive_the_artifact_info_encoding() -> None:
    m = decode_module(wat(MODULE)).module
    fields = {f.path: f for f in INFO_FIELDS}
    for path, value in (("module.types", m.types), ("module.sub_types", m.sub_types)):
        w = Writer()
        fields[path].write(w, value)
        assert fields[path].read(InfoDecoder(w.getvalue())) == value


def test_inspect_shows_recursion_groups_and_subtypes() -> None:
    from cwasm.wasm.summary import type_texts

    assert type_texts(decode_module(wat(MODULE)).module) == [
        "rec 1/2 of 0 sub: (struct (field (ref null 0)) (field (mut i8)))",
        "rec 2/2 of 0: func((ref 0)) -> (i32)",
        "sub final 0: (struct (field (ref null 0)) (field (mut i8)) (field f64))",
        "(array (mut i8))",
        "func() -> ()",
    ]
