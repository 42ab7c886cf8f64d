"""The reader of ``.wasmtime.info``'s postcard values (the field order is ``codec``'s).

Loading an artifact decodes its info record every time, and most of a first load in a
process is Python running for the first time, so the common shapes are read inline:
one-byte varints, strings with a one-byte length, function imports, exports, function
types of one-byte value types. Anything else takes the general path, which makes the
same checks and raises the same errors. Every out-of-range value is a
``CorruptArtifactError`` (or a ``PostcardError``, which ``codec.decode_info`` reports
as one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.info.packed import PackedTable, u32_words
from cwasm.obj.info.schema import (
    DataRange,
    MemoryInitialization,
    MemoryInitializer,
    Metadata,
    SegmentedMemoryInitialization,
    StaticMemoryInitialization,
    StaticMemoryInitializer,
)
from cwasm.obj.postcard import Reader
from cwasm.wasm.gc_types import PACKED, ArrayType, CompositeType, FieldType, StructType, SubType
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


class InfoDecoder(Reader):
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
