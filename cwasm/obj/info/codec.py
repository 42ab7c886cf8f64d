"""The versioned postcard codec of cwasm's ``.wasmtime.info`` (schema in ``schema``).

Encoding: ``INFO_FORMAT_VERSION`` as a varint, then the fields listed in ``INFO_FIELDS``
in postcard (see ``postcard.py``), the ``ModuleRecord``'s among them; trailing bytes are
rejected. The per-function tables (and the function type indices) are postcard byte
strings of little-endian u32 words, fixed-width rows read in bulk (``packed``). Integers inside constant expressions are
encoded as arbitrary-precision zigzag varints so any operator value round-trips. Every
decoding problem raises ``CorruptArtifactError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cwasm.errors import ArtifactError
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.info.decoding import InfoDecoder
from cwasm.obj.info.packed import PackedTable, pack_u32_words
from cwasm.obj.info.schema import (
    CompiledModuleInfo,
    DataRange,
    FunctionTable,
    MemoryInitialization,
    MemoryInitializer,
    Metadata,
    NameTable,
    SegmentedMemoryInitialization,
    StaticMemoryInitializer,
    TrampolineTable,
)
from cwasm.obj.postcard import Writer
from cwasm.wasm.gc_types import ArrayType, CompositeType, FieldType, StructType, SubType
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.types import (
    KIND_ARRAY,
    KIND_FUNC,
    KIND_STRUCT,
    ConstExpr,
    ConstOp,
    ElementSegment,
    Export,
    ExternKind,
    FuncType,
    GlobalType,
    Import,
    Limits,
    MemoryType,
    TableType,
    ValueType,
)

#: Bumped whenever the encoding below changes; older or newer infos are rejected.
INFO_FORMAT_VERSION = 7

T = TypeVar("T")


def _w_int(w: Writer, v: int) -> None:
    w.varint(v * 2 if v >= 0 else -2 * v - 1)


def _w_valtype(w: Writer, t: ValueType) -> None:
    # its int code as a varint: one byte but for typed references (``RefType``)
    w.varint(int(t))


def _w_limits(w: Writer, lim: Limits) -> None:
    w.varint(lim.min)
    w.option(lim.max, w.varint)


def _w_functype(w: Writer, ft: FuncType) -> None:
    w.seq(ft.params, lambda t: _w_valtype(w, t))
    w.seq(ft.results, lambda t: _w_valtype(w, t))


def _w_field(w: Writer, f: FieldType) -> None:
    w.varint(int(f.storage))  # a value type's code, or a packed type's byte
    w.bool(f.mutable)


def _w_deftype(w: Writer, t: CompositeType) -> None:
    """A type of the type section: its kind (``KIND_FUNC``...), then its contents."""
    if type(t) is FuncType:
        w.varint(KIND_FUNC)
        _w_functype(w, t)
    elif type(t) is StructType:
        w.varint(KIND_STRUCT)
        w.seq(t.fields, lambda f: _w_field(w, f))
    else:
        assert type(t) is ArrayType
        w.varint(KIND_ARRAY)
        _w_field(w, t.element)


def _w_subtype(w: Writer, s: SubType) -> None:
    _w_int(w, s.supertype)
    w.bool(s.final)
    w.varint(s.group_start)
    w.varint(s.group_size)


def _w_tabletype(w: Writer, t: TableType) -> None:
    _w_valtype(w, t.element)
    _w_limits(w, t.limits)
    w.bool(t.is_64)


def _w_memorytype(w: Writer, t: MemoryType) -> None:
    _w_limits(w, t.limits)
    w.bool(t.shared)
    w.bool(t.is_64)


def _w_globaltype(w: Writer, t: GlobalType) -> None:
    _w_valtype(w, t.content)
    w.bool(t.mutable)


def _w_constexpr(w: Writer, e: ConstExpr) -> None:
    def op(o: ConstOp) -> None:
        w.varint(int(o.kind))
        _w_int(w, o.value)

    w.seq(e.ops, op)
    w.varint(e.offset)


def _w_range(w: Writer, r: DataRange) -> None:
    w.varint(r.start)
    w.varint(r.end)


def _w_import(w: Writer, imp: Import) -> None:
    w.str(imp.module)
    w.str(imp.name)
    w.u8(int(imp.kind))
    desc = imp.desc
    if imp.kind in (ExternKind.FUNC, ExternKind.TAG) and isinstance(desc, int):
        w.varint(desc)
    elif imp.kind == ExternKind.TABLE and isinstance(desc, TableType):
        _w_tabletype(w, desc)
    elif imp.kind == ExternKind.MEMORY and isinstance(desc, MemoryType):
        _w_memorytype(w, desc)
    elif imp.kind == ExternKind.GLOBAL and isinstance(desc, GlobalType):
        _w_globaltype(w, desc)
    else:
        raise ValueError(f"import {imp.module}.{imp.name}: description does not match its kind")


def _w_export(w: Writer, e: Export) -> None:
    w.str(e.name)
    w.u8(int(e.kind))
    w.varint(e.index)


def _w_element(w: Writer, seg: ElementSegment) -> None:
    w.u8(int(seg.mode))
    _w_valtype(w, seg.element)
    w.varint(seg.table_index)
    w.option(seg.offset, lambda e: _w_constexpr(w, e))
    if seg.functions is not None:
        w.varint(0)
        w.seq(seg.functions, w.varint)
    elif seg.expressions is not None:
        w.varint(1)
        w.seq(seg.expressions, lambda e: _w_constexpr(w, e))
    else:
        raise ValueError("element segment has neither functions nor expressions")


def _w_meminit(w: Writer, init: MemoryInitialization) -> None:
    if isinstance(init, SegmentedMemoryInitialization):
        w.varint(0)

        def seg(s: MemoryInitializer) -> None:
            w.varint(s.memory_index)
            _w_constexpr(w, s.offset)
            _w_range(w, s.data)

        w.seq(init.segments, seg)
    else:
        w.varint(1)

        def image(s: StaticMemoryInitializer) -> None:
            w.varint(s.offset)
            _w_range(w, s.data)

        w.seq(init.map, lambda s: w.option(s, image))


def _w_u32(w: Writer, v: int) -> None:
    w.varint(v)


def _w_name(w: Writer, name: str | None) -> None:
    w.option(name, w.str)


def _w_start(w: Writer, start: int | None) -> None:
    w.option(start, w.varint)


def _w_passive(w: Writer, item: tuple[int, DataRange]) -> None:
    w.varint(item[0])
    _w_range(w, item[1])


def _w_meta(w: Writer, meta: Metadata) -> None:
    w.bool(meta.has_unparsed_debuginfo)
    w.varint(meta.code_section_offset)
    w.bool(meta.has_wasm_debuginfo)
    w.bool(meta.is_pulley)

    def dwarf(d: tuple[int, DataRange]) -> None:
        w.u8(d[0])
        _w_range(w, d[1])

    w.seq(meta.dwarf, dwarf)


def _packed_of(kind: type[PackedTable[T]]) -> Callable[[Writer, Sequence[T]], None]:
    """A writer of a packed table of ``kind``: its rows as one postcard byte string."""

    def write(w: Writer, items: Sequence[T]) -> None:
        w.bytes(kind.of(items).to_bytes())

    return write


def _w_u32_words(w: Writer, values: Sequence[int]) -> None:
    w.bytes(pack_u32_words(values))


def _seq_of(item: Callable[[Writer, T], None]) -> Callable[[Writer, Sequence[T]], None]:
    """A writer of a postcard sequence of ``item``s."""

    def write(w: Writer, items: Sequence[T]) -> None:
        w.seq(items, lambda x: item(w, x))

    return write


@dataclass(frozen=True, slots=True)
class InfoField:
    """One field of ``.wasmtime.info``: where it lives, how it is written and read back.

    ``path`` is ``module.<field>`` for a field of the ``ModuleRecord``, else the name of a
    field of ``CompiledModuleInfo``.
    """

    path: str
    write: Callable[[Writer, Any], None]
    read: Callable[[InfoDecoder], Any]


#: The encoding of ``CompiledModuleInfo`` after the version, field by field in this order.
#: Every field of ``ModuleRecord`` and of ``CompiledModuleInfo`` has exactly one entry
#: (``tests/obj/test_info.py`` checks it); changing the list means bumping
#: ``INFO_FORMAT_VERSION``.
INFO_FIELDS: tuple[InfoField, ...] = (
    InfoField("name", _w_name, lambda d: d.option(d.str)),
    InfoField("module.types", _seq_of(_w_deftype), InfoDecoder.deftypes),
    InfoField("module.imports", _seq_of(_w_import), InfoDecoder.imports),
    InfoField("module.functions", _w_u32_words, InfoDecoder.u32_words),
    InfoField("module.tables", _seq_of(_w_tabletype), lambda d: d.tuple_of(d.tabletype)),
    InfoField("module.memories", _seq_of(_w_memorytype), lambda d: d.tuple_of(d.memorytype)),
    InfoField("module.globals", _seq_of(_w_globaltype), lambda d: d.tuple_of(d.globaltype)),
    InfoField("module.global_inits", _seq_of(_w_constexpr), lambda d: d.tuple_of(d.constexpr)),
    InfoField("module.exports", _seq_of(_w_export), InfoDecoder.exports),
    InfoField("module.start", _w_start, lambda d: d.option(d.u32)),
    InfoField("module.elements", _seq_of(_w_element), lambda d: d.tuple_of(d.element)),
    InfoField(
        "module.table_inits",
        _seq_of(lambda w, e: w.option(e, lambda x: _w_constexpr(w, x))),
        lambda d: d.tuple_of(lambda: d.option(d.constexpr)),
    ),
    InfoField("memory_initialization", _w_meminit, InfoDecoder.meminit),
    InfoField("passive_data", _seq_of(_w_passive), lambda d: d.tuple_of(d.passive)),
    InfoField("num_data", _w_u32, InfoDecoder.u32),
    InfoField("module.num_imported_funcs", _w_u32, InfoDecoder.u32),
    InfoField("module.num_imported_tables", _w_u32, InfoDecoder.u32),
    InfoField("module.num_imported_memories", _w_u32, InfoDecoder.u32),
    InfoField("module.num_imported_globals", _w_u32, InfoDecoder.u32),
    InfoField("module.tags", _w_u32_words, InfoDecoder.u32_words),
    InfoField("module.num_imported_tags", _w_u32, InfoDecoder.u32),
    InfoField("module.sub_types", _seq_of(_w_subtype), lambda d: d.tuple_of(d.subtype)),
    InfoField("funcs", _packed_of(FunctionTable), lambda d: d.packed(FunctionTable)),
    InfoField("func_names", _packed_of(NameTable), lambda d: d.packed(NameTable)),
    InfoField(
        "wasm_to_array_trampolines",
        _packed_of(TrampolineTable),
        lambda d: d.packed(TrampolineTable),
    ),
    InfoField("meta", _w_meta, InfoDecoder.meta),
)

# (in the ModuleRecord?, field name, write, read) per field, resolved once
_PLAN = tuple(
    (f.path.startswith("module."), f.path.removeprefix("module."), f.write, f.read)
    for f in INFO_FIELDS
)


def encode_info(info: CompiledModuleInfo) -> bytes:
    """Serialize ``info`` (version first) for the ``.wasmtime.info`` section."""
    w = Writer()
    w.varint(INFO_FORMAT_VERSION)
    module = info.module
    for in_module, name, write, _ in _PLAN:
        write(w, getattr(module if in_module else info, name))
    return w.getvalue()


def _read_info(d: InfoDecoder) -> CompiledModuleInfo:
    version = d.u32()
    if version != INFO_FORMAT_VERSION:
        raise CorruptArtifactError(
            f"`.wasmtime.info` has format version {version}, but this cwasm reads "
            f"version {INFO_FORMAT_VERSION}; recompile the module"
        )
    module: dict[str, Any] = {}
    info: dict[str, Any] = {}
    for in_module, name, _, read in _PLAN:
        (module if in_module else info)[name] = read(d)
    if d.remaining():
        raise CorruptArtifactError(f"{d.remaining()} unexpected trailing bytes")
    return CompiledModuleInfo(module=ModuleRecord(**module), **info)


def decode_info(data: bytes | memoryview) -> CompiledModuleInfo:
    """Decode a ``.wasmtime.info`` section written by ``encode_info``."""
    try:
        return _read_info(InfoDecoder(data))
    except ArtifactError as e:
        raise CorruptArtifactError(f"`.wasmtime.info` is corrupt: {e}") from None
    except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as e:
        raise CorruptArtifactError(f"`.wasmtime.info` is corrupt: {e}") from None
