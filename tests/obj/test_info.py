"""``.wasmtime.info``: round trips, version checks, consistency checks, garbage rejection."""

from __future__ import annotations

import dataclasses
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwasm.obj.builder import ObjectBuilder
from cwasm.obj.constants import EM_X86_64
from cwasm.obj.elfwriter import ElfWriter
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.info import (
    INFO_FIELDS,
    INFO_FORMAT_VERSION,
    CompiledFunctionInfo,
    CompiledModuleInfo,
    DataRange,
    FunctionLoc,
    FunctionName,
    FunctionTable,
    MemoryInitializer,
    Metadata,
    NameTable,
    SegmentedMemoryInitialization,
    StaticMemoryInitialization,
    StaticMemoryInitializer,
    TrampolineTable,
    check_info,
    check_module,
    decode_info,
    encode_info,
)
from cwasm.obj.postcard import Writer
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import (
    ConstExpr,
    ConstOp,
    ConstOpKind,
    ElementSegment,
    Export,
    ExternKind,
    SegmentMode,
    ValType,
)

from .strategies import compiled_code, translations


@st.composite
def infos(draw: st.DrawFn) -> CompiledModuleInfo:
    t: ModuleTranslation = draw(translations())
    code = draw(compiled_code(t.module))
    builder = ObjectBuilder(ElfWriter(EM_X86_64), triple="x86_64-unknown-linux-gnu")
    # the module's data after some other module's, as in a multi-module artifact
    builder.writer.append_section_data(builder.data, bytes(draw(st.integers(0, 1 << 20))), 1)
    placed = builder.append(t, code.funcs, code.wasm_to_array_trampolines)
    names = tuple(
        FunctionName(i, draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)))
        for i in sorted(t.names.functions)
    )
    meta = Metadata(
        has_unparsed_debuginfo=draw(st.booleans()),
        code_section_offset=draw(st.integers(0, 2**64 - 1)),
        has_wasm_debuginfo=draw(st.booleans()),
        is_pulley=draw(st.booleans()),
        dwarf=tuple(
            (sid, DataRange(a, a + n))
            for sid, a, n in draw(
                st.lists(st.tuples(st.integers(0, 21), st.integers(0, 2**40), st.integers(0, 99)))
            )
        ),
    )
    return dataclasses.replace(placed, func_names=names, meta=meta)


@settings(max_examples=60, deadline=None)
@given(infos())
def test_info_round_trips(info: CompiledModuleInfo) -> None:
    check_info(info)
    data = encode_info(info)
    assert decode_info(data) == info
    assert decode_info(memoryview(data)) == info


@settings(max_examples=60, deadline=None)
@given(infos(), st.data())
def test_damaged_info_raises_only_corrupt_artifact_error(
    info: CompiledModuleInfo, data: st.DataObject
) -> None:
    raw = bytearray(encode_info(info))
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(CorruptArtifactError):
        decode_info(bytes(raw[:cut]))
    with pytest.raises(CorruptArtifactError, match="trailing"):
        decode_info(bytes(raw) + b"\0")
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] ^= data.draw(st.integers(1, 255))
    try:
        decoded = decode_info(bytes(raw))
    except CorruptArtifactError:
        return
    try:
        check_info(decoded)
    except CorruptArtifactError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(raw: bytes) -> None:
    try:
        decode_info(raw)
    except CorruptArtifactError:
        pass


def test_other_format_versions_are_rejected_clearly() -> None:
    data = encode_info(CompiledModuleInfo())
    assert data[0] == INFO_FORMAT_VERSION
    for version in (0, INFO_FORMAT_VERSION - 1, INFO_FORMAT_VERSION + 1, 300):
        w = Writer()
        w.varint(version)
        with pytest.raises(CorruptArtifactError, match=f"format version {version}"):
            decode_info(w.getvalue() + data[1:])


def test_constant_expressions_keep_every_value() -> None:
    ops = (
        ConstOp(ConstOpKind.I32_CONST, -(2**31)),
        ConstOp(ConstOpKind.I64_CONST, 2**63 - 1),
        ConstOp(ConstOpKind.F64_CONST, 2**64 - 1),
        ConstOp(ConstOpKind.V128_CONST, 2**128 - 1),
        ConstOp(ConstOpKind.REF_NULL, int(ValType.EXTERNREF)),
    )
    module = ModuleRecord(
        functions=(),
        elements=(
            ElementSegment(
                SegmentMode.PASSIVE,
                ValType.EXTERNREF,
                expressions=tuple(ConstExpr((op,), 7) for op in ops),
            ),
        ),
    )
    info = CompiledModuleInfo(module)
    assert decode_info(encode_info(info)) == info


def test_every_field_is_encoded_once() -> None:
    """A new field of the record or of the info needs its ``INFO_FIELDS`` entry."""
    paths = [f.path for f in INFO_FIELDS]
    record = [f"module.{f.name}" for f in dataclasses.fields(ModuleRecord)]
    own = [f.name for f in dataclasses.fields(CompiledModuleInfo) if f.name != "module"]
    assert sorted(paths) == sorted(record + own)


def _changed(info: CompiledModuleInfo, change: dict[str, object]) -> CompiledModuleInfo:
    """``info`` with fields replaced: ``module.<field>`` ones in its record."""
    record = {k.removeprefix("module."): v for k, v in change.items() if k.startswith("module.")}
    own = {k: v for k, v in change.items() if not k.startswith("module.")}
    module = dataclasses.replace(info.module, **record)  # type: ignore[arg-type]
    return dataclasses.replace(info, module=module, **own)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"module.functions": (3,)}, "type index 3"),
        ({"module.exports": (Export("x", ExternKind.FUNC, 0),)}, "missing func 0"),
        ({"module.start": 0}, "start function"),
        ({"module.num_imported_funcs": 1}, "0 func imports, but 1"),
        ({"module.global_inits": (ConstExpr(()),)}, "global initializers"),
        ({"passive_data": ((0, DataRange(0, 1)),)}, "passive data index 0"),
        ({"memory_initialization": StaticMemoryInitialization((None,))}, "memory images"),
        (
            {
                "module.elements": (
                    ElementSegment(SegmentMode.PASSIVE, ValType.FUNCREF, functions=(0,)),
                )
            },
            "missing function 0",
        ),
    ],
)
def test_consistency_check_names_the_problem(change: dict[str, object], message: str) -> None:
    base = CompiledModuleInfo()
    check_info(base)
    with pytest.raises(CorruptArtifactError, match=message):
        check_info(_changed(base, change))
    if all(k.startswith("module.") for k in change):
        with pytest.raises(CorruptArtifactError, match=message):
            check_module(_changed(base, change).module)


def test_segment_targeting_missing_memory_is_inconsistent() -> None:
    i32 = ConstExpr((ConstOp(ConstOpKind.I32_CONST, 0),))
    segment = MemoryInitializer(0, i32, DataRange(0, 1))
    info = CompiledModuleInfo(memory_initialization=SegmentedMemoryInitialization((segment,)))
    with pytest.raises(CorruptArtifactError, match="missing memory 0"):
        check_info(info)


def test_compiled_tables_must_match_the_module() -> None:
    module = ModuleRecord()
    loc = FunctionLoc(0, 4)
    with pytest.raises(CorruptArtifactError, match="compiled functions"):
        check_info(CompiledModuleInfo(module, funcs=(CompiledFunctionInfo(0, loc),)))
    with pytest.raises(CorruptArtifactError, match="function name"):
        check_info(CompiledModuleInfo(module, func_names=(FunctionName(0, 0, 1),)))
    with pytest.raises(CorruptArtifactError, match="trampoline"):
        check_info(CompiledModuleInfo(module, wasm_to_array_trampolines=((0, loc),)))
    static = StaticMemoryInitializer(0, DataRange(0, 0x1000))
    assert static.data.end == 0x1000 and len(static.data) == 0x1000


def test_passive_data_lookup() -> None:
    passive = ((1, DataRange(0, 4)), (4, DataRange(4, 9)))
    info = CompiledModuleInfo(passive_data=passive, num_data=6)
    assert info.passive_data_range(4) == DataRange(4, 9)
    assert info.passive_data_range(1) == DataRange(0, 4)
    assert info.passive_data_range(0) is None and info.passive_data_range(5) is None


def test_packed_tables_read_in_bulk_equal_their_records() -> None:
    """The per-function tables decode as packed rows that compare, index, slice and
    iterate like the tuples of records they were written from."""
    funcs = (
        CompiledFunctionInfo(0x41, FunctionLoc(0, 100), FunctionLoc(256, 60)),
        CompiledFunctionInfo(0x60, FunctionLoc(128, 100)),
    )
    names = (FunctionName(0, 0, 5), FunctionName(3, 5, 2))
    w2a = ((0, FunctionLoc(320, 80)),)
    table = FunctionTable.of(funcs)
    assert table == funcs and funcs == table and list(table) == list(funcs)
    assert table[1] == funcs[1] and table[-1] == funcs[-1] and table[:1] == funcs[:1]
    assert hash(table) == hash(funcs)
    assert FunctionTable.from_bytes(table.to_bytes()) == table
    assert list(table.column(1)) == [0, 128] and list(table.column(4)) == [60, 0]
    assert [table.index_at(o) for o in (0, 99, 100, 128, 227, 228)] == [0, 0, None, 1, 1, None]
    assert NameTable.of(names).find(3) == names[1] and NameTable.of(names).find(1) is None
    assert TrampolineTable.of(w2a) == w2a
    with pytest.raises(IndexError):
        table[2]
    # a partial row, or an absent trampoline with a start, stands for no record
    for raw in (table.to_bytes()[:-4], struct.pack("<5I", 1, 0, 4, 8, 0)):
        with pytest.raises(ValueError):
            FunctionTable.from_bytes(raw)
    with pytest.raises(ValueError, match="length 0"):
        FunctionTable.of((CompiledFunctionInfo(0, FunctionLoc(0, 4), FunctionLoc(8, 0)),))


def test_a_corrupt_packed_table_is_a_corrupt_info() -> None:
    info = CompiledModuleInfo(funcs=(CompiledFunctionInfo(0x41, FunctionLoc(0, 4)),))
    data = encode_info(info)
    assert decode_info(data) == info
    row = struct.pack("<5I", 0x41, 0, 4, 0, 0)
    assert data.count(row) == 1
    bad = data.replace(row, struct.pack("<5I", 0x41, 0, 4, 16, 0))
    with pytest.raises(CorruptArtifactError, match="absent trampoline has a start"):
        decode_info(bad)


def test_type_section_read_in_one_slice_equals_the_general_reader() -> None:
    """``deftypes`` reads a one-byte-coded function type from one slice and any other
    (a typed reference, a struct or array type) through ``deftype``; both give the
    record's types, and an unknown value-type code on the quick path is a corrupt info."""
    from cwasm.obj.info.codec import _w_deftype
    from cwasm.obj.info.decoding import InfoDecoder as _Decoder
    from cwasm.obj.postcard import PostcardError
    from cwasm.wasm.gc_types import FieldType, StructType
    from cwasm.wasm.types import CONCRETE_HEAP, FuncType, ref_type

    types = (
        FuncType((ValType.I32, ValType.I64), (ValType.F64,)),
        FuncType((), ()),
        FuncType((ref_type(False, CONCRETE_HEAP + 0),), (ValType.I32,)),
        StructType((FieldType(ValType.I32, True),)),
        FuncType((ValType.V128,), (ValType.FUNCREF, ValType.EXTERNREF)),
    )
    w = Writer()
    w.varint(len(types))
    for t in types:
        _w_deftype(w, t)
    raw = w.getvalue()
    general = _Decoder(raw)
    assert general.tuple_of(general.deftype) == types
    assert _Decoder(raw).deftypes() == types
    bad = bytearray(raw)
    bad[3] = 0x55  # the first parameter of the first type: no value type has code 0x55
    with pytest.raises(CorruptArtifactError, match="invalid value type code 0x55"):
        _Decoder(bytes(bad)).deftypes()
    with pytest.raises(PostcardError):  # decode_info reports it as a corrupt info
        _Decoder(raw[:-1]).deftypes()


def test_imports_and_exports_read_inline_equal_the_general_reader() -> None:
    """``imports``/``exports`` read a function import of a one-byte type index, an export
    of a one-byte index and a string of a one-byte length inline, anything else through
    the general readers; both give the record's entries, and an invalid kind or UTF-8
    is a corrupt info either way."""
    from cwasm.obj.info.codec import _w_export, _w_import
    from cwasm.obj.info.decoding import InfoDecoder
    from cwasm.obj.postcard import PostcardError
    from cwasm.wasm.types import Export, ExternKind, GlobalType, Import, Limits, MemoryType

    imports = (
        Import("wasi_snapshot_preview1", "fd_write", ExternKind.FUNC, 3),
        Import("env", "f" * 200, ExternKind.FUNC, 300),  # a long name, a two-byte index
        Import("env", "mem", ExternKind.MEMORY, MemoryType(Limits(1, 2))),
        Import("env", "g", ExternKind.GLOBAL, GlobalType(ValType.I64, True)),
        Import("env", "é", ExternKind.TAG, 0),
    )
    exports = (
        Export("run", ExternKind.FUNC, 5),
        Export("memory", ExternKind.MEMORY, 0),
        Export("x" * 130, ExternKind.FUNC, 1000),
    )
    w = Writer()
    w.varint(len(imports))
    for imp in imports:
        _w_import(w, imp)
    w.varint(len(exports))
    for e in exports:
        _w_export(w, e)
    raw = w.getvalue()
    inline = InfoDecoder(raw)
    assert inline.imports() == imports and inline.exports() == exports
    general = InfoDecoder(raw)
    assert general.tuple_of(general.import_) == imports
    assert general.tuple_of(general.export) == exports
    kind_at = raw.index(b"fd_write") + len(b"fd_write")
    bad = bytearray(raw)
    bad[kind_at] = 7  # no external kind 7
    with pytest.raises(CorruptArtifactError, match="invalid external kind 7"):
        InfoDecoder(bytes(bad)).imports()
    bad = bytearray(raw)
    bad[kind_at - 1] = 0xFF  # not UTF-8
    with pytest.raises(PostcardError, match="not UTF-8"):
        InfoDecoder(bytes(bad)).imports()
