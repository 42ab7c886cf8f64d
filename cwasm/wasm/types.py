"""WebAssembly types and module records, as the spec defines them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


class ValType(enum.IntEnum):
    """A number or vector type, or one of the two reference types 2.0 has (funcref,
    externref, the shorthands of ``(ref null func)`` and ``(ref null extern)``),
    numbered by its binary encoding. Every other reference type is a ``RefType``."""

    I32 = 0x7F
    I64 = 0x7E
    F32 = 0x7D
    F64 = 0x7C
    V128 = 0x7B
    FUNCREF = 0x70
    EXTERNREF = 0x6F

    @property
    def is_ref(self) -> bool:
        return self in (ValType.FUNCREF, ValType.EXTERNREF)

    @property
    def text(self) -> str:
        return _VALTYPE_TEXT[self]

    @property
    def nullable(self) -> bool:
        """Whether a reference type admits null (true of funcref and externref)."""
        return self.is_ref

    @property
    def heap(self) -> int:
        """The heap type of a reference type (its ``HeapType`` code)."""
        assert self.is_ref
        return int(self)

    @property
    def top(self) -> ValType:
        """The type whose representation this type's values share: itself for numbers
        and vectors, funcref or externref for the references (see ``RefType.top``)."""
        return self

    @property
    def is_defaultable(self) -> bool:
        """Whether a local of this type starts with a default value."""
        return True


_VALTYPE_TEXT = {
    ValType.I32: "i32",
    ValType.I64: "i64",
    ValType.F32: "f32",
    ValType.F64: "f64",
    ValType.V128: "v128",
    ValType.FUNCREF: "funcref",
    ValType.EXTERNREF: "externref",
}


class HeapType(enum.IntEnum):
    """The abstract heap types, numbered by their binary encoding (a negative s33, as
    one byte). A concrete heap type, a type index ``i``, has the code
    ``CONCRETE_HEAP + i``; ``heap_text`` names either."""

    FUNC = 0x70
    EXTERN = 0x6F
    ANY = 0x6E
    EQ = 0x6D
    I31 = 0x6C
    STRUCT = 0x6B
    ARRAY = 0x6A
    EXN = 0x69
    NOEXN = 0x74
    NOFUNC = 0x73
    NOEXTERN = 0x72
    NONE = 0x71


#: the WebAssembly proposals an engine can switch off (``Config.wasm_<name>``), as the
#: engine metadata of artifacts names them; ``cwasm.wasm.features`` refuses a module
#: that uses one that is off
SWITCHABLE_PROPOSALS: tuple[str, ...] = (
    "bulk_memory",
    "exceptions",
    "extended_const",
    "function_references",
    "gc",
    "memory64",
    "multi_memory",
    "multi_value",
    "reference_types",
    "relaxed_simd",
    "simd",
    "tail_call",
    "threads",
)

#: the switchable proposals an engine leaves off unless its ``Config`` turns them on:
#: none (GC is on with the rest of WebAssembly 3.0); a proposal built in parts is
#: listed here until it is whole
OFF_BY_DEFAULT_PROPOSALS: tuple[str, ...] = ()

#: the code of concrete heap type 0 (type index ``i`` is ``CONCRETE_HEAP + i``)
CONCRETE_HEAP = 0x80
#: reference types other than funcref/externref are coded ``REF_BASE + 2 * heap +
#: nullable``: never a byte, so a value type is one int however it is written
REF_BASE = 0x100
#: binary prefixes of ``(ref null ht)`` and ``(ref ht)``
REF_NULL_PREFIX = 0x63
REF_PREFIX = 0x64

_HEAP_TEXT = {
    HeapType.FUNC: "func",
    HeapType.EXTERN: "extern",
    HeapType.ANY: "any",
    HeapType.EQ: "eq",
    HeapType.I31: "i31",
    HeapType.STRUCT: "struct",
    HeapType.ARRAY: "array",
    HeapType.EXN: "exn",
    HeapType.NOEXN: "noexn",
    HeapType.NOFUNC: "nofunc",
    HeapType.NOEXTERN: "noextern",
    HeapType.NONE: "none",
}
#: the shorthand of each nullable abstract reference type
_NULLABLE_SHORTHAND = {
    HeapType.FUNC: "funcref",
    HeapType.EXTERN: "externref",
    HeapType.ANY: "anyref",
    HeapType.EQ: "eqref",
    HeapType.I31: "i31ref",
    HeapType.STRUCT: "structref",
    HeapType.ARRAY: "arrayref",
    HeapType.EXN: "exnref",
    HeapType.NOEXN: "nullexnref",
    HeapType.NOFUNC: "nullfuncref",
    HeapType.NOEXTERN: "nullexternref",
    HeapType.NONE: "nullref",
}
#: the heap types of the func and extern hierarchies (without GC): their top
_FUNC_HEAPS = frozenset((HeapType.FUNC, HeapType.NOFUNC))
_EXTERN_HEAPS = frozenset((HeapType.EXTERN, HeapType.NOEXTERN))
_EXN_HEAPS = frozenset((HeapType.EXN, HeapType.NOEXN))
_ANY_HEAPS = frozenset(
    (HeapType.ANY, HeapType.EQ, HeapType.I31, HeapType.STRUCT, HeapType.ARRAY, HeapType.NONE)
)


def heap_text(heap: int) -> str:
    """A heap type as the text format writes it: ``func``, ``nofunc``, or a type index."""
    if heap >= CONCRETE_HEAP:
        return str(heap - CONCRETE_HEAP)
    if heap == CONCRETE_HEAP - 1:  # SELF_HEAP: a closed type's reference to itself
        return "rec.0"
    return _HEAP_TEXT[HeapType(heap)]


class RefType(int):
    """A reference type other than funcref and externref: ``(ref null? ht)``.

    It is an int, coded ``REF_BASE + 2 * heap + nullable`` (or its one-byte shorthand
    for the nullable abstract types: 0x73 is ``nullfuncref``), so the validator's
    operand stack and every table keyed by value types hold it as they hold ``i32``;
    build one with ``ref_type``. It has the properties ``ValType`` has."""

    __slots__ = ()

    is_ref = True

    @property
    def nullable(self) -> bool:
        return self < REF_BASE or bool(self & 1)

    @property
    def heap(self) -> int:
        """The heap type: a ``HeapType`` code, or ``CONCRETE_HEAP + type index``."""
        return int(self) if self < REF_BASE else (self - REF_BASE) >> 1

    @property
    def type_index(self) -> int | None:
        """The type index of a concrete heap type, else None."""
        h = self.heap
        return h - CONCRETE_HEAP if h >= CONCRETE_HEAP else None

    @property
    def text(self) -> str:
        h = self.heap
        if self.nullable and h < CONCRETE_HEAP:
            return _NULLABLE_SHORTHAND[HeapType(h)]
        return f"(ref {'null ' if self.nullable else ''}{heap_text(h)})"

    @property
    def top(self) -> ValueType:
        """funcref for the func hierarchy (concrete function types, func, nofunc),
        externref for extern and noextern, exnref for exn and noexn: the
        representation of its values."""
        h = self.heap
        if h >= CONCRETE_HEAP - 1 or h in _FUNC_HEAPS:
            return ValType.FUNCREF
        if h in _EXTERN_HEAPS:
            return ValType.EXTERNREF
        if h in _EXN_HEAPS:
            return EXNREF
        if h in _ANY_HEAPS:
            return ANYREF
        raise ValueError(f"{self.text} is not supported yet")

    @property
    def is_defaultable(self) -> bool:
        return self.nullable

    def __repr__(self) -> str:
        return f"RefType({self.text})"


#: a value type: a ``ValType`` member or a ``RefType``
ValueType = ValType | RefType

#: ``exnref``, ``(ref null exn)``: the type of caught exceptions (exception handling)
EXNREF = RefType(HeapType.EXN)
#: ``anyref``, ``(ref null any)``: the top of the GC proposal's internal references
ANYREF = RefType(HeapType.ANY)

_VALTYPE_BY_CODE = {int(t): t for t in ValType}


def ref_type(nullable: bool, heap: int) -> ValueType:
    """The reference type ``(ref null? heap)`` in its one representation."""
    if nullable and heap < CONCRETE_HEAP:
        t = _VALTYPE_BY_CODE.get(heap)
        return t if t is not None else RefType(heap)
    return RefType(REF_BASE + 2 * heap + nullable)


def val_type(code: int) -> ValueType:
    """The value type with int code ``code`` (a ``ValType`` or ``RefType``'s int)."""
    t = _VALTYPE_BY_CODE.get(code)
    if t is not None:
        return t
    if code >= REF_BASE or code in _NULLABLE_SHORTHAND:
        return RefType(code)
    raise ValueError(f"no value type has the code {code:#x}")


def is_ref_code(code: int) -> bool:
    """Whether the value type code ``code`` is a reference type."""
    return code >= REF_BASE or 0x69 <= code <= 0x74


#: the kinds of composite types (``TypeCanon.kinds``)
KIND_FUNC = 0
KIND_STRUCT = 1
KIND_ARRAY = 2
#: the abstract heap types above each concrete kind
_ABOVE_KIND: tuple[frozenset[int], ...] = (
    frozenset((HeapType.FUNC,)),
    frozenset((HeapType.STRUCT, HeapType.EQ, HeapType.ANY)),
    frozenset((HeapType.ARRAY, HeapType.EQ, HeapType.ANY)),
)
#: abstract heap type -> the abstract heap types strictly above it
_ABOVE: dict[int, frozenset[int]] = {
    HeapType.EQ: frozenset((HeapType.ANY,)),
    HeapType.I31: frozenset((HeapType.EQ, HeapType.ANY)),
    HeapType.STRUCT: frozenset((HeapType.EQ, HeapType.ANY)),
    HeapType.ARRAY: frozenset((HeapType.EQ, HeapType.ANY)),
    HeapType.NONE: frozenset(
        (HeapType.ANY, HeapType.EQ, HeapType.I31, HeapType.STRUCT, HeapType.ARRAY)
    ),
    HeapType.NOFUNC: frozenset((HeapType.FUNC,)),
    HeapType.NOEXTERN: frozenset((HeapType.EXTERN,)),
    HeapType.NOEXN: frozenset((HeapType.EXN,)),
}
#: bottom heap type -> the kinds of the concrete types it is below
_BELOW_KINDS: dict[int, tuple[int, ...]] = {
    HeapType.NONE: (KIND_STRUCT, KIND_ARRAY),
    HeapType.NOFUNC: (KIND_FUNC,),
}


class TypeCanon(tuple[int, ...]):
    """Per type index of a module, the first index of an equivalent type (a tuple of
    ints), with each type's kind (``KIND_FUNC``...) in ``kinds`` and its declared
    supertype (-1 for none) in ``supers``: what subtyping between type indices needs.
    Without them (a plain tuple), every type is a function type without supertype."""

    kinds: tuple[int, ...]
    supers: tuple[int, ...]

    def __new__(
        cls, canon: Sequence[int], kinds: tuple[int, ...] = (), supers: tuple[int, ...] = ()
    ) -> TypeCanon:
        self = super().__new__(cls, canon)
        self.kinds = kinds
        self.supers = supers
        return self


def heap_subtype(a: int, b: int, canon: Sequence[int] = ()) -> bool:
    """Whether heap type ``a`` matches ``b`` in the GC proposal's lattice: i31, struct
    and array below eq below any, none below all of them and the concrete struct and
    array types; a concrete function type below func, nofunc below both; noextern
    below extern, noexn below exn; a concrete type below its declared supertypes.
    ``canon`` maps type indices to one representative of their equivalence class (a
    ``TypeCanon`` also gives their kinds and supertypes)."""
    if a == b:
        return True
    kinds: tuple[int, ...] = getattr(canon, "kinds", ())
    if a >= CONCRETE_HEAP:
        i = a - CONCRETE_HEAP
        if b >= CONCRETE_HEAP:
            j = b - CONCRETE_HEAP
            n = len(canon)
            if i >= n or j >= n:
                return False
            cj = canon[j]
            supers: tuple[int, ...] = getattr(canon, "supers", ())
            while canon[i] != cj:
                if not supers:
                    return False
                i = supers[i]
                if i < 0:
                    return False
            return True
        return b in _ABOVE_KIND[kinds[i] if i < len(kinds) else KIND_FUNC]
    if b >= CONCRETE_HEAP:
        j = b - CONCRETE_HEAP
        return (kinds[j] if j < len(kinds) else KIND_FUNC) in _BELOW_KINDS.get(a, ())
    above = _ABOVE.get(a)
    return above is not None and b in above


def val_subtype(a: int, b: int, canon: Sequence[int] = ()) -> bool:
    """Whether value type (code) ``a`` matches ``b``: equal, or both references with
    ``a`` no more nullable than ``b`` and its heap type below ``b``'s."""
    if a == b:
        return True
    if not (is_ref_code(a) and is_ref_code(b)):
        return False
    ra, rb = val_type(a), val_type(b)
    if ra.nullable and not rb.nullable:
        return False
    return heap_subtype(ra.heap, rb.heap, canon)


class ExternKind(enum.IntEnum):
    """Kind of an import or export, numbered by its binary encoding."""

    FUNC = 0
    TABLE = 1
    MEMORY = 2
    GLOBAL = 3
    TAG = 4  # exception handling (Wasm 3.0)


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple[ValueType, ...]
    results: tuple[ValueType, ...]

    def __str__(self) -> str:
        p = " ".join(t.text for t in self.params)
        r = " ".join(t.text for t in self.results)
        return f"(func (param {p}) (result {r}))"


def canonical_types(types: Sequence[FuncType]) -> tuple[int, ...]:
    """Per type index, the first index of an equivalent type. Without rec groups every
    type is its own group and refers only to earlier ones, so two types are equivalent
    when they are equal once their references are replaced by their representatives."""
    seen: dict[FuncType, int] = {}
    if not any(map(_refers_to_types, types)):  # no typed references: equal is equivalent
        return tuple([seen.setdefault(ft, i) for i, ft in enumerate(types)])
    canon: list[int] = []
    for i, ft in enumerate(types):
        key = FuncType(
            tuple(_canon_ref(t, canon, i) for t in ft.params),
            tuple(_canon_ref(t, canon, i) for t in ft.results),
        )
        canon.append(seen.setdefault(key, i))
    return tuple(canon)


def _refers_to_types(ft: FuncType) -> bool:
    """Whether a parameter or result of ``ft`` is a reference to a type index."""
    for t in ft.params:
        if isinstance(t, RefType) and t.type_index is not None:
            return True
    for t in ft.results:
        if isinstance(t, RefType) and t.type_index is not None:
            return True
    return False


def _canon_ref(t: ValueType, canon: list[int], own: int) -> ValueType:
    if isinstance(t, RefType):
        index = t.type_index
        if index is not None and index < len(canon):
            return ref_type(t.nullable, CONCRETE_HEAP + canon[index])
        if index == own:  # a reference to the type itself (its own recursion group)
            return ref_type(t.nullable, CONCRETE_HEAP - 1)
    return t


#: the heap code a closed type (``close_func_type``) uses for a reference to itself
SELF_HEAP = CONCRETE_HEAP - 1


def close_value_type(t: ValueType, type_ids: Sequence[int]) -> ValueType:
    """``t`` with its type index (if any) replaced by ``type_ids[index]``: a type that
    means the same in every module, when ``type_ids`` are engine-wide type ids."""
    if isinstance(t, RefType):
        index = t.type_index
        if index is not None:
            return ref_type(t.nullable, CONCRETE_HEAP + type_ids[index])
    return t


def close_func_type(ft: FuncType, index: int, type_ids: Sequence[int]) -> FuncType:
    """Type ``index`` of a module (``ft``) with its references to earlier types replaced
    by their ids (``type_ids``, one per earlier type) and those to itself by
    ``SELF_HEAP``: equal for equivalent types of any two modules."""

    def close(t: ValueType) -> ValueType:
        if isinstance(t, RefType) and t.type_index is not None:
            if t.type_index == index:
                return ref_type(t.nullable, SELF_HEAP)
            return ref_type(t.nullable, CONCRETE_HEAP + type_ids[t.type_index])
        return t

    if not _refers_to_types(ft):
        return ft
    return FuncType(tuple(map(close, ft.params)), tuple(map(close, ft.results)))


#: the most pages a 32-bit linear memory can have (64 KiB each: 4 GiB)
MAX_PAGES = 0x1_0000
#: the most pages a 64-bit linear memory (memory64) can have (64 KiB each: 2**64 bytes)
MAX_PAGES_64 = 1 << 48


@dataclass(frozen=True, slots=True)
class Limits:
    min: int
    max: int | None = None


@dataclass(frozen=True, slots=True)
class TableType:
    element: ValueType
    limits: Limits
    is_64: bool = False  # indexed by i64 (memory64's 64-bit tables)


@dataclass(frozen=True, slots=True)
class MemoryType:
    limits: Limits  # in 64 KiB pages
    shared: bool = False
    is_64: bool = False  # addressed by i64 (memory64)

    @property
    def max_pages(self) -> int:
        """The most pages its index type allows (``MAX_PAGES`` or ``MAX_PAGES_64``)."""
        return MAX_PAGES_64 if self.is_64 else MAX_PAGES


@dataclass(frozen=True, slots=True)
class GlobalType:
    content: ValueType
    mutable: bool


class ConstOpKind(enum.IntEnum):
    """Constant-expression operators, numbered as Wasmtime's ``ConstOp`` variants."""

    I32_CONST = 0
    I64_CONST = 1
    F32_CONST = 2  # value: raw u32 bits
    F64_CONST = 3  # value: raw u64 bits
    V128_CONST = 4  # value: u128 (little-endian bytes as an int)
    GLOBAL_GET = 5  # value: global index
    REF_NULL = 7  # value: the code of the null reference's type (ValType/RefType)
    REF_FUNC = 8  # value: function index
    # extended constant expressions (Wasm 3.0); value: 0
    I32_ADD = 9
    I32_SUB = 10
    I32_MUL = 11
    I64_ADD = 12
    I64_SUB = 13
    I64_MUL = 14
    # GC (Wasm 3.0); value: the type index, and for ARRAY_NEW_FIXED the count above bit 32
    STRUCT_NEW = 15
    STRUCT_NEW_DEFAULT = 16
    ARRAY_NEW = 17
    ARRAY_NEW_DEFAULT = 18
    ARRAY_NEW_FIXED = 19
    REF_I31 = 20  # value: 0
    ANY_CONVERT_EXTERN = 21  # value: 0
    EXTERN_CONVERT_ANY = 22  # value: 0


@dataclass(frozen=True, slots=True)
class ConstOp:
    kind: ConstOpKind
    value: int


@dataclass(frozen=True, slots=True)
class ConstExpr:
    """A constant expression: its operators before ``end``, in order (one in Wasm 2.0;
    Wasm 3.0's extended constant expressions add integer ``add``/``sub``/``mul``)."""

    ops: tuple[ConstOp, ...]
    offset: int = 0  # module offset of the first operator


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    name: str
    kind: ExternKind
    # FUNC, TAG: type index (int); TABLE: TableType; MEMORY: MemoryType; GLOBAL: GlobalType
    desc: int | TableType | MemoryType | GlobalType


@dataclass(frozen=True, slots=True)
class Export:
    name: str
    kind: ExternKind
    index: int


@dataclass(slots=True)
class FunctionBody:
    """One entry of the code section, as byte offsets into the module."""

    type_index: int
    offset: int  # just after the body's size LEB (Wasmtime's ``start_srcloc``)
    code_start: int  # first instruction, after the local declarations
    end: int  # one past the final ``end`` opcode
    locals: tuple[tuple[int, ValueType], ...]  # (count, type) as declared

    def local_types(self) -> list[ValueType]:
        out: list[ValueType] = []
        for count, ty in self.locals:
            out.extend([ty] * count)
        return out


class SegmentMode(enum.IntEnum):
    ACTIVE = 0
    PASSIVE = 1
    DECLARATIVE = 2


@dataclass(frozen=True, slots=True)
class ElementSegment:
    mode: SegmentMode
    element: ValueType
    table_index: int = 0
    offset: ConstExpr | None = None  # active segments only
    # exactly one of these is set: plain function indices, or expressions
    functions: tuple[int, ...] | None = None
    expressions: tuple[ConstExpr, ...] | None = None

    def __len__(self) -> int:
        if self.functions is not None:
            return len(self.functions)
        assert self.expressions is not None
        return len(self.expressions)


@dataclass(frozen=True, slots=True)
class DataSegment:
    mode: SegmentMode  # ACTIVE or PASSIVE
    data: bytes
    memory_index: int = 0
    offset: ConstExpr | None = None  # active segments only
    data_offset: int = 0  # module offset of the segment's bytes


@dataclass(slots=True)
class NameSection:
    module: str | None = None
    functions: dict[int, str] = field(default_factory=dict)
    locals: dict[int, dict[int, str]] = field(default_factory=dict)
