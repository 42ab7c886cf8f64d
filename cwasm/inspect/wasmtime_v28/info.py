"""Decoders for the Wasmtime-specific sections of a genuine v28 artifact (FORMAT.md §2.1, §2.11).

Wasmtime writes ``.wasmtime.engine`` (version byte, version string, postcard
``Metadata``) and ``.wasmtime.info`` (postcard ``(CompiledModuleInfo,
ModuleTypes)`` for a core module) with its own schema, which differs from
cwasm's. This module reads them into dataclasses named after Wasmtime's types so
``cwasm inspect`` can show everything inside such a file.

Every decoder raises :class:`~cwasm.errors.ArtifactError` on malformed input.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from cwasm.errors import ArtifactError
from cwasm.obj.constants import ENGINE_SECTION_VERSION
from cwasm.obj.postcard import Reader
from cwasm.wasm.types import ExternKind

T = TypeVar("T")

#: ``FuncRefIndex`` / ``FilePos`` / trampoline-type value meaning "none".
RESERVED_INDEX = 0xFFFFFFFF


class WasmtimeFormatError(ArtifactError):
    """A Wasmtime section does not decode with the v28 schema."""


# --------------------------------------------------------------------------------------
# .wasmtime.engine


class FlagKind(enum.IntEnum):
    """Variants of Wasmtime's ``FlagValue``."""

    ENUM = 0
    NUM = 1
    BOOL = 2


@dataclass(frozen=True, slots=True)
class FlagValue:
    kind: FlagKind
    value: str | int | bool

    def __str__(self) -> str:
        if self.kind is FlagKind.BOOL:
            return f"Bool({'true' if self.value else 'false'})"
        return f"{self.kind.name.capitalize()}({self.value})"


@dataclass(frozen=True, slots=True)
class Setting:
    """One Cranelift setting as recorded by the compiling engine."""

    name: str
    value: FlagValue


class Collector(enum.IntEnum):
    """Garbage collector of ``Tunables::collector``."""

    DEFERRED_REFERENCE_COUNTING = 0
    NULL = 1


@dataclass(frozen=True, slots=True)
class Tunables:
    collector: Collector | None
    memory_reservation: int
    memory_guard_size: int
    memory_reservation_for_growth: int
    generate_native_debuginfo: bool
    parse_wasm_debuginfo: bool
    consume_fuel: bool
    epoch_interruption: bool
    memory_may_move: bool
    guard_before_linear_memory: bool
    table_lazy_init: bool
    generate_address_map: bool
    debug_adapter_modules: bool
    relaxed_simd_deterministic: bool
    winch_callable: bool
    signals_based_traps: bool
    memory_init_cow: bool


@dataclass(frozen=True, slots=True)
class WasmFeatures:
    reference_types: bool
    multi_value: bool
    bulk_memory: bool
    component_model: bool
    simd: bool
    tail_call: bool
    threads: bool
    multi_memory: bool
    exceptions: bool
    memory64: bool
    relaxed_simd: bool
    extended_const: bool
    function_references: bool
    gc: bool
    custom_page_sizes: bool
    component_model_more_flags: bool
    component_model_multiple_returns: bool
    gc_types: bool
    wide_arithmetic: bool


@dataclass(frozen=True, slots=True)
class EngineMetadata:
    """Wasmtime's engine ``Metadata``: what the compiling engine was configured with."""

    target: str
    shared_flags: tuple[Setting, ...]
    isa_flags: tuple[Setting, ...]
    tunables: Tunables
    features: WasmFeatures


@dataclass(frozen=True, slots=True)
class EngineSection:
    """The decoded ``.wasmtime.engine`` section."""

    version: str
    metadata: EngineMetadata
    trailing_bytes: int  # ignored by Wasmtime's loader, reported by inspect


def split_engine_section(data: bytes | memoryview) -> tuple[str, memoryview]:
    """Split an engine section into its version string and the postcard payload after it.

    The prefix (version byte 0, length byte, string) is shared by Wasmtime and
    cwasm, so this also tells which producer wrote an artifact.
    """
    view = memoryview(data)
    if len(view) == 0:
        raise WasmtimeFormatError("invalid engine section: it is empty")
    if view[0] != ENGINE_SECTION_VERSION:
        raise WasmtimeFormatError(f"mismatched version in engine section: {view[0]}")
    if len(view) < 2:
        raise WasmtimeFormatError("invalid engine section: no version string length")
    length = view[1]
    if len(view) < 2 + length + 1:
        raise WasmtimeFormatError("engine section too small")
    try:
        version = bytes(view[2 : 2 + length]).decode("utf-8")
    except UnicodeDecodeError:
        raise WasmtimeFormatError("engine section version string is not UTF-8") from None
    return version, view[2 + length :]


def _flag_value(r: Reader) -> FlagValue:
    kind = FlagKind(r.enum(len(FlagKind)))
    if kind is FlagKind.ENUM:
        return FlagValue(kind, r.str())
    if kind is FlagKind.NUM:
        return FlagValue(kind, r.u8())
    return FlagValue(kind, r.bool())


def _setting(r: Reader) -> Setting:
    return Setting(r.str(), _flag_value(r))


def _tunables(r: Reader) -> Tunables:
    collector = r.option(lambda: Collector(r.enum(len(Collector))))
    reservation, guard_size, growth = r.u64(), r.u64(), r.u64()
    flags = [r.bool() for _ in range(13)]
    return Tunables(collector, reservation, guard_size, growth, *flags)


def decode_engine_section(data: bytes | memoryview) -> EngineSection:
    """Decode a Wasmtime v28 ``.wasmtime.engine`` section (FORMAT.md §2.1)."""
    version, payload = split_engine_section(data)
    r = Reader(payload)
    with _decoding("engine metadata"):
        target = r.str()
        shared = tuple(r.seq(lambda: _setting(r)))
        isa = tuple(r.seq(lambda: _setting(r)))
        tunables = _tunables(r)
        features = WasmFeatures(*[r.bool() for _ in range(19)])
    meta = EngineMetadata(target, shared, isa, tunables, features)
    return EngineSection(version, meta, r.remaining())


# --------------------------------------------------------------------------------------
# .wasmtime.info: types


class TypeIndexKind(enum.IntEnum):
    """Variants of ``EngineOrModuleTypeIndex``."""

    ENGINE = 0
    MODULE = 1
    REC_GROUP = 2


@dataclass(frozen=True, slots=True)
class TypeIndexRef:
    kind: TypeIndexKind
    index: int

    def __str__(self) -> str:
        return f"{self.kind.name.lower()}:{self.index}"


class HeapKind(enum.IntEnum):
    """Variants of ``WasmHeapType``."""

    EXTERN = 0
    NO_EXTERN = 1
    FUNC = 2
    CONCRETE_FUNC = 3
    NO_FUNC = 4
    ANY = 5
    EQ = 6
    I31 = 7
    ARRAY = 8
    CONCRETE_ARRAY = 9
    STRUCT = 10
    CONCRETE_STRUCT = 11
    NONE = 12


_CONCRETE_HEAP_KINDS = (HeapKind.CONCRETE_FUNC, HeapKind.CONCRETE_ARRAY, HeapKind.CONCRETE_STRUCT)


@dataclass(frozen=True, slots=True)
class HeapType:
    kind: HeapKind
    index: TypeIndexRef | None = None  # concrete kinds only

    def __str__(self) -> str:
        if self.index is not None:
            return str(self.index)
        return self.kind.name.lower().replace("_", "")


@dataclass(frozen=True, slots=True)
class RefType:
    nullable: bool
    heap_type: HeapType

    def __str__(self) -> str:
        if self.nullable and self.heap_type.kind is HeapKind.FUNC:
            return "funcref"
        if self.nullable and self.heap_type.kind is HeapKind.EXTERN:
            return "externref"
        return f"(ref {'null ' if self.nullable else ''}{self.heap_type})"


class ValKind(enum.IntEnum):
    """Variants of ``WasmValType``."""

    I32 = 0
    I64 = 1
    F32 = 2
    F64 = 3
    V128 = 4
    REF = 5


@dataclass(frozen=True, slots=True)
class ValType:
    kind: ValKind
    ref: RefType | None = None  # REF only

    def __str__(self) -> str:
        return str(self.ref) if self.ref is not None else self.kind.name.lower()


class StorageKind(enum.IntEnum):
    """Variants of ``WasmStorageType``."""

    I8 = 0
    I16 = 1
    VAL = 2


@dataclass(frozen=True, slots=True)
class FieldType:
    storage: StorageKind
    val_type: ValType | None  # VAL only
    mutable: bool


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple[ValType, ...]
    non_i31_gc_ref_params_count: int
    returns: tuple[ValType, ...]
    non_i31_gc_ref_returns_count: int

    def __str__(self) -> str:
        params = ", ".join(str(p) for p in self.params)
        returns = ", ".join(str(p) for p in self.returns)
        return f"func({params}) -> ({returns})"


class CompositeKind(enum.IntEnum):
    """Variants of ``WasmCompositeInnerType``."""

    ARRAY = 0
    FUNC = 1
    STRUCT = 2


@dataclass(frozen=True, slots=True)
class CompositeType:
    kind: CompositeKind
    func: FuncType | None  # FUNC
    fields: tuple[FieldType, ...]  # ARRAY: exactly one element type; STRUCT: the fields
    shared: bool


@dataclass(frozen=True, slots=True)
class SubType:
    is_final: bool
    supertype: TypeIndexRef | None
    composite_type: CompositeType

    def __str__(self) -> str:
        c = self.composite_type
        if c.func is not None:
            return str(c.func)
        return f"{c.kind.name.lower()}({len(c.fields)} fields)"


@dataclass(frozen=True, slots=True)
class ModuleTypes:
    rec_groups: tuple[range, ...]
    wasm_types: tuple[SubType, ...]
    # type index -> its trampoline type (None: the SecondaryMap's default)
    trampoline_types: tuple[int | None, ...]
    trampoline_default: int


# --------------------------------------------------------------------------------------
# .wasmtime.info: the module


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


# --------------------------------------------------------------------------------------
# decoding


class _decoding:
    """Context manager: re-raise stray Python errors of a decoder as format errors."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, (ValueError, IndexError, KeyError, OverflowError, struct.error)):
            if not isinstance(exc, ArtifactError):
                raise WasmtimeFormatError(f"cannot decode {self.what}: {exc}") from exc


def _tuple(r: Reader, item: Callable[[], T]) -> tuple[T, ...]:
    return tuple(r.seq(item))


def _range32(r: Reader) -> range:
    start, end = r.u32(), r.u32()
    if end < start:
        raise WasmtimeFormatError(f"range {start}..{end} ends before it starts")
    return range(start, end)


def _range64(r: Reader) -> range:
    start, end = r.u64(), r.u64()
    if end < start:
        raise WasmtimeFormatError(f"range {start}..{end} ends before it starts")
    return range(start, end)


def _type_index_ref(r: Reader) -> TypeIndexRef:
    kind = TypeIndexKind(r.enum(len(TypeIndexKind)))
    return TypeIndexRef(kind, r.u32())


def _heap_type(r: Reader) -> HeapType:
    kind = HeapKind(r.enum(len(HeapKind)))
    if kind in _CONCRETE_HEAP_KINDS:
        return HeapType(kind, _type_index_ref(r))
    return HeapType(kind)


def _ref_type(r: Reader) -> RefType:
    nullable = r.bool()
    return RefType(nullable, _heap_type(r))


def _val_type(r: Reader) -> ValType:
    kind = ValKind(r.enum(len(ValKind)))
    if kind is ValKind.REF:
        return ValType(kind, _ref_type(r))
    return ValType(kind)


def _field_type(r: Reader) -> FieldType:
    storage = StorageKind(r.enum(len(StorageKind)))
    val = _val_type(r) if storage is StorageKind.VAL else None
    return FieldType(storage, val, r.bool())


def _sub_type(r: Reader) -> SubType:
    is_final = r.bool()
    supertype = r.option(lambda: _type_index_ref(r))
    kind = CompositeKind(r.enum(len(CompositeKind)))
    func: FuncType | None = None
    fields: tuple[FieldType, ...] = ()
    if kind is CompositeKind.ARRAY:
        fields = (_field_type(r),)
    elif kind is CompositeKind.FUNC:
        params = _tuple(r, lambda: _val_type(r))
        n_params = r.u64()
        returns = _tuple(r, lambda: _val_type(r))
        func = FuncType(params, n_params, returns, r.u64())
    else:
        fields = _tuple(r, lambda: _field_type(r))
    return SubType(is_final, supertype, CompositeType(kind, func, fields, r.bool()))


def _module_types(r: Reader) -> ModuleTypes:
    rec_groups = _tuple(r, lambda: _range32(r))
    wasm_types = _tuple(r, lambda: _sub_type(r))
    count = r.varint()
    if count == 0 or count > r.remaining():
        raise WasmtimeFormatError("trampoline_types has no default value")
    default = r.option(r.u32)
    if default is None:
        raise WasmtimeFormatError("trampoline_types has no default value")
    entries = tuple(r.option(r.u32) for _ in range(count - 1))
    return ModuleTypes(rec_groups, wasm_types, entries, default)


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
    return ConstExpr(_tuple(r, lambda: _const_op(r)))


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
        return TableSegmentElements(_tuple(r, r.u32), None)
    return TableSegmentElements(None, _tuple(r, lambda: _const_expr(r)))


def _table_initial_value(r: Reader) -> TableInitialValue:
    if r.enum(2) == 0:
        return TableInitialValue(_tuple(r, r.u32), None)
    return TableInitialValue(None, _const_expr(r))


def _table_segment(r: Reader) -> TableSegment:
    table_index = r.u32()
    offset = _const_expr(r)
    return TableSegment(table_index, offset, _segment_elements(r))


def _memory_initializer(r: Reader) -> MemoryInitializer:
    memory_index = r.u32()
    offset = _const_expr(r)
    return MemoryInitializer(memory_index, offset, _range32(r))


def _static_initializer(r: Reader) -> StaticMemoryInitializer:
    offset = r.u64()
    return StaticMemoryInitializer(offset, _range32(r))


def _memory_initialization(r: Reader) -> MemoryInitialization:
    if r.enum(2) == 0:
        return MemoryInitialization(_tuple(r, lambda: _memory_initializer(r)), None)
    return MemoryInitialization(None, _tuple(r, lambda: r.option(lambda: _static_initializer(r))))


def _limits(r: Reader) -> Limits:
    minimum = r.u64()
    return Limits(minimum, r.option(r.u64))


def _table(r: Reader) -> Table:
    idx_type = IndexType(r.enum(2))
    limits = _limits(r)
    return Table(idx_type, limits, _ref_type(r))


def _memory(r: Reader) -> Memory:
    idx_type = IndexType(r.enum(2))
    limits = _limits(r)
    shared = r.bool()
    return Memory(idx_type, limits, shared, r.u8())


def _global(r: Reader) -> Global:
    ty = _val_type(r)
    return Global(ty, r.bool())


def _function_type(r: Reader) -> FunctionType:
    signature = r.u32()
    func_ref = r.u32()
    return FunctionType(signature, None if func_ref == RESERVED_INDEX else func_ref)


def _module(r: Reader) -> Module:
    name = r.option(r.str)
    imports = _tuple(r, lambda: _import(r))
    exports = _tuple(r, lambda: (r.str(), _entity_index(r)))
    start_func = r.option(r.u32)
    initial_values = _tuple(r, lambda: _table_initial_value(r))
    segments = _tuple(r, lambda: _table_segment(r))
    memory_init = _memory_initialization(r)
    passive_elements = _tuple(r, lambda: _segment_elements(r))
    passive_elements_map = _tuple(r, lambda: (r.u32(), r.u64()))
    passive_data_map = _tuple(r, lambda: (r.u32(), _range32(r)))
    types = _tuple(r, r.u32)
    imported = (r.u64(), r.u64(), r.u64(), r.u64())
    num_escaped_funcs, num_call_indirect_caches = r.u64(), r.u64()
    functions = _tuple(r, lambda: _function_type(r))
    tables = _tuple(r, lambda: _table(r))
    memories = _tuple(r, lambda: _memory(r))
    globals_ = _tuple(r, lambda: _global(r))
    global_inits = _tuple(r, lambda: _const_expr(r))
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
    elems = _tuple(r, r.u64)
    bits_max = r.option(r.u32)
    return StackMapInformation(code_offset, elems, bits_max, r.u32())


def _compiled_function(r: Reader) -> CompiledFunctionInfo:
    start_srcloc = r.u32()
    stack_maps = _tuple(r, lambda: _stack_map(r))
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
    dwarf = _tuple(r, lambda: (r.u8(), _range64(r)))
    return ModuleMetadata(unparsed, code_offset, has_dwarf, is_pulley, dwarf)


def decode_module_info(data: bytes | memoryview) -> ModuleInfoSection:
    """Decode a core module's ``.wasmtime.info``: ``(CompiledModuleInfo, ModuleTypes)``."""
    r = Reader(memoryview(data))
    with _decoding(".wasmtime.info"):
        module = _module(r)
        funcs = _tuple(r, lambda: _compiled_function(r))
        func_names = _tuple(r, lambda: _function_name(r))
        w2a = _tuple(r, lambda: (r.u32(), _function_loc(r)))
        meta = _module_metadata(r)
        types = _module_types(r)
    info = CompiledModuleInfo(module, funcs, func_names, w2a, meta)
    return ModuleInfoSection(info, types, r.remaining())
