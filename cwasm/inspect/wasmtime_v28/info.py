"""Wasmtime v28's ``.wasmtime.info`` of a core module (docs/artifact-format.md §2.2).

Wasmtime writes postcard ``(CompiledModuleInfo, ModuleTypes)`` with its own schema,
which differs from cwasm's. This module reads it into dataclasses named after
Wasmtime's types so ``cwasm inspect`` can show everything inside such a file; the
types half is in ``module_types``.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from cwasm.inspect.wasmtime_v28.decoding import (
    RESERVED_INDEX,
    WasmtimeFormatError,
    decoding,
    range32,
    range64,
    tuple_of,
)
from cwasm.inspect.wasmtime_v28.module_types import (
    ModuleTypes,
    RefType,
    ValType,
    read_module_types,
    read_ref_type,
    read_val_type,
)
from cwasm.obj.postcard import Reader
from cwasm.wasm.types import ExternKind


class ConstOpcode(enum.IntEnum):
    """Variants of Wasmtime's ``ConstOp``."""

    I32_CONST = 0
    I64_CONST = 1
    F32_CONST = 2
    F64_CONST = 3
    V128_CONST = 4
    GLOBAL_GET = 5
    REF_I31 = 6
    REF_NULL = 7
    REF_FUNC = 8
    I32_ADD = 9
    I32_SUB = 10
    I32_MUL = 11
    I64_ADD = 12
    I64_SUB = 13
    I64_MUL = 14
    STRUCT_NEW = 15
    STRUCT_NEW_DEFAULT = 16
    ARRAY_NEW = 17
    ARRAY_NEW_DEFAULT = 18
    ARRAY_NEW_FIXED = 19


@dataclass(frozen=True, slots=True)
class ConstOp:
    opcode: ConstOpcode
    operands: tuple[int, ...] = ()

    def __str__(self) -> str:
        name = self.opcode.name.lower().replace("_", ".", 1)
        if self.opcode in (ConstOpcode.F32_CONST, ConstOpcode.F64_CONST):
            fmt = "<f" if self.opcode is ConstOpcode.F32_CONST else "<d"
            size = "<I" if self.opcode is ConstOpcode.F32_CONST else "<Q"
            value = struct.unpack(fmt, struct.pack(size, self.operands[0]))[0]
            return f"{name} {value!r}"
        return " ".join([name, *(str(o) for o in self.operands)])


@dataclass(frozen=True, slots=True)
class ConstExpr:
    ops: tuple[ConstOp, ...]

    def __str__(self) -> str:
        return "; ".join(str(op) for op in self.ops)

    def constant(self) -> int | None:
        """The value of a lone ``i32.const``/``i64.const``, else None."""
        if len(self.ops) == 1 and self.ops[0].opcode in (
            ConstOpcode.I32_CONST,
            ConstOpcode.I64_CONST,
        ):
            return self.ops[0].operands[0]
        return None


@dataclass(frozen=True, slots=True)
class EntityIndex:
    kind: ExternKind  # Function 0, Table 1, Memory 2, Global 3: the same numbering
    index: int


@dataclass(frozen=True, slots=True)
class ModuleImport:
    """``Initializer::Import``: one import of the module."""

    module: str
    field: str
    index: EntityIndex


@dataclass(frozen=True, slots=True)
class TableSegmentElements:
    """Either function indices or constant expressions."""

    functions: tuple[int, ...] | None
    expressions: tuple[ConstExpr, ...] | None

    def __len__(self) -> int:
        return len(self.functions if self.functions is not None else self.expressions or ())


@dataclass(frozen=True, slots=True)
class TableInitialValue:
    """Either ``Null{precomputed}`` (expr None) or ``Expr(expr)``."""

    precomputed: tuple[int, ...] | None
    expr: ConstExpr | None


@dataclass(frozen=True, slots=True)
class TableSegment:
    table_index: int
    offset: ConstExpr
    elements: TableSegmentElements


@dataclass(frozen=True, slots=True)
class TableInitialization:
    initial_values: tuple[TableInitialValue, ...]
    segments: tuple[TableSegment, ...]


@dataclass(frozen=True, slots=True)
class MemoryInitializer:
    """One segment of ``MemoryInitialization::Segmented`` (data: range in ``.rodata.wasm``)."""

    memory_index: int
    offset: ConstExpr
    data: range


@dataclass(frozen=True, slots=True)
class StaticMemoryInitializer:
    """A page-aligned image placed at ``offset`` in linear memory."""

    offset: int
    data: range


@dataclass(frozen=True, slots=True)
class MemoryInitialization:
    """``Segmented`` (``segments`` set) or ``Static`` (``static_map`` set)."""

    segments: tuple[MemoryInitializer, ...] | None
    static_map: tuple[StaticMemoryInitializer | None, ...] | None

    @property
    def kind(self) -> str:
        return "Segmented" if self.segments is not None else "Static"


class IndexType(enum.IntEnum):
    I32 = 0
    I64 = 1


@dataclass(frozen=True, slots=True)
class Limits:
    min: int
    max: int | None


@dataclass(frozen=True, slots=True)
class Table:
    idx_type: IndexType
    limits: Limits
    ref_type: RefType


@dataclass(frozen=True, slots=True)
class Memory:
    idx_type: IndexType
    limits: Limits  # in pages of 2**page_size_log2 bytes
    shared: bool
    page_size_log2: int


@dataclass(frozen=True, slots=True)
class Global:
    wasm_ty: ValType
    mutability: bool


@dataclass(frozen=True, slots=True)
class FunctionType:
    """Per-function entry of ``Module::functions`` (``func_ref`` None: not escaping)."""

    signature: int
    func_ref: int | None


@dataclass(frozen=True, slots=True)
class Module:
    """Wasmtime's ``wasmtime_environ::Module`` as serialized in the info section."""

    name: str | None
    imports: tuple[ModuleImport, ...]
    exports: tuple[tuple[str, EntityIndex], ...]  # insertion order
    start_func: int | None
    table_initialization: TableInitialization
    memory_initialization: MemoryInitialization
    passive_elements: tuple[TableSegmentElements, ...]
    passive_elements_map: tuple[tuple[int, int], ...]  # ElemIndex -> passive_elements index
    passive_data_map: tuple[tuple[int, range], ...]  # DataIndex -> range in .rodata.wasm
    types: tuple[int, ...]  # TypeIndex -> module-interned type index
    num_imported_funcs: int
    num_imported_tables: int
    num_imported_memories: int
    num_imported_globals: int
    num_escaped_funcs: int
    num_call_indirect_caches: int
    functions: tuple[FunctionType, ...]
    tables: tuple[Table, ...]
    memories: tuple[Memory, ...]
    globals: tuple[Global, ...]
    global_initializers: tuple[ConstExpr, ...]  # defined globals only


@dataclass(frozen=True, slots=True)
class FunctionLoc:
    start: int  # text offset
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True, slots=True)
class StackMapInformation:
    code_offset: int
    bits: tuple[int, ...]  # the bit set's words
    bits_max: int | None
    frame_size: int


@dataclass(frozen=True, slots=True)
class CompiledFunctionInfo:
    start_srcloc: int  # wasm offset of the body, just after its size
    stack_maps: tuple[StackMapInformation, ...]
    wasm_func_loc: FunctionLoc
    array_to_wasm_trampoline: FunctionLoc | None


@dataclass(frozen=True, slots=True)
class FunctionName:
    idx: int  # FuncIndex
    offset: int  # into .name.wasm
    len: int


@dataclass(frozen=True, slots=True)
class ModuleMetadata:
    has_unparsed_debuginfo: bool
    code_section_offset: int
    has_wasm_debuginfo: bool
    is_pulley: bool
    dwarf: tuple[tuple[int, range], ...]  # (gimli SectionId, range in .wasmtime.dwarf)


@dataclass(frozen=True, slots=True)
class CompiledModuleInfo:
    module: Module
    funcs: tuple[CompiledFunctionInfo, ...]  # DefinedFuncIndex order
    func_names: tuple[FunctionName, ...]
    wasm_to_array_trampolines: tuple[tuple[int, FunctionLoc], ...]
    meta: ModuleMetadata


@dataclass(frozen=True, slots=True)
class ModuleInfoSection:
    """The decoded ``.wasmtime.info`` of a core module."""

    info: CompiledModuleInfo
    types: ModuleTypes
    trailing_bytes: int


def _const_op(r: Reader) -> ConstOp:
    op = ConstOpcode(r.enum(len(ConstOpcode)))
    if op is ConstOpcode.I32_CONST:
        return ConstOp(op, (r.zigzag(32),))
    if op is ConstOpcode.I64_CONST:
        return ConstOp(op, (r.zigzag(64),))
    if op is ConstOpcode.F32_CONST:
        return ConstOp(op, (r.u32(),))
    if op is ConstOpcode.F64_CONST:
        return ConstOp(op, (r.u64(),))
    if op is ConstOpcode.V128_CONST:
        return ConstOp(op, (r.varint(128),))
    if op is ConstOpcode.ARRAY_NEW_FIXED:
        return ConstOp(op, (r.u32(), r.u32()))
    if op in (
        ConstOpcode.GLOBAL_GET,
        ConstOpcode.REF_FUNC,
        ConstOpcode.STRUCT_NEW,
        ConstOpcode.STRUCT_NEW_DEFAULT,
        ConstOpcode.ARRAY_NEW,
        ConstOpcode.ARRAY_NEW_DEFAULT,
    ):
        return ConstOp(op, (r.u32(),))
    return ConstOp(op)


def _const_expr(r: Reader) -> ConstExpr:
    return ConstExpr(tuple_of(r, lambda: _const_op(r)))


def _entity_index(r: Reader) -> EntityIndex:
    kind = ExternKind(r.enum(4))
    return EntityIndex(kind, r.u32())


def _import(r: Reader) -> ModuleImport:
    if r.enum(1) != 0:  # Initializer has the single variant Import
        raise WasmtimeFormatError("unknown module initializer")
    module = r.str()
    field = r.str()
    return ModuleImport(module, field, _entity_index(r))


def _segment_elements(r: Reader) -> TableSegmentElements:
    if r.enum(2) == 0:
        return TableSegmentElements(tuple_of(r, r.u32), None)
    return TableSegmentElements(None, tuple_of(r, lambda: _const_expr(r)))


def _table_initial_value(r: Reader) -> TableInitialValue:
    if r.enum(2) == 0:
        return TableInitialValue(tuple_of(r, r.u32), None)
    return TableInitialValue(None, _const_expr(r))


def _table_segment(r: Reader) -> TableSegment:
    table_index = r.u32()
    offset = _const_expr(r)
    return TableSegment(table_index, offset, _segment_elements(r))


def _memory_initializer(r: Reader) -> MemoryInitializer:
    memory_index = r.u32()
    offset = _const_expr(r)
    return MemoryInitializer(memory_index, offset, range32(r))


def _static_initializer(r: Reader) -> StaticMemoryInitializer:
    offset = r.u64()
    return StaticMemoryInitializer(offset, range32(r))


def _memory_initialization(r: Reader) -> MemoryInitialization:
    if r.enum(2) == 0:
        return MemoryInitialization(tuple_of(r, lambda: _memory_initializer(r)), None)
    return MemoryInitialization(None, tuple_of(r, lambda: r.option(lambda: _static_initializer(r))))


def _limits(r: Reader) -> Limits:
    minimum = r.u64()
    return Limits(minimum, r.option(r.u64))


def _table(r: Reader) -> Table:
    idx_type = IndexType(r.enum(2))
    limits = _limits(r)
    return Table(idx_type, limits, read_ref_type(r))


def _memory(r: Reader) -> Memory:
    idx_type = IndexType(r.enum(2))
    limits = _limits(r)
    shared = r.bool()
    return Memory(idx_type, limits, shared, r.u8())


def _global(r: Reader) -> Global:
    ty = read_val_type(r)
    return Global(ty, r.bool())


def _function_type(r: Reader) -> FunctionType:
    signature = r.u32()
    func_ref = r.u32()
    return FunctionType(signature, None if func_ref == RESERVED_INDEX else func_ref)


def _module(r: Reader) -> Module:
    name = r.option(r.str)
    imports = tuple_of(r, lambda: _import(r))
    exports = tuple_of(r, lambda: (r.str(), _entity_index(r)))
    start_func = r.option(r.u32)
    initial_values = tuple_of(r, lambda: _table_initial_value(r))
    segments = tuple_of(r, lambda: _table_segment(r))
    memory_init = _memory_initialization(r)
    passive_elements = tuple_of(r, lambda: _segment_elements(r))
    passive_elements_map = tuple_of(r, lambda: (r.u32(), r.u64()))
    passive_data_map = tuple_of(r, lambda: (r.u32(), range32(r)))
    types = tuple_of(r, r.u32)
    imported = (r.u64(), r.u64(), r.u64(), r.u64())
    num_escaped_funcs, num_call_indirect_caches = r.u64(), r.u64()
    functions = tuple_of(r, lambda: _function_type(r))
    tables = tuple_of(r, lambda: _table(r))
    memories = tuple_of(r, lambda: _memory(r))
    globals_ = tuple_of(r, lambda: _global(r))
    global_inits = tuple_of(r, lambda: _const_expr(r))
    return Module(
        name,
        imports,
        exports,
        start_func,
        TableInitialization(initial_values, segments),
        memory_init,
        passive_elements,
        passive_elements_map,
        passive_data_map,
        types,
        *imported,
        num_escaped_funcs,
        num_call_indirect_caches,
        functions,
        tables,
        memories,
        globals_,
        global_inits,
    )


def _function_loc(r: Reader) -> FunctionLoc:
    start = r.u32()
    return FunctionLoc(start, r.u32())


def _stack_map(r: Reader) -> StackMapInformation:
    code_offset = r.u32()
    elems = tuple_of(r, r.u64)
    bits_max = r.option(r.u32)
    return StackMapInformation(code_offset, elems, bits_max, r.u32())


def _compiled_function(r: Reader) -> CompiledFunctionInfo:
    start_srcloc = r.u32()
    stack_maps = tuple_of(r, lambda: _stack_map(r))
    loc = _function_loc(r)
    tramp = r.option(lambda: _function_loc(r))
    return CompiledFunctionInfo(start_srcloc, stack_maps, loc, tramp)


def _function_name(r: Reader) -> FunctionName:
    idx, offset = r.u32(), r.u32()
    return FunctionName(idx, offset, r.u32())


def _module_metadata(r: Reader) -> ModuleMetadata:
    unparsed = r.bool()
    code_offset = r.u64()
    has_dwarf = r.bool()
    is_pulley = r.bool()
    dwarf = tuple_of(r, lambda: (r.u8(), range64(r)))
    return ModuleMetadata(unparsed, code_offset, has_dwarf, is_pulley, dwarf)


def decode_module_info(data: bytes | memoryview) -> ModuleInfoSection:
    """Decode a core module's ``.wasmtime.info``: ``(CompiledModuleInfo, ModuleTypes)``."""
    r = Reader(memoryview(data))
    with decoding(".wasmtime.info"):
        module = _module(r)
        funcs = tuple_of(r, lambda: _compiled_function(r))
        func_names = tuple_of(r, lambda: _function_name(r))
        w2a = tuple_of(r, lambda: (r.u32(), _function_loc(r)))
        meta = _module_metadata(r)
        types = read_module_types(r)
    info = CompiledModuleInfo(module, funcs, func_names, w2a, meta)
    return ModuleInfoSection(info, types, r.remaining())
