"""WebAssembly types and module records, as the spec defines them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ValType(enum.IntEnum):
    """A value type, numbered by its binary encoding."""

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


_VALTYPE_TEXT = {
    ValType.I32: "i32",
    ValType.I64: "i64",
    ValType.F32: "f32",
    ValType.F64: "f64",
    ValType.V128: "v128",
    ValType.FUNCREF: "funcref",
    ValType.EXTERNREF: "externref",
}


class ExternKind(enum.IntEnum):
    """Kind of an import or export, numbered by its binary encoding."""

    FUNC = 0
    TABLE = 1
    MEMORY = 2
    GLOBAL = 3


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple[ValType, ...]
    results: tuple[ValType, ...]

    def __str__(self) -> str:
        p = " ".join(t.text for t in self.params)
        r = " ".join(t.text for t in self.results)
        return f"(func (param {p}) (result {r}))"


#: the most pages a 32-bit linear memory can have (64 KiB each: 4 GiB)
MAX_PAGES = 0x1_0000


@dataclass(frozen=True, slots=True)
class Limits:
    min: int
    max: int | None = None


@dataclass(frozen=True, slots=True)
class TableType:
    element: ValType
    limits: Limits


@dataclass(frozen=True, slots=True)
class MemoryType:
    limits: Limits  # in 64 KiB pages
    shared: bool = False


@dataclass(frozen=True, slots=True)
class GlobalType:
    content: ValType
    mutable: bool


class ConstOpKind(enum.IntEnum):
    """Constant-expression operators, numbered as Wasmtime's ``ConstOp`` variants."""

    I32_CONST = 0
    I64_CONST = 1
    F32_CONST = 2  # value: raw u32 bits
    F64_CONST = 3  # value: raw u64 bits
    V128_CONST = 4  # value: u128 (little-endian bytes as an int)
    GLOBAL_GET = 5  # value: global index
    REF_NULL = 7  # value: the ValType of the null reference
    REF_FUNC = 8  # value: function index
    # extended constant expressions (Wasm 3.0); value: 0
    I32_ADD = 9
    I32_SUB = 10
    I32_MUL = 11
    I64_ADD = 12
    I64_SUB = 13
    I64_MUL = 14


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
    # FUNC: type index (int); TABLE: TableType; MEMORY: MemoryType; GLOBAL: GlobalType
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
    locals: tuple[tuple[int, ValType], ...]  # (count, type) as declared

    def local_types(self) -> list[ValType]:
        out: list[ValType] = []
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
    element: ValType
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
