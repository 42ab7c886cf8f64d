"""The ``ModuleTypes`` half of Wasmtime v28's ``.wasmtime.info``: the module's type section."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cwasm.inspect.wasmtime_v28.decoding import WasmtimeFormatError, range32, tuple_of
from cwasm.obj.postcard import Reader


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
# decoding


def _type_index_ref(r: Reader) -> TypeIndexRef:
    kind = TypeIndexKind(r.enum(len(TypeIndexKind)))
    return TypeIndexRef(kind, r.u32())


def read_heap_type(r: Reader) -> HeapType:
    kind = HeapKind(r.enum(len(HeapKind)))
    if kind in _CONCRETE_HEAP_KINDS:
        return HeapType(kind, _type_index_ref(r))
    return HeapType(kind)


def read_ref_type(r: Reader) -> RefType:
    nullable = r.bool()
    return RefType(nullable, read_heap_type(r))


def read_val_type(r: Reader) -> ValType:
    kind = ValKind(r.enum(len(ValKind)))
    if kind is ValKind.REF:
        return ValType(kind, read_ref_type(r))
    return ValType(kind)


def _field_type(r: Reader) -> FieldType:
    storage = StorageKind(r.enum(len(StorageKind)))
    val = read_val_type(r) if storage is StorageKind.VAL else None
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
        params = tuple_of(r, lambda: read_val_type(r))
        n_params = r.u64()
        returns = tuple_of(r, lambda: read_val_type(r))
        func = FuncType(params, n_params, returns, r.u64())
    else:
        fields = tuple_of(r, lambda: _field_type(r))
    return SubType(is_final, supertype, CompositeType(kind, func, fields, r.bool()))


def read_module_types(r: Reader) -> ModuleTypes:
    rec_groups = tuple_of(r, lambda: range32(r))
    wasm_types = tuple_of(r, lambda: _sub_type(r))
    count = r.varint()
    if count == 0 or count > r.remaining():
        raise WasmtimeFormatError("trampoline_types has no default value")
    default = r.option(r.u32)
    if default is None:
        raise WasmtimeFormatError("trampoline_types has no default value")
    entries = tuple(r.option(r.u32) for _ in range(count - 1))
    return ModuleTypes(rec_groups, wasm_types, entries, default)
