"""decode_module: decode a WebAssembly 2.0 binary module into a ModuleTranslation.

Decoding follows the spec reference interpreter so that malformed modules are
rejected with its wording: the module is read as one stream (a section's contents
are not cut off at its declared size; overruns are caught by the size check at its
end), lengths are checked against the bytes that remain, and section order,
function/code counts and the data count are checked after the last section.
Function bodies are only framed here (size, locals); their instructions are
decoded by the body validator. Only when something fails are the bodies decoded
structurally here, so that the error the spec would meet first (a malformed body
before a later malformed section, or before anything invalid) is the one reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cwasm.errors import MalformedError, WasmError
from cwasm.wasm.constexpr import RawConstExpr, read_const_expr
from cwasm.wasm.entity_types import (
    read_global_type,
    read_memory_type,
    read_name,
    read_table_type,
    read_tag_type,
)
from cwasm.wasm.gc_types import GC_TYPE_FORMS, CompositeType, SubType, read_rec_group
from cwasm.wasm.instructions import EXCEPTION_OPCODES, read_instructions
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.module_validator import validate_module
from cwasm.wasm.names import read_name_section
from cwasm.wasm.operators import read_ref_type, read_value_type
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import (
    ConstExpr,
    DataSegment,
    ElementSegment,
    Export,
    ExternKind,
    FunctionBody,
    FuncType,
    GlobalType,
    Import,
    MemoryType,
    SegmentMode,
    TableType,
    ValType,
    ValueType,
)

MAGIC = b"\x00asm"
VERSION = b"\x01\x00\x00\x00"

EOF_MESSAGE = "unexpected end of section or function"

CUSTOM_SECTION = 0
TYPE_SECTION = 1
IMPORT_SECTION = 2
FUNCTION_SECTION = 3
TABLE_SECTION = 4
MEMORY_SECTION = 5
GLOBAL_SECTION = 6
EXPORT_SECTION = 7
START_SECTION = 8
ELEMENT_SECTION = 9
CODE_SECTION = 10
DATA_SECTION = 11
DATA_COUNT_SECTION = 12
TAG_SECTION = 13  # exception handling: between the memory and global sections

# Position of each non-custom section in the required order (data count precedes code).
_SECTION_RANK = {
    TYPE_SECTION: 0,
    IMPORT_SECTION: 1,
    FUNCTION_SECTION: 2,
    TABLE_SECTION: 3,
    MEMORY_SECTION: 4,
    TAG_SECTION: 5,
    GLOBAL_SECTION: 6,
    EXPORT_SECTION: 7,
    START_SECTION: 8,
    ELEMENT_SECTION: 9,
    DATA_COUNT_SECTION: 10,
    CODE_SECTION: 11,
    DATA_SECTION: 12,
}

MAX_LOCALS = 0xFFFF_FFFF
#: the byte that starts a table definition with an initializer expression
TABLE_WITH_INIT = 0x40


@dataclass(slots=True)
class ElementNotes:
    """Where an element segment's parts were found, for validation."""

    offset: int
    offset_expr: RawConstExpr | None
    items: list[RawConstExpr] | None  # expression encodings
    item_offsets: list[int] | None  # function-index encodings: offset of each index


@dataclass(slots=True)
class DecodeNotes:
    """What validation needs beyond the ModuleTranslation: raw initializers and offsets."""

    import_offsets: list[int] = field(default_factory=list)
    func_offsets: list[int] = field(default_factory=list)  # function section entries
    table_offsets: list[int] = field(default_factory=list)  # defined tables
    table_inits: list[RawConstExpr | None] = field(default_factory=list)  # defined tables
    memory_offsets: list[int] = field(default_factory=list)  # defined memories
    tag_offsets: list[int] = field(default_factory=list)  # defined tags
    global_inits: list[RawConstExpr] = field(default_factory=list)
    export_offsets: list[int] = field(default_factory=list)
    start_offset: int = 0
    elements: list[ElementNotes] = field(default_factory=list)
    data_offsets: list[int] = field(default_factory=list)
    data_exprs: list[RawConstExpr | None] = field(default_factory=list)


def decode_module(
    wasm: bytes,
    *,
    validate: bool = True,
    extended_const: bool = True,
    multi_memory: bool = True,
    threads: bool = True,
    memory64: bool = True,
    exceptions: bool = True,
) -> ModuleTranslation:
    """Decode a binary module and, when ``validate``, validate it (with the extended
    constant expressions unless ``extended_const`` is false, with several memories and
    memory indices unless ``multi_memory`` is false: Wasm 2.0's wording then; with
    shared memories' limits flags unless ``threads`` is false: Wasm 2.0 then finds
    those flags malformed; with 64-bit memories and tables and u64 memarg offsets
    unless ``memory64`` is false). With ``exceptions`` false, bytes that do not decode
    get Wasm 2.0's error (which has no tag section, tag imports or exception-handling
    opcodes); a module that decodes is left to ``check_features`` to refuse.

    Raises ``MalformedError`` for bytes that do not decode and ``InvalidError`` for
    a module that does not validate, with the spec interpreter's wording. Function
    body instructions are decoded by the body validator, so with ``validate=False``
    a body's instructions are not checked at all.
    """
    wasm = bytes(wasm)
    decoder = _Decoder(wasm, threads, memory64)
    try:
        module, notes = decoder.module()
    except MalformedError as e:
        # the spec decodes bodies in stream order: a body before the error may fail first
        early = decoder.body_error(data_count_known=False)
        if early is not None:
            raise early from None
        if not exceptions:  # Wasm 2.0's decoder would have stopped elsewhere
            raise _error_without_exceptions(wasm, threads, memory64) or e from None
        raise
    if validate:
        try:
            validate_module(module, notes, extended_const, multi_memory, memory64)
        except WasmError:
            # the spec decodes everything before validating: a malformed body wins
            early = decoder.body_error(data_count_known=True)
            if early is not None:
                raise early from None
            raise
    return module


def _error_without_exceptions(wasm: bytes, threads: bool, memory64: bool) -> MalformedError | None:
    """The error of a decoding of ``wasm`` without exception handling (as Wasm 2.0's),
    with the other proposals as the caller has them."""
    decoder = _Decoder(wasm, threads, memory64, exceptions=False)
    try:
        decoder.module()
    except MalformedError as e:
        return decoder.body_error(data_count_known=False) or e
    return None


class _Decoder:
    """Reads one module; ``r`` spans the whole binary, as in the spec."""

    def __init__(
        self, wasm: bytes, threads: bool = True, memory64: bool = True, exceptions: bool = True
    ) -> None:
        self.wasm = wasm
        self.threads = threads
        self.memory64 = memory64
        #: False: decode as Wasm 2.0 does (no tag section, tag imports and exports, or
        #: exception-handling opcodes; see ``decode_module``)
        self.exceptions = exceptions
        self.illegal = frozenset() if exceptions else EXCEPTION_OPCODES
        self.r = BinaryReader(wasm, 0, len(wasm), EOF_MESSAGE)
        self.m = ModuleTranslation(wasm)
        self.notes = DecodeNotes()
        # the ModuleRecord's fields, filled section by section and frozen at the end
        self.types: list[CompositeType] = []
        # GC: (type index, declaration) of each type the type section declares with a
        # GC form (the others are final function types in groups of their own)
        self.sub_types: list[tuple[int, SubType]] = []
        self.imports: list[Import] = []
        self.functions: list[int] = []
        self.tables: list[TableType] = []
        self.memories: list[MemoryType] = []
        self.globals: list[GlobalType] = []
        self.global_inits: list[ConstExpr] = []
        self.exports: list[Export] = []
        self.start: int | None = None
        self.elements: list[ElementSegment] = []
        self.num_imported_funcs = 0
        self.num_imported_tables = 0
        self.num_imported_memories = 0
        self.num_imported_globals = 0
        self.tags: list[int] = []  # type index per tag index, imports first
        self.num_imported_tags = 0
        self.num_defined_funcs = 0
        # (offset, code_start, end, locals) of each body, typed once counts are known
        self.raw_bodies: list[tuple[int, int, int, tuple[tuple[int, ValueType], ...]]] = []

    def module(self) -> tuple[ModuleTranslation, DecodeNotes]:
        r = self.r
        wasm = self.wasm
        head = r.bytes(4)
        if head != MAGIC:
            raise MalformedError("magic header not detected", 0)
        if r.bytes(4) != VERSION:
            raise MalformedError("unknown binary version", 4)
        size = len(wasm)
        next_rank = 0
        while r.pos < size:
            section_id = wasm[r.pos]
            if section_id > TAG_SECTION or (section_id == TAG_SECTION and not self.exceptions):
                raise MalformedError("malformed section id", r.pos)
            if section_id == CUSTOM_SECTION:
                r.pos += 1
                self._custom_section()
                continue
            rank = _SECTION_RANK[section_id]
            if rank < next_rank:
                break  # out of order or repeated
            next_rank = rank + 1
            r.pos += 1
            section_size = r.len32()
            start = r.pos
            self._SECTION_READERS[section_id](self, start)
            if r.pos != start + section_size:
                raise MalformedError("section size mismatch", start)
        if r.pos != size:
            raise MalformedError("unexpected content after last section", size)
        m = self.m
        if self.num_defined_funcs != len(self.raw_bodies):
            raise MalformedError("function and code section have inconsistent lengths", size)
        if m.data_count is not None and m.data_count != len(m.data):
            raise MalformedError("data count and data section have inconsistent lengths", size)
        first = self.num_imported_funcs
        functions = self.functions
        m.bodies = [
            FunctionBody(functions[first + i], offset, code_start, end, locals_)
            for i, (offset, code_start, end, locals_) in enumerate(self.raw_bodies)
        ]
        m.module = ModuleRecord(
            types=tuple(self.types),
            imports=tuple(self.imports),
            functions=tuple(functions),
            tables=tuple(self.tables),
            memories=tuple(self.memories),
            globals=tuple(self.globals),
            global_inits=tuple(self.global_inits),
            exports=tuple(self.exports),
            start=self.start,
            elements=tuple(self.elements),
            num_imported_funcs=self.num_imported_funcs,
            num_imported_tables=self.num_imported_tables,
            num_imported_memories=self.num_imported_memories,
            num_imported_globals=self.num_imported_globals,
            tags=tuple(self.tags),
            num_imported_tags=self.num_imported_tags,
            sub_types=self._full_sub_types(),
            table_inits=tuple(e.to_const_expr() if e else None for e in self.notes.table_inits)
            if any(self.notes.table_inits)
            else (),
        )
        return m, self.notes

    def _full_sub_types(self) -> tuple[SubType, ...]:
        """The ``SubType`` of every type, or () when none was declared with a GC form."""
        if not self.sub_types:
            return ()
        full = [SubType(-1, True, i, 1) for i in range(len(self.types))]
        for index, sub in self.sub_types:
            full[index] = sub
        return tuple(full)

    def body_error(self, *, data_count_known: bool) -> MalformedError | None:
        """The error the spec's decoder would raise for the bodies framed so far.

        Each body's instructions are decoded from its first instruction with the
        whole module as the stream, as the spec does (an unterminated body runs into
        the bytes after it). With ``data_count_known`` (decoding finished), a body
        using passive data without a data count section is an error too.
        """
        wasm = self.wasm
        uses_data = False
        for offset, code_start, end, _ in self.raw_bodies:
            r = BinaryReader(wasm, code_start, len(wasm), EOF_MESSAGE)
            try:
                uses_data |= read_instructions(r, None, self.memory64, self.illegal)
            except MalformedError as e:
                return e
            if r.pos != end:
                return MalformedError("section size mismatch", offset)
        if data_count_known and uses_data and self.m.data_count is None:
            return MalformedError("data count section required", len(wasm))
        return None

    # -- sections -----------------------------------------------------------------

    def _custom_section(self) -> None:
        r = self.r
        size = r.len32()
        start = r.pos
        name = read_name(r)
        payload = r.pos
        r.skip(size - (payload - start))
        end = r.pos
        m = self.m
        m.custom_sections.append((name, payload, end))
        if name == "name":
            read_name_section(self.wasm, payload, end, m.names, len(self.functions))
        elif name.startswith(".debug_"):
            m.dwarf[name] = (payload, end)

    def _type_section(self, start: int) -> None:
        r = self.r
        types = self.types
        for _ in range(r.len32()):
            form = r.u8()
            if form != 0x60:
                if form in GC_TYPE_FORMS:  # a recursion group, subtype, struct or array
                    r.pos -= 1
                    read_rec_group(r, types, self.sub_types, read_value_type)
                    continue
                if form & 0x80:
                    raise MalformedError("integer representation too long", r.pos)
                raise MalformedError("malformed function type", r.pos - 1)
            params = tuple([read_value_type(r) for _ in range(r.len32())])
            results = tuple([read_value_type(r) for _ in range(r.len32())])
            types.append(FuncType(params, results))

    def _import_section(self, start: int) -> None:
        r = self.r
        offsets = self.notes.import_offsets
        for _ in range(r.len32()):
            offsets.append(r.pos)
            module_name = read_name(r)
            item_name = read_name(r)
            kind = r.u8()
            desc: int | TableType | MemoryType | GlobalType
            if kind == ExternKind.FUNC:
                desc = r.u32()
                self.functions.append(desc)
                self.num_imported_funcs += 1
            elif kind == ExternKind.TABLE:
                desc = read_table_type(r, self.memory64)
                self.tables.append(desc)
                self.num_imported_tables += 1
            elif kind == ExternKind.MEMORY:
                desc = read_memory_type(r, self.threads, self.memory64)
                self.memories.append(desc)
                self.num_imported_memories += 1
            elif kind == ExternKind.GLOBAL:
                desc = read_global_type(r)
                self.globals.append(desc)
                self.num_imported_globals += 1
            elif kind == ExternKind.TAG and self.exceptions:
                desc = read_tag_type(r)
                self.tags.append(desc)
                self.num_imported_tags += 1
            else:
                raise MalformedError("malformed import kind", r.pos - 1)
            self.imports.append(Import(module_name, item_name, ExternKind(kind), desc))

    def _function_section(self, start: int) -> None:
        r = self.r
        functions = self.functions
        offsets = self.notes.func_offsets
        n = r.len32()
        for _ in range(n):
            offsets.append(r.pos)
            functions.append(r.u32())
        self.num_defined_funcs += n

    def _table_section(self, start: int) -> None:
        r = self.r
        for _ in range(r.len32()):
            self.notes.table_offsets.append(r.pos)
            init: RawConstExpr | None = None
            if r.peek() == TABLE_WITH_INIT:  # 0x40 0x00 tabletype expr (Wasm 3.0)
                r.pos += 1
                if r.u8() != 0:
                    raise MalformedError("malformed table", r.pos - 1)
                self.tables.append(read_table_type(r, self.memory64))
                init = read_const_expr(r, self.illegal)
                self.m.declared_refs.update(init.func_refs())
            else:
                self.tables.append(read_table_type(r, self.memory64))
            self.notes.table_inits.append(init)

    def _memory_section(self, start: int) -> None:
        r = self.r
        for _ in range(r.len32()):
            self.notes.memory_offsets.append(r.pos)
            self.memories.append(read_memory_type(r, self.threads, self.memory64))

    def _tag_section(self, start: int) -> None:
        r = self.r
        for _ in range(r.len32()):
            self.notes.tag_offsets.append(r.pos)
            self.tags.append(read_tag_type(r))

    def _global_section(self, start: int) -> None:
        r = self.r
        m = self.m
        for _ in range(r.len32()):
            self.globals.append(read_global_type(r))
            init = read_const_expr(r, self.illegal)
            self.notes.global_inits.append(init)
            self.global_inits.append(init.to_const_expr())
            m.declared_refs.update(init.func_refs())

    def _export_section(self, start: int) -> None:
        r = self.r
        m = self.m
        for _ in range(r.len32()):
            self.notes.export_offsets.append(r.pos)
            name = read_name(r)
            kind = r.u8()
            if kind > (ExternKind.TAG if self.exceptions else ExternKind.GLOBAL):
                raise MalformedError("malformed export kind", r.pos - 1)
            index = r.u32()
            if kind == ExternKind.FUNC:
                m.declared_refs.add(index)
            self.exports.append(Export(name, ExternKind(kind), index))

    def _start_section(self, start: int) -> None:
        self.notes.start_offset = self.r.pos
        self.start = self.r.u32()

    def _element_section(self, start: int) -> None:
        r = self.r
        m = self.m
        for _ in range(r.len32()):
            seg_offset = r.pos
            flags = r.u32()
            if flags > 7:
                raise MalformedError("malformed elements segment kind", r.pos - 1)
            # bit 0: passive or declarative; bit 1: explicit table index (active) or
            # declarative; bit 2: element expressions instead of function indices
            if flags & 1:
                mode = SegmentMode.DECLARATIVE if flags & 2 else SegmentMode.PASSIVE
            else:
                mode = SegmentMode.ACTIVE
            table_index = 0
            offset_expr: RawConstExpr | None = None
            if mode == SegmentMode.ACTIVE:
                if flags & 2:
                    table_index = r.u32()
                offset_expr = read_const_expr(r, self.illegal)
                m.declared_refs.update(offset_expr.func_refs())
            element: ValueType = ValType.FUNCREF
            if flags & 4:
                if flags & 3:
                    element = read_ref_type(r)
                items = [read_const_expr(r, self.illegal) for _ in range(r.len32())]
                for item in items:
                    m.declared_refs.update(item.func_refs())
                segment = ElementSegment(
                    mode,
                    element,
                    table_index,
                    offset_expr.to_const_expr() if offset_expr else None,
                    expressions=tuple([item.to_const_expr() for item in items]),
                )
                self.notes.elements.append(ElementNotes(seg_offset, offset_expr, items, None))
            else:
                if flags & 3:
                    kind = r.u8()
                    if kind != 0x00:
                        raise MalformedError("malformed element kind", r.pos - 1)
                n = r.len32()
                positions: list[int] = []
                functions: list[int] = []
                for _ in range(n):
                    positions.append(r.pos)
                    functions.append(r.u32())
                m.declared_refs.update(functions)
                segment = ElementSegment(
                    mode,
                    element,
                    table_index,
                    offset_expr.to_const_expr() if offset_expr else None,
                    functions=tuple(functions),
                )
                self.notes.elements.append(ElementNotes(seg_offset, offset_expr, None, positions))
            self.elements.append(segment)

    def _data_count_section(self, start: int) -> None:
        self.m.data_count = self.r.u32()

    def _code_section(self, start: int) -> None:
        r = self.r
        wasm = self.wasm
        self.m.code_section_offset = start
        bodies = self.raw_bodies
        u32 = r.u32
        for _ in range(r.len32()):
            size = r.len32()
            offset = r.pos
            end = offset + size
            # local declarations: a vector of (count, type)
            locals_pos = offset
            p = offset
            if p < len(wasm) and wasm[p] == 0 and end > p:
                r.pos = p + 1
                locals_: tuple[tuple[int, ValueType], ...] = ()
            else:
                decls = []
                total = 0
                for _ in range(r.len32()):
                    count = u32()
                    decls.append((count, read_value_type(r)))
                    total += count
                if total > MAX_LOCALS:
                    raise MalformedError("too many locals", locals_pos)
                locals_ = tuple(decls)
            code_start = r.pos
            bodies.append((offset, code_start, end, locals_))
            if code_start > end:
                raise MalformedError("section size mismatch", offset)
            if end > len(wasm):
                raise MalformedError(EOF_MESSAGE, len(wasm))
            r.pos = end

    def _data_section(self, start: int) -> None:
        r = self.r
        m = self.m
        notes = self.notes
        for _ in range(r.len32()):
            notes.data_offsets.append(r.pos)
            flags = r.u32()
            if flags > 2:
                raise MalformedError("malformed data segment kind", r.pos - 1)
            if flags == 1:
                mode = SegmentMode.PASSIVE
                memory_index = 0
                offset_expr = None
            else:
                mode = SegmentMode.ACTIVE
                memory_index = r.u32() if flags == 2 else 0
                offset_expr = read_const_expr(r, self.illegal)
                m.declared_refs.update(offset_expr.func_refs())
            n = r.len32()
            data_offset = r.pos
            data = r.bytes(n)
            notes.data_exprs.append(offset_expr)
            m.data.append(
                DataSegment(
                    mode,
                    data,
                    memory_index,
                    offset_expr.to_const_expr() if offset_expr else None,
                    data_offset,
                )
            )

    _SECTION_READERS = {
        TYPE_SECTION: _type_section,
        IMPORT_SECTION: _import_section,
        FUNCTION_SECTION: _function_section,
        TABLE_SECTION: _table_section,
        MEMORY_SECTION: _memory_section,
        TAG_SECTION: _tag_section,
        GLOBAL_SECTION: _global_section,
        EXPORT_SECTION: _export_section,
        START_SECTION: _start_section,
        ELEMENT_SECTION: _element_section,
        DATA_COUNT_SECTION: _data_count_section,
        CODE_SECTION: _code_section,
        DATA_SECTION: _data_section,
    }
