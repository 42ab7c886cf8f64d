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
from cwasm.obj.info.packed import PackedTable, pack_u32_words, u32_words
from cwasm.obj.info.schema import (
    CompiledModuleInfo,
    DataRange,
    FunctionTable,
    MemoryInitialization,
    MemoryInitializer,
    Metadata,
    NameTable,
    SegmentedMemoryInitialization,
    StaticMemoryInitialization,
    StaticMemoryInitializer,
    TrampolineTable,
)
from cwasm.obj.postcard import Reader, Writer
from cwasm.wasm.gc_types import PACKED, ArrayType, CompositeType, FieldType, StructType, SubType
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.types import (
    KIND_ARRAY,
    KIND_FUNC,
    KIND_STRUCT,
    ConstExpr,
    ConstOp,
    ConstOpKind,
    ElementSegment,
    Export,
    ExternKind,
    FuncType,
    GlobalType,
    Import,
    Limits,
    MemoryType,
    SegmentMode,
    TableType,
    ValueType,
    val_type,
)

#: Bumped whenever the encoding below changes; older or newer infos are rejected.
INFO_FORMAT_VERSION = 7

#: the value type of each one-byte code (numbers, vectors, shorthand reference types)
_VALTYPES: dict[int, ValueType] = {}
for _code in range(0x80):
    try:
        _VALTYPES[_code] = val_type(_code)
    except ValueError:
        pass


def _valtype_of(code: int) -> ValueType:
    """The value type with int code ``code`` (see ``RefType``), or corrupt."""
    t = _VALTYPES.get(code)
    if t is not None:
        return t
    try:
        t = val_type(code)
        t.text  # noqa: B018 - a heap type that names nothing raises here
    except (ValueError, KeyError):
        raise CorruptArtifactError(f"invalid value type code {code:#x}") from None
    return t


#: the enum member of each encoded value (a miss is corrupt), looked up without the enum
#: machinery's call
_EXTERN_KINDS: dict[int, ExternKind] = {int(k): k for k in ExternKind}
_CONST_OP_KINDS: dict[int, ConstOpKind] = {int(k): k for k in ConstOpKind}
_SEGMENT_MODES: dict[int, SegmentMode] = {int(m): m for m in SegmentMode}

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


# ---------------------------------------------------------------------------
# Decoding


class _Decoder(Reader):
    """Reads the record back, turning every out-of-range value into ``CorruptArtifactError``.

    Loading an artifact decodes this record every time, so the common one-byte varint is
    read inline; the per-function tables are packed u32 rows read in bulk (``packed``).
    """

    __slots__ = ()

    def __init__(self, data: bytes | memoryview) -> None:
        super().__init__(bytes(data))

    def tuple_of(self, item: Callable[[], T]) -> tuple[T, ...]:
        return tuple([item() for _ in range(self.count())])

    def u32(self) -> int:
        p = self.pos
        if p + 1 < self.end:
            data = self.data
            b: int = data[p]
            if b < 0x80:
                self.pos = p + 1
                return b
            b1: int = data[p + 1]
            if b1 < 0x80:
                self.pos = p + 2
                return (b & 0x7F) | (b1 << 7)
        return self.varint(32)

    def int_(self) -> int:
        z = self.varint(130)
        return (z >> 1) ^ -(z & 1)

    def valtype(self) -> ValueType:
        return _valtype_of(self.varint(32))

    def valtypes(self) -> tuple[ValueType, ...]:
        """A sequence of value types (read as one slice when each is one byte)."""
        n = self.count()
        p = self.pos
        raw = self.data[p : p + n]
        if len(raw) == n and not any(b & 0x80 for b in raw):
            self.pos = p + n
            try:
                return tuple(map(_VALTYPES.__getitem__, raw))
            except KeyError as e:
                raise CorruptArtifactError(f"invalid value type code {e.args[0]:#x}") from None
        return tuple([self.valtype() for _ in range(n)])

    def limits(self) -> Limits:
        lo = self.u64()
        hi = self.option(self.u64)
        return Limits(lo, hi)

    def functype(self) -> FuncType:
        return FuncType(self.valtypes(), self.valtypes())

    def deftypes(self) -> tuple[CompositeType, ...]:
        """The type section: each function type read from one slice while its kind, its
        two lengths and every value type are one byte (no typed references), else by
        ``deftype``."""
        n = self.count()
        data, end = self.data, self.end
        of = _VALTYPES.__getitem__
        out: list[CompositeType] = []
        for _ in range(n):
            p = self.pos + 1
            if p < end and data[p - 1] == KIND_FUNC and data[p] < 0x80:
                q = p + 1 + data[p]
                if q < end and data[q] < 0x80:
                    r = q + 1 + data[q]
                    if r <= end and max(data[p:r]) < 0x80:
                        try:
                            params = tuple(map(of, data[p + 1 : q]))
                            results = tuple(map(of, data[q + 1 : r]))
                        except KeyError as e:
                            code = e.args[0]
                            raise CorruptArtifactError(
                                f"invalid value type code {code:#x}"
                            ) from None
                        out.append(FuncType(params, results))
                        self.pos = r
                        continue
            out.append(self.deftype())
        return tuple(out)

    def field(self) -> FieldType:
        code = self.varint(32)
        storage: ValueType | int = code if code in PACKED else _valtype_of(code)
        return FieldType(storage, self.bool())

    def deftype(self) -> CompositeType:
        kind = self.varint(32)
        if kind == KIND_FUNC:
            return self.functype()
        if kind == KIND_STRUCT:
            return StructType(self.tuple_of(self.field))
        if kind == KIND_ARRAY:
            return ArrayType(self.field())
        raise CorruptArtifactError(f"invalid composite type kind {kind}")

    def subtype(self) -> SubType:
        supertype, final = self.int_(), self.bool()
        return SubType(supertype, final, self.varint(32), self.varint(32))

    def tabletype(self) -> TableType:
        element, limits = self.valtype(), self.limits()
        return TableType(element, limits, self.bool())

    def memorytype(self) -> MemoryType:
        limits, shared = self.limits(), self.bool()
        return MemoryType(limits, shared, self.bool())

    def globaltype(self) -> GlobalType:
        return GlobalType(self.valtype(), self.bool())

    def constop(self) -> ConstOp:
        k = self.u32()
        kind = _CONST_OP_KINDS.get(k)
        if kind is None:
            raise CorruptArtifactError(f"invalid constant-expression operator {k}")
        return ConstOp(kind, self.int_())

    def constexpr(self) -> ConstExpr:
        ops = self.tuple_of(self.constop)
        return ConstExpr(ops, self.u64())

    def range_(self, bits: int = 32) -> DataRange:
        start = self.varint(bits)
        end = self.varint(bits)
        if end < start:
            raise CorruptArtifactError(f"invalid range {start:#x}..{end:#x}")
        return DataRange(start, end)

    def kind(self) -> ExternKind:
        b = self.u8()
        kind = _EXTERN_KINDS.get(b)
        if kind is None:
            raise CorruptArtifactError(f"invalid external kind {b}")
        return kind

    def imports(self) -> tuple[Import, ...]:
        """The imports; a function import whose type index is one byte is read inline."""
        n = self.count()
        out: list[Import] = []
        func = ExternKind.FUNC
        for _ in range(n):
            module = self.str()
            name = self.str()
            p = self.pos
            if p + 1 < self.end and self.data[p] == 0 and self.data[p + 1] < 0x80:
                self.pos = p + 2
                out.append(Import(module, name, func, self.data[p + 1]))
            else:
                out.append(self._import_rest(module, name))
        return tuple(out)

    def exports(self) -> tuple[Export, ...]:
        """The exports; an index of one byte is read inline."""
        n = self.count()
        out: list[Export] = []
        kinds = _EXTERN_KINDS
        for _ in range(n):
            name = self.str()
            p = self.pos
            kind = kinds.get(self.data[p]) if p + 1 < self.end else None
            if kind is not None and self.data[p + 1] < 0x80:
                self.pos = p + 2
                out.append(Export(name, kind, self.data[p + 1]))
            else:
                out.append(Export(name, self.kind(), self.u32()))
        return tuple(out)

    def import_(self) -> Import:
        return self._import_rest(self.str(), self.str())

    def _import_rest(self, module: str, name: str) -> Import:
        """An import's kind and description, after its names."""
        kind = self.kind()
        desc: int | TableType | MemoryType | GlobalType
        if kind == ExternKind.FUNC or kind == ExternKind.TAG:
            desc = self.u32()
        elif kind == ExternKind.TABLE:
            desc = self.tabletype()
        elif kind == ExternKind.MEMORY:
            desc = self.memorytype()
        else:
            desc = self.globaltype()
        return Import(module, name, kind, desc)

    def export(self) -> Export:
        return Export(self.str(), self.kind(), self.u32())

    def element(self) -> ElementSegment:
        m = self.u8()
        mode = _SEGMENT_MODES.get(m)
        if mode is None:
            raise CorruptArtifactError(f"invalid element segment mode {m}")
        element = self.valtype()
        table_index = self.u32()
        offset = self.option(self.constexpr)
        if self.enum(2) == 0:
            funcs = self.tuple_of(self.u32)
            return ElementSegment(mode, element, table_index, offset, functions=funcs)
        exprs = self.tuple_of(self.constexpr)
        return ElementSegment(mode, element, table_index, offset, expressions=exprs)

    def meminit(self) -> MemoryInitialization:
        if self.enum(2) == 0:

            def seg() -> MemoryInitializer:
                return MemoryInitializer(self.u32(), self.constexpr(), self.range_())

            return SegmentedMemoryInitialization(self.tuple_of(seg))

        def image() -> StaticMemoryInitializer:
            return StaticMemoryInitializer(self.u64(), self.range_())

        return StaticMemoryInitialization(self.tuple_of(lambda: self.option(image)))

    def passive(self) -> tuple[int, DataRange]:
        return self.u32(), self.range_()

    def meta(self) -> Metadata:
        return Metadata(
            has_unparsed_debuginfo=self.bool(),
            code_section_offset=self.u64(),
            has_wasm_debuginfo=self.bool(),
            is_pulley=self.bool(),
            dwarf=self.tuple_of(lambda: (self.u8(), self.range_(64))),
        )

    def count(self) -> int:
        """A sequence length, rejected if the items cannot fit (each takes at least one byte)."""
        n = self.varint()
        if n > self.end - self.pos:
            raise self._eof()
        return n

    def u32_words(self) -> tuple[int, ...]:
        """A byte string of little-endian u32 words."""
        raw = self.bytes()
        if len(raw) % 4:
            raise CorruptArtifactError(f"{len(raw)} bytes are not a whole number of u32 words")
        return tuple(u32_words(raw))

    def packed(self, kind: type[PackedTable[T]]) -> PackedTable[T]:
        """A packed table of ``kind`` (``ValueError`` for a partial or impossible row)."""
        return kind.from_bytes(self.bytes())

    def info(self) -> CompiledModuleInfo:
        version = self.u32()
        if version != INFO_FORMAT_VERSION:
            raise CorruptArtifactError(
                f"`.wasmtime.info` has format version {version}, but this cwasm reads "
                f"version {INFO_FORMAT_VERSION}; recompile the module"
            )
        module: dict[str, Any] = {}
        info: dict[str, Any] = {}
        for in_module, name, _, read in _PLAN:
            (module if in_module else info)[name] = read(self)
        if self.remaining():
            raise CorruptArtifactError(f"{self.remaining()} unexpected trailing bytes")
        return CompiledModuleInfo(module=ModuleRecord(**module), **info)


@dataclass(frozen=True, slots=True)
class InfoField:
    """One field of ``.wasmtime.info``: where it lives, how it is written and read back.

    ``path`` is ``module.<field>`` for a field of the ``ModuleRecord``, else the name of a
    field of ``CompiledModuleInfo``.
    """

    path: str
    write: Callable[[Writer, Any], None]
    read: Callable[[_Decoder], Any]


#: The encoding of ``CompiledModuleInfo`` after the version, field by field in this order.
#: Every field of ``ModuleRecord`` and of ``CompiledModuleInfo`` has exactly one entry
#: (``tests/obj/test_info.py`` checks it); changing the list means bumping
#: ``INFO_FORMAT_VERSION``.
INFO_FIELDS: tuple[InfoField, ...] = (
    InfoField("name", _w_name, lambda d: d.option(d.str)),
    InfoField("module.types", _seq_of(_w_deftype), _Decoder.deftypes),
    InfoField("module.imports", _seq_of(_w_import), _Decoder.imports),
    InfoField("module.functions", _w_u32_words, _Decoder.u32_words),
    InfoField("module.tables", _seq_of(_w_tabletype), lambda d: d.tuple_of(d.tabletype)),
    InfoField("module.memories", _seq_of(_w_memorytype), lambda d: d.tuple_of(d.memorytype)),
    InfoField("module.globals", _seq_of(_w_globaltype), lambda d: d.tuple_of(d.globaltype)),
    InfoField("module.global_inits", _seq_of(_w_constexpr), lambda d: d.tuple_of(d.constexpr)),
    InfoField("module.exports", _seq_of(_w_export), _Decoder.exports),
    InfoField("module.start", _w_start, lambda d: d.option(d.u32)),
    InfoField("module.elements", _seq_of(_w_element), lambda d: d.tuple_of(d.element)),
    InfoField(
        "module.table_inits",
        _seq_of(lambda w, e: w.option(e, lambda x: _w_constexpr(w, x))),
        lambda d: d.tuple_of(lambda: d.option(d.constexpr)),
    ),
    InfoField("memory_initialization", _w_meminit, _Decoder.meminit),
    InfoField("passive_data", _seq_of(_w_passive), lambda d: d.tuple_of(d.passive)),
    InfoField("num_data", _w_u32, _Decoder.u32),
    InfoField("module.num_imported_funcs", _w_u32, _Decoder.u32),
    InfoField("module.num_imported_tables", _w_u32, _Decoder.u32),
    InfoField("module.num_imported_memories", _w_u32, _Decoder.u32),
    InfoField("module.num_imported_globals", _w_u32, _Decoder.u32),
    InfoField("module.tags", _w_u32_words, _Decoder.u32_words),
    InfoField("module.num_imported_tags", _w_u32, _Decoder.u32),
    InfoField("module.sub_types", _seq_of(_w_subtype), lambda d: d.tuple_of(d.subtype)),
    InfoField("funcs", _packed_of(FunctionTable), lambda d: d.packed(FunctionTable)),
    InfoField("func_names", _packed_of(NameTable), lambda d: d.packed(NameTable)),
    InfoField(
        "wasm_to_array_trampolines",
        _packed_of(TrampolineTable),
        lambda d: d.packed(TrampolineTable),
    ),
    InfoField("meta", _w_meta, _Decoder.meta),
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


def decode_info(data: bytes | memoryview) -> CompiledModuleInfo:
    """Decode a ``.wasmtime.info`` section written by ``encode_info``."""
    try:
        return _Decoder(data).info()
    except ArtifactError as e:
        raise CorruptArtifactError(f"`.wasmtime.info` is corrupt: {e}") from None
    except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as e:
        raise CorruptArtifactError(f"`.wasmtime.info` is corrupt: {e}") from None
