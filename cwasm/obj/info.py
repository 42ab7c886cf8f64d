"""``.wasmtime.info`` for cwasm: the ``CompiledModuleInfo`` schema and its versioned postcard codec.

It follows the shape of Wasmtime's ``CompiledModuleInfo`` (``module``, ``funcs``,
``func_names``, ``wasm_to_array_trampolines``, ``meta``) but is cwasm's own: it holds
everything the runtime needs to instantiate a module without the original wasm bytes.

Encoding: ``INFO_FORMAT_VERSION`` as a varint, then the record in postcard (see
``postcard.py``); trailing bytes are rejected. Integers inside constant expressions are
encoded as arbitrary-precision zigzag varints so any operator value round-trips. Every
decoding problem raises ``CorruptArtifactError``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TypeVar

from cwasm.errors import ArtifactError
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.postcard import Reader, Writer
from cwasm.wasm.types import (
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
    ValType,
)

#: Bumped whenever the encoding below changes; older or newer infos are rejected.
INFO_FORMAT_VERSION = 1

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DataRange:
    """A byte range ``[start, end)`` (into ``.rodata.wasm`` or another section)."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class FunctionLoc:
    """Where a function's code lies in ``.text``: ``start`` offset and ``length`` in bytes."""

    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True, slots=True)
class CompiledFunctionInfo:
    """Per defined function: its wasm body offset and code locations."""

    start_srcloc: int  # module offset of the body, just after its size LEB
    wasm_func_loc: FunctionLoc
    array_to_wasm_trampoline: FunctionLoc | None = None  # present for escaping functions


@dataclass(frozen=True, slots=True)
class FunctionName:
    """A function's name: ``len`` bytes at ``offset`` of ``.name.wasm``."""

    idx: int  # FuncIndex (imports included)
    offset: int
    len: int


@dataclass(frozen=True, slots=True)
class MemoryInitializer:
    """One active data segment applied at instantiation (Segmented initialization)."""

    memory_index: int
    offset: ConstExpr
    data: DataRange  # into .rodata.wasm


@dataclass(frozen=True, slots=True)
class SegmentedMemoryInitialization:
    """Active data segments copied one by one at instantiation, in module order."""

    segments: tuple[MemoryInitializer, ...] = ()


@dataclass(frozen=True, slots=True)
class StaticMemoryInitializer:
    """A page-aligned memory image: ``data`` is copied (or mapped) at memory ``offset``."""

    offset: int  # multiple of the page alignment
    data: DataRange  # into .rodata.wasm; length is a multiple of the page alignment


@dataclass(frozen=True, slots=True)
class StaticMemoryInitialization:
    """One optional image per memory (``MemoryIndex`` order, imports included)."""

    map: tuple[StaticMemoryInitializer | None, ...] = ()


MemoryInitialization = SegmentedMemoryInitialization | StaticMemoryInitialization


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    """The module's static description, indexed as the spec's index spaces."""

    name: str | None = None
    types: tuple[FuncType, ...] = ()
    imports: tuple[Import, ...] = ()
    functions: tuple[int, ...] = ()  # type index per FuncIndex
    tables: tuple[TableType, ...] = ()
    memories: tuple[MemoryType, ...] = ()
    globals: tuple[GlobalType, ...] = ()
    global_inits: tuple[ConstExpr, ...] = ()  # defined globals only
    exports: tuple[Export, ...] = ()
    start: int | None = None
    elements: tuple[ElementSegment, ...] = ()  # every segment, in module order
    memory_initialization: MemoryInitialization = field(
        default_factory=SegmentedMemoryInitialization
    )
    passive_data: tuple[tuple[int, DataRange], ...] = ()  # (DataIndex, range), ascending
    num_data: int = 0  # number of data segments (active and passive)
    num_imported_funcs: int = 0
    num_imported_tables: int = 0
    num_imported_memories: int = 0
    num_imported_globals: int = 0

    @property
    def num_defined_funcs(self) -> int:
        return len(self.functions) - self.num_imported_funcs

    def func_type(self, func_index: int) -> FuncType:
        return self.types[self.functions[func_index]]

    def passive_data_range(self, data_index: int) -> DataRange | None:
        """The ``.rodata.wasm`` range of a passive data segment (None: not passive)."""
        i = bisect.bisect_left(self.passive_data, data_index, key=lambda item: item[0])
        if i < len(self.passive_data) and self.passive_data[i][0] == data_index:
            return self.passive_data[i][1]
        return None


@dataclass(frozen=True, slots=True)
class Metadata:
    """Facts about the compilation that backtraces and debuggers need."""

    has_unparsed_debuginfo: bool = False
    code_section_offset: int = 0
    has_wasm_debuginfo: bool = False
    is_pulley: bool = False
    dwarf: tuple[tuple[int, DataRange], ...] = ()  # (gimli SectionId, range in .wasmtime.dwarf)


@dataclass(frozen=True, slots=True)
class CompiledModuleInfo:
    """Everything ``.wasmtime.info`` records about one compiled core module."""

    module: ModuleInfo
    funcs: tuple[CompiledFunctionInfo, ...] = ()  # DefinedFuncIndex order
    func_names: tuple[FunctionName, ...] = ()  # sorted by idx
    wasm_to_array_trampolines: tuple[tuple[int, FunctionLoc], ...] = ()  # sorted by type index
    meta: Metadata = field(default_factory=Metadata)


# ---------------------------------------------------------------------------
# Encoding


def _w_int(w: Writer, v: int) -> None:
    w.varint(v * 2 if v >= 0 else -2 * v - 1)


def _w_valtype(w: Writer, t: ValType) -> None:
    w.u8(int(t))


def _w_limits(w: Writer, lim: Limits) -> None:
    w.varint(lim.min)
    w.option(lim.max, w.varint)


def _w_functype(w: Writer, ft: FuncType) -> None:
    w.seq(ft.params, lambda t: _w_valtype(w, t))
    w.seq(ft.results, lambda t: _w_valtype(w, t))


def _w_tabletype(w: Writer, t: TableType) -> None:
    _w_valtype(w, t.element)
    _w_limits(w, t.limits)


def _w_memorytype(w: Writer, t: MemoryType) -> None:
    _w_limits(w, t.limits)
    w.bool(t.shared)


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


def _w_loc(w: Writer, loc: FunctionLoc) -> None:
    w.varint(loc.start)
    w.varint(loc.length)


def _w_import(w: Writer, imp: Import) -> None:
    w.str(imp.module)
    w.str(imp.name)
    w.u8(int(imp.kind))
    desc = imp.desc
    if imp.kind == ExternKind.FUNC and isinstance(desc, int):
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


def _w_module(w: Writer, m: ModuleInfo) -> None:
    w.option(m.name, w.str)
    w.seq(m.types, lambda t: _w_functype(w, t))
    w.seq(m.imports, lambda i: _w_import(w, i))
    w.seq(m.functions, w.varint)
    w.seq(m.tables, lambda t: _w_tabletype(w, t))
    w.seq(m.memories, lambda t: _w_memorytype(w, t))
    w.seq(m.globals, lambda t: _w_globaltype(w, t))
    w.seq(m.global_inits, lambda e: _w_constexpr(w, e))
    w.seq(m.exports, lambda e: _w_export(w, e))
    w.option(m.start, w.varint)
    w.seq(m.elements, lambda s: _w_element(w, s))
    _w_meminit(w, m.memory_initialization)

    def passive(item: tuple[int, DataRange]) -> None:
        w.varint(item[0])
        _w_range(w, item[1])

    w.seq(m.passive_data, passive)
    w.varint(m.num_data)
    w.varint(m.num_imported_funcs)
    w.varint(m.num_imported_tables)
    w.varint(m.num_imported_memories)
    w.varint(m.num_imported_globals)


def encode_info(info: CompiledModuleInfo) -> bytes:
    """Serialize ``info`` (version first) for the ``.wasmtime.info`` section."""
    w = Writer()
    w.varint(INFO_FORMAT_VERSION)
    _w_module(w, info.module)

    def func(f: CompiledFunctionInfo) -> None:
        w.varint(f.start_srcloc)
        _w_loc(w, f.wasm_func_loc)
        w.option(f.array_to_wasm_trampoline, lambda loc: _w_loc(w, loc))

    w.seq(info.funcs, func)

    def name(n: FunctionName) -> None:
        w.varint(n.idx)
        w.varint(n.offset)
        w.varint(n.len)

    w.seq(info.func_names, name)

    def tramp(t: tuple[int, FunctionLoc]) -> None:
        w.varint(t[0])
        _w_loc(w, t[1])

    w.seq(info.wasm_to_array_trampolines, tramp)
    meta = info.meta
    w.bool(meta.has_unparsed_debuginfo)
    w.varint(meta.code_section_offset)
    w.bool(meta.has_wasm_debuginfo)
    w.bool(meta.is_pulley)

    def dwarf(d: tuple[int, DataRange]) -> None:
        w.u8(d[0])
        _w_range(w, d[1])

    w.seq(meta.dwarf, dwarf)
    return w.getvalue()


# ---------------------------------------------------------------------------
# Decoding


def _record_maker(cls: type[T]) -> Callable[..., T]:
    """A constructor for a frozen, slotted dataclass that skips its generated ``__init__``.

    The result is the same (equal, hashable, frozen) instance at about half the cost, which
    matters for the per-function records decoded on every load.
    """
    setters = tuple(getattr(cls, f.name).__set__ for f in fields(cls))  # type: ignore[arg-type]
    new = object.__new__
    if len(setters) == 2:
        s0, s1 = setters

        def make2(a: object, b: object) -> T:
            obj = new(cls)
            s0(obj, a)
            s1(obj, b)
            return obj

        return make2
    s0, s1, s2 = setters

    def make3(a: object, b: object, c: object) -> T:
        obj = new(cls)
        s0(obj, a)
        s1(obj, b)
        s2(obj, c)
        return obj

    return make3


_new_loc = _record_maker(FunctionLoc)
_new_func = _record_maker(CompiledFunctionInfo)
_new_name = _record_maker(FunctionName)


class _Decoder(Reader):
    """Reads the record back, turning every out-of-range value into ``CorruptArtifactError``.

    Loading an artifact decodes this record every time, so the common one-byte varint is
    read inline and the per-function tables are decoded in flat loops.
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

    def valtype(self) -> ValType:
        b = self.u8()
        try:
            return ValType(b)
        except ValueError:
            raise CorruptArtifactError(f"invalid value type byte {b:#x}") from None

    def limits(self) -> Limits:
        lo = self.u64()
        hi = self.option(self.u64)
        return Limits(lo, hi)

    def functype(self) -> FuncType:
        return FuncType(self.tuple_of(self.valtype), self.tuple_of(self.valtype))

    def tabletype(self) -> TableType:
        return TableType(self.valtype(), self.limits())

    def memorytype(self) -> MemoryType:
        return MemoryType(self.limits(), self.bool())

    def globaltype(self) -> GlobalType:
        return GlobalType(self.valtype(), self.bool())

    def constop(self) -> ConstOp:
        k = self.u32()
        try:
            kind = ConstOpKind(k)
        except ValueError:
            raise CorruptArtifactError(f"invalid constant-expression operator {k}") from None
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

    def loc(self) -> FunctionLoc:
        return FunctionLoc(self.u32(), self.u32())

    def kind(self) -> ExternKind:
        b = self.u8()
        try:
            return ExternKind(b)
        except ValueError:
            raise CorruptArtifactError(f"invalid external kind {b}") from None

    def import_(self) -> Import:
        module = self.str()
        name = self.str()
        kind = self.kind()
        desc: int | TableType | MemoryType | GlobalType
        if kind == ExternKind.FUNC:
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
        try:
            mode = SegmentMode(m)
        except ValueError:
            raise CorruptArtifactError(f"invalid element segment mode {m}") from None
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

    def module(self) -> ModuleInfo:
        name = self.option(self.str)
        types = self.tuple_of(self.functype)
        imports = self.tuple_of(self.import_)
        functions = self.tuple_of(self.u32)
        tables = self.tuple_of(self.tabletype)
        memories = self.tuple_of(self.memorytype)
        globals_ = self.tuple_of(self.globaltype)
        global_inits = self.tuple_of(self.constexpr)
        exports = self.tuple_of(self.export)
        start = self.option(self.u32)
        elements = self.tuple_of(self.element)
        meminit = self.meminit()
        passive = self.tuple_of(lambda: (self.u32(), self.range_()))
        return ModuleInfo(
            name=name,
            types=types,
            imports=imports,
            functions=functions,
            tables=tables,
            memories=memories,
            globals=globals_,
            global_inits=global_inits,
            exports=exports,
            start=start,
            elements=elements,
            memory_initialization=meminit,
            passive_data=passive,
            num_data=self.u32(),
            num_imported_funcs=self.u32(),
            num_imported_tables=self.u32(),
            num_imported_memories=self.u32(),
            num_imported_globals=self.u32(),
        )

    def count(self) -> int:
        """A sequence length, rejected if the items cannot fit (each takes at least one byte)."""
        n = self.varint()
        if n > self.end - self.pos:
            raise self._eof()
        return n

    def funcs(self) -> tuple[CompiledFunctionInfo, ...]:
        u32, u8 = self.u32, self.u8
        out = []
        for _ in range(self.count()):
            srcloc = u32()
            loc = _new_loc(u32(), u32())
            tag = u8()
            if tag == 0:
                tramp = None
            elif tag == 1:
                tramp = _new_loc(u32(), u32())
            else:
                raise CorruptArtifactError(f"postcard option tag out of range: {tag}")
            out.append(_new_func(srcloc, loc, tramp))
        return tuple(out)

    def func_names(self) -> tuple[FunctionName, ...]:
        u32 = self.u32
        return tuple([_new_name(u32(), u32(), u32()) for _ in range(self.count())])

    def info(self) -> CompiledModuleInfo:
        version = self.u32()
        if version != INFO_FORMAT_VERSION:
            raise CorruptArtifactError(
                f"`.wasmtime.info` has format version {version}, but this cwasm reads "
                f"version {INFO_FORMAT_VERSION}; recompile the module"
            )
        module = self.module()

        funcs = self.funcs()
        names = self.func_names()
        tramps = self.tuple_of(lambda: (self.u32(), self.loc()))
        meta = Metadata(
            has_unparsed_debuginfo=self.bool(),
            code_section_offset=self.u64(),
            has_wasm_debuginfo=self.bool(),
            is_pulley=self.bool(),
            dwarf=self.tuple_of(lambda: (self.u8(), self.range_(64))),
        )
        if self.remaining():
            raise CorruptArtifactError(f"{self.remaining()} unexpected trailing bytes")
        return CompiledModuleInfo(module, funcs, names, tramps, meta)


def decode_info(data: bytes | memoryview) -> CompiledModuleInfo:
    """Decode a ``.wasmtime.info`` section written by ``encode_info``."""
    try:
        return _Decoder(data).info()
    except ArtifactError as e:
        raise CorruptArtifactError(f"`.wasmtime.info` is corrupt: {e}") from None
    except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as e:
        raise CorruptArtifactError(f"`.wasmtime.info` is corrupt: {e}") from None


# ---------------------------------------------------------------------------
# Consistency


def _bad(msg: str) -> CorruptArtifactError:
    return CorruptArtifactError(f"`.wasmtime.info` is inconsistent: {msg}")


#: the most pages a 32-bit linear memory can have, and entries a table can have
MAX_MEMORY_PAGES = 1 << 16
MAX_TABLE_ELEMENTS = (1 << 32) - 1

_CONST_RESULT = {
    ConstOpKind.I32_CONST: ValType.I32,
    ConstOpKind.I64_CONST: ValType.I64,
    ConstOpKind.F32_CONST: ValType.F32,
    ConstOpKind.F64_CONST: ValType.F64,
    ConstOpKind.V128_CONST: ValType.V128,
    ConstOpKind.REF_FUNC: ValType.FUNCREF,
}
#: the bit width of each constant operator's value (v128 and floats are raw bits)
_CONST_BITS = {
    ConstOpKind.I32_CONST: 32,
    ConstOpKind.I64_CONST: 64,
    ConstOpKind.F32_CONST: 32,
    ConstOpKind.F64_CONST: 64,
    ConstOpKind.V128_CONST: 128,
}

_SIGNED_CONSTS = (ConstOpKind.I32_CONST, ConstOpKind.I64_CONST)


def _check_limits(lim: Limits, most: int, what: str) -> None:
    if lim.min > most or (lim.max is not None and not lim.min <= lim.max <= most):
        raise _bad(f"{what} has limits {lim.min}..{lim.max} (at most {most})")


def check_module_info(m: ModuleInfo) -> None:
    """Check that every index in the module description refers to something that exists,
    every limit is possible and every constant expression has the type its use needs."""
    nfuncs, ntables, nmems, nglobals = (
        len(m.functions),
        len(m.tables),
        len(m.memories),
        len(m.globals),
    )
    ntypes = len(m.types)
    for i, t in enumerate(m.functions):
        if t >= ntypes:
            raise _bad(f"function {i} has type index {t}, but there are {ntypes} types")
    for i, tt in enumerate(m.tables):
        if not tt.element.is_ref:
            raise _bad(f"table {i} holds {tt.element.text}, not references")
        _check_limits(tt.limits, MAX_TABLE_ELEMENTS, f"table {i}")
    for i, mt in enumerate(m.memories):
        _check_limits(mt.limits, MAX_MEMORY_PAGES, f"memory {i}")
        if mt.shared and mt.limits.max is None:
            raise _bad(f"shared memory {i} has no maximum")
    counts = dict.fromkeys(ExternKind, 0)
    spaces = {
        ExternKind.FUNC: nfuncs,
        ExternKind.TABLE: ntables,
        ExternKind.MEMORY: nmems,
        ExternKind.GLOBAL: nglobals,
    }
    entries: dict[ExternKind, tuple[object, ...]] = {
        ExternKind.FUNC: m.functions,
        ExternKind.TABLE: m.tables,
        ExternKind.MEMORY: m.memories,
        ExternKind.GLOBAL: m.globals,
    }
    for imp in m.imports:
        n = counts[imp.kind]
        counts[imp.kind] += 1
        if n >= spaces[imp.kind]:
            raise _bad(f"import {imp.module}.{imp.name} has no entry in its index space")
        if imp.desc != entries[imp.kind][n]:
            raise _bad(f"import {imp.module}.{imp.name} disagrees with its index space entry")
    imported = (
        (ExternKind.FUNC, m.num_imported_funcs),
        (ExternKind.TABLE, m.num_imported_tables),
        (ExternKind.MEMORY, m.num_imported_memories),
        (ExternKind.GLOBAL, m.num_imported_globals),
    )
    for kind, num in imported:
        if counts[kind] != num:
            raise _bad(f"{counts[kind]} {kind.name.lower()} imports, but {num} recorded")
    if len(m.global_inits) != nglobals - m.num_imported_globals:
        raise _bad(f"{len(m.global_inits)} global initializers for {nglobals} globals")
    seen: set[str] = set()
    for e in m.exports:
        if e.name in seen:
            raise _bad(f"duplicate export {e.name!r}")
        seen.add(e.name)
        if e.index >= spaces[e.kind]:
            raise _bad(f"export {e.name!r} refers to missing {e.kind.name.lower()} {e.index}")
    if m.start is not None:
        if m.start >= nfuncs:
            raise _bad(f"start function {m.start} does not exist")
        ft = m.types[m.functions[m.start]]
        if ft.params or ft.results:
            raise _bad(f"start function {m.start} has type {ft}, not [] -> []")

    def expr(e: ConstExpr, want: ValType, what: str) -> None:
        """A constant expression of exactly one operator whose result is ``want``."""
        if len(e.ops) != 1:
            raise _bad(f"{what} has {len(e.ops)} operators, not one")
        op = e.ops[0]
        kind, value = op.kind, op.value
        if kind == ConstOpKind.GLOBAL_GET:
            # as the spec says: only imported globals, which are initialized first
            if not 0 <= value < m.num_imported_globals:
                raise _bad(f"{what} reads global {value}, which is not an imported global")
            have = m.globals[value].content
        elif kind == ConstOpKind.REF_NULL:
            if value not in (ValType.FUNCREF, ValType.EXTERNREF):
                raise _bad(f"{what} is a null reference of type {value:#x}")
            have = ValType(value)
        else:
            have = _CONST_RESULT[kind]
            if kind == ConstOpKind.REF_FUNC:
                if not 0 <= value < nfuncs:
                    raise _bad(f"{what} refers to missing function {value}")
            else:
                # integers may be kept signed or unsigned; floats and v128 are raw bits
                bits = _CONST_BITS[kind]
                lowest = -(1 << (bits - 1)) if kind in _SIGNED_CONSTS else 0
                if not lowest <= value < 1 << bits:
                    raise _bad(f"{what}: {have.text} constant {value} is out of range")
        if have != want:
            raise _bad(f"{what} produces {have.text}, but {want.text} is needed")

    for i, init_expr in enumerate(m.global_inits):
        g = m.num_imported_globals + i
        expr(init_expr, m.globals[g].content, f"initializer of global {g}")
    for i, seg in enumerate(m.elements):
        what = f"element segment {i}"
        if not seg.element.is_ref:
            raise _bad(f"{what} holds {seg.element.text}, not references")
        if (seg.functions is None) == (seg.expressions is None):
            raise _bad(f"{what} must hold either functions or expressions")
        if seg.mode == SegmentMode.ACTIVE:
            if seg.table_index >= ntables:
                raise _bad(f"{what} targets missing table {seg.table_index}")
            if seg.offset is None:
                raise _bad(f"active {what} has no offset")
            if m.tables[seg.table_index].element != seg.element:
                raise _bad(f"{what} holds {seg.element.text}, but its table does not")
        if seg.offset is not None:
            expr(seg.offset, ValType.I32, f"offset of {what}")
        if seg.functions is not None:
            if seg.element != ValType.FUNCREF:
                raise _bad(f"{what} lists functions but holds {seg.element.text}")
            if seg.functions and max(seg.functions) >= nfuncs:
                raise _bad(f"{what} refers to missing function {max(seg.functions)}")
        for item in seg.expressions or ():
            expr(item, seg.element, what)
    init = m.memory_initialization
    if isinstance(init, SegmentedMemoryInitialization):
        for s in init.segments:
            if s.memory_index >= nmems:
                raise _bad(f"data segment targets missing memory {s.memory_index}")
            expr(s.offset, ValType.I32, "data segment offset")
    elif len(init.map) != nmems:
        raise _bad(f"{len(init.map)} memory images for {nmems} memories")
    previous = -1
    for idx, _rng in m.passive_data:
        if idx <= previous or idx >= m.num_data:
            raise _bad(f"passive data index {idx} is out of order or out of range")
        previous = idx


def check_info(info: CompiledModuleInfo) -> None:
    """``check_module_info`` plus the per-function tables' shapes."""
    m = info.module
    check_module_info(m)
    if len(info.funcs) != m.num_defined_funcs:
        raise _bad(f"{len(info.funcs)} compiled functions for {m.num_defined_funcs} defined")
    previous = -1
    for n in info.func_names:
        if n.idx <= previous or n.idx >= len(m.functions):
            raise _bad(f"function name for index {n.idx} is out of order or out of range")
        previous = n.idx
    previous = -1
    for ty, _loc in info.wasm_to_array_trampolines:
        if ty <= previous or ty >= len(m.types):
            raise _bad(f"wasm-to-array trampoline for type {ty} is out of order or out of range")
        previous = ty
