"""The Python API's type objects, shaped like wasmtime-py's: ValType, FuncType, Limits, MemoryType,
TableType, GlobalType, ImportType, ExportType, and the ``Val`` value box.

Each wraps the decoder's plain records from ``cwasm.wasm.types`` (``wasm`` attribute),
which is what the runtime itself works with. The type objects have wasmtime-py's
``close()`` and context-manager protocol; they own nothing, so closing one only marks it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from cwasm.closable import Closable
from cwasm.errors import CwasmError
from cwasm.wasm import types as wt
from cwasm.wasm.types import MAX_PAGES


def func_type_text(ft: wt.FuncType, engine: Any | None, *, compact: bool = False) -> str:
    """A function type as ``FuncType``'s repr writes it, ``(func (param i32) (result ))``,
    its typed references shown by ``ref_text``; ``compact`` leaves out empty lists, as the
    text format does (``(func (param i32))``)."""
    p = " ".join(value_type_text(t, engine) for t in ft.params)
    r = " ".join(value_type_text(t, engine) for t in ft.results)
    if not compact:
        return f"(func (param {p}) (result {r}))"
    return "(func" + (f" (param {p})" if p else "") + (f" (result {r})" if r else "") + ")"


def ref_text(t: wt.ValueType, engine: Any | None, *, shorthand: bool = True) -> str:
    """Reference type ``t`` as text: ``funcref``, ``(ref null nofunc)``, ...; a concrete heap
    type of a type closed over ``engine``'s type ids (what instances, imports and exports
    hold) shows as its function type rather than the engine's id, as ``(ref (func (param
    i32)))``. ``shorthand=False`` writes nullable abstract types in full, as Wasmtime's
    messages do (``(ref null func)``)."""
    nullable = "null " if t.nullable else ""
    heap = t.heap
    if heap < wt.CONCRETE_HEAP - 1 or engine is None:
        if shorthand or heap >= wt.CONCRETE_HEAP - 1:
            return t.text
        return f"(ref {nullable}{wt.heap_text(heap)})"
    if heap == wt.SELF_HEAP:  # only inside a closed function type: its own index
        return f"(ref {nullable}rec.0)"
    ct = engine.types.composite_type(heap - wt.CONCRETE_HEAP)
    if type(ct) is not wt.FuncType:  # a struct or array type (GC)
        return f"(ref {nullable}{ct})"
    return f"(ref {nullable}{func_type_text(ct, engine, compact=True)})"


def value_type_text(t: wt.ValueType, engine: Any | None) -> str:
    """Value type ``t`` as text (references by ``ref_text``)."""
    return ref_text(t, engine) if t.is_ref else t.text


class ValType(Closable):
    """A value type: ``ValType.i32()``, ``.i64()``, ``.f32()``, ``.f64()``, ``.v128()``,
    ``.funcref()``, ``.externref()``; a module's typed reference types (``(ref $t)``,
    which wasmtime-py 28 cannot name) show as such, their values are those of the
    funcref or externref they are one of."""

    __slots__ = ("kind", "_engine")

    def __init__(self, kind: wt.ValueType, engine: Any | None = None) -> None:
        self.kind: wt.ValueType = kind if isinstance(kind, wt.RefType) else wt.ValType(kind)
        #: the engine whose type ids ``kind`` is closed over (instances, imports and
        #: exports), which names a concrete heap type's function type; None for a
        #: module's own types
        self._engine = engine

    @classmethod
    def i32(cls) -> ValType:
        """The ``i32`` value type."""
        return cls(wt.ValType.I32)

    @classmethod
    def i64(cls) -> ValType:
        """The ``i64`` value type."""
        return cls(wt.ValType.I64)

    @classmethod
    def f32(cls) -> ValType:
        """The ``f32`` value type."""
        return cls(wt.ValType.F32)

    @classmethod
    def f64(cls) -> ValType:
        """The ``f64`` value type."""
        return cls(wt.ValType.F64)

    @classmethod
    def v128(cls) -> ValType:
        """The ``v128`` value type."""
        return cls(wt.ValType.V128)

    @classmethod
    def funcref(cls) -> ValType:
        """The ``funcref`` value type."""
        return cls(wt.ValType.FUNCREF)

    @classmethod
    def externref(cls) -> ValType:
        """The ``externref`` value type."""
        return cls(wt.ValType.EXTERNREF)

    # the GC proposal's abstract reference types (Wasmtime's ``ValType::ANYREF``...;
    # wasmtime-py 51 cannot name them): their values are ``AnyRef``s or None

    @classmethod
    def anyref(cls) -> ValType:
        """The ``anyref`` value type, ``(ref null any)``."""
        return cls(wt.ANYREF)

    @classmethod
    def eqref(cls) -> ValType:
        """The ``eqref`` value type, ``(ref null eq)``."""
        return cls(wt.ref_type(True, wt.HeapType.EQ))

    @classmethod
    def i31ref(cls) -> ValType:
        """The ``i31ref`` value type, ``(ref null i31)``."""
        return cls(wt.ref_type(True, wt.HeapType.I31))

    @classmethod
    def structref(cls) -> ValType:
        """The ``structref`` value type, ``(ref null struct)``."""
        return cls(wt.ref_type(True, wt.HeapType.STRUCT))

    @classmethod
    def arrayref(cls) -> ValType:
        """The ``arrayref`` value type, ``(ref null array)``."""
        return cls(wt.ref_type(True, wt.HeapType.ARRAY))

    @classmethod
    def nullref(cls) -> ValType:
        """The ``nullref`` value type, ``(ref null none)``: null only."""
        return cls(wt.ref_type(True, wt.HeapType.NONE))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValType) and other.kind == self.kind

    def __hash__(self) -> int:
        return hash(self.kind)

    def __str__(self) -> str:
        return value_type_text(self.kind, self._engine)

    def __repr__(self) -> str:
        if isinstance(self.kind, wt.RefType):
            return f"ValType({self})"
        return f"ValType.{self.kind.text}()"


def _valtype(t: ValType | wt.ValueType) -> wt.ValueType:
    if isinstance(t, ValType):
        return t.kind
    if isinstance(t, (wt.ValType, wt.RefType)):
        return t
    raise TypeError("expected ValType")


class FuncType(Closable):
    """A function signature: ``FuncType([ValType.i32()], [ValType.i64()])``."""

    __slots__ = ("wasm", "_engine", "type_id")

    def __init__(
        self,
        params: Sequence[ValType | wt.ValType] = (),
        results: Sequence[ValType | wt.ValType] = (),
    ) -> None:
        self.wasm = wt.FuncType(
            tuple(_valtype(t) for t in params), tuple(_valtype(t) for t in results)
        )
        self._engine: Any | None = None
        #: the engine type id this type is (a module's import or export type, a
        #: function's): with GC, a type of a recursion group or with a supertype is not
        #: the final type of its signature alone, and a host function made with this
        #: type has this one, as Wasmtime's does; None for a type made in Python
        self.type_id: int | None = None

    @classmethod
    def from_wasm(
        cls, ft: wt.FuncType, engine: Any | None = None, type_id: int | None = None
    ) -> FuncType:
        """The API object for the decoder's record (``engine``: the engine whose type ids
        its typed references are closed over, if they are; ``type_id``: its id there)."""
        self = cls.__new__(cls)
        self.wasm = ft
        self._engine = engine
        self.type_id = type_id
        return self

    def type_id_in(self, engine: Any) -> int | None:
        """The engine type id this type names if it comes from ``engine``, else None (its
        signature as a final type of its own)."""
        return self.type_id if self._engine is engine else None

    @property
    def params(self) -> list[ValType]:
        """Returns the list of parameter types for this function type."""
        return [ValType(t, self._engine) for t in self.wasm.params]

    @property
    def results(self) -> list[ValType]:
        """Returns the list of result types for this function type."""
        return [ValType(t, self._engine) for t in self.wasm.results]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FuncType) and other.wasm == self.wasm

    def __hash__(self) -> int:
        return hash(self.wasm)

    def __repr__(self) -> str:
        return func_type_text(self.wasm, self._engine)


class Limits:
    """``min`` and optional ``max``, in pages (memories) or elements (tables)."""

    __slots__ = ("min", "max")

    def __init__(self, min: int, max: int | None = None) -> None:
        self.min = min
        self.max = max

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and (self.min, self.max) == (other.min, other.max)

    def __hash__(self) -> int:
        return hash((self.min, self.max))

    def __repr__(self) -> str:
        return f"Limits({self.min}, {self.max})"


_U64 = (1 << 64) - 1


def _check_memory_limits(limits: Limits, is_64: bool, shared: bool) -> None:
    """wasmtime-py's checks of a memory type's limits, then Wasmtime's (on the limits as
    the 64-bit integers its C API receives), with their messages."""
    maximum = 1 << 64 if is_64 else 1 << 32
    if limits.min >= maximum:
        raise CwasmError("minimum size too large")
    if limits.max and limits.max >= maximum:
        raise CwasmError("maximum size too large")
    low = limits.min & _U64
    high = None if limits.max is None else limits.max & _U64
    if high is not None and high < low:
        raise CwasmError("maximum page size cannot be smaller than the minimum page size")
    if shared and high is None:
        raise CwasmError("shared memories must have a maximum size")
    pages = (1 << 48) if is_64 else MAX_PAGES  # 2**64 or 2**32 bytes
    if low > pages:
        raise CwasmError("minimum size is too large for this memory type's index type")
    if high is not None and high > pages:
        raise CwasmError("maximum size is too large for this memory type's index type")


class MemoryType(Closable):
    """A memory type: ``MemoryType(Limits(1, 2))``, ``MemoryType(Limits(1), is_64=True)``.

    Its limits are checked as wasmtime-py and Wasmtime check them (``WasmtimeError``): in
    pages, at most 65536 for a 32-bit memory (2**48 for a 64-bit one), a maximum not
    below the minimum, and a maximum for a shared memory.
    """

    __slots__ = ("wasm",)

    def __init__(self, limits: Limits, is_64: bool = False, shared: bool = False) -> None:
        if not isinstance(limits, Limits):
            raise TypeError("expected Limits")
        _check_memory_limits(limits, is_64, shared)
        self.wasm = wt.MemoryType(wt.Limits(limits.min, limits.max), shared, bool(is_64))

    @classmethod
    def from_wasm(cls, t: wt.MemoryType) -> MemoryType:
        """The API object for the decoder's record."""
        self = cls.__new__(cls)
        self.wasm = t
        return self

    @property
    def limits(self) -> Limits:
        """Returns the limits on the size of this memory, in pages."""
        return Limits(self.wasm.limits.min, self.wasm.limits.max)

    @property
    def is_64(self) -> bool:
        """Returns whether or not this is a 64-bit memory."""
        return self.wasm.is_64

    @property
    def is_shared(self) -> bool:
        """Returns whether or not this is a shared memory."""
        return self.wasm.shared

    def __repr__(self) -> str:
        return f"MemoryType({self.limits!r}{', is_64=True' if self.is_64 else ''})"


class TableType(Closable):
    """A table type: ``TableType(ValType.funcref(), Limits(10, 20))``, or a 64-bit table
    (memory64), indexed by i64: ``TableType(ValType.funcref(), Limits(1), is_64=True)``
    (as ``MemoryType``'s ``is_64``; wasmtime-py has no 64-bit table types)."""

    __slots__ = ("wasm", "_engine")

    def __init__(self, valtype: ValType, limits: Limits, is_64: bool = False) -> None:
        if not isinstance(limits, Limits):
            raise TypeError("expected Limits")
        bound = 1 << 64 if is_64 else 1 << 32
        for n in (limits.min, limits.max):
            if n is not None and not 0 <= n < bound:
                raise CwasmError(f"table limits must be below 2**{64 if is_64 else 32} elements")
        self.wasm = wt.TableType(_valtype(valtype), wt.Limits(limits.min, limits.max), bool(is_64))
        self._engine: Any | None = None

    @classmethod
    def from_wasm(cls, t: wt.TableType, engine: Any | None = None) -> TableType:
        """The API object for the decoder's record (``engine``: as ``FuncType.from_wasm``)."""
        self = cls.__new__(cls)
        self.wasm = t
        self._engine = engine
        return self

    @property
    def element(self) -> ValType:
        """Returns the type of this table's elements."""
        return ValType(self.wasm.element, self._engine)

    @property
    def limits(self) -> Limits:
        """Returns the limits on the size of this table, in elements."""
        return Limits(self.wasm.limits.min, self.wasm.limits.max)

    @property
    def is_64(self) -> bool:
        """Returns whether or not this is a 64-bit table (indexed by i64)."""
        return self.wasm.is_64

    def __repr__(self) -> str:
        return f"TableType({self.element!r}, {self.limits!r}{', is_64=True' if self.is_64 else ''})"


class GlobalType(Closable):
    """A global type: ``GlobalType(ValType.i32(), mutable=False)``."""

    __slots__ = ("wasm", "_engine")

    def __init__(self, valtype: ValType, mutable: bool) -> None:
        self.wasm = wt.GlobalType(_valtype(valtype), mutable)
        self._engine: Any | None = None

    @classmethod
    def from_wasm(cls, t: wt.GlobalType, engine: Any | None = None) -> GlobalType:
        """The API object for the decoder's record (``engine``: as ``FuncType.from_wasm``)."""
        self = cls.__new__(cls)
        self.wasm = t
        self._engine = engine
        return self

    @property
    def content(self) -> ValType:
        """Returns the type this global contains."""
        return ValType(self.wasm.content, self._engine)

    @property
    def mutable(self) -> bool:
        """Returns whether this global is mutable or not."""
        return self.wasm.mutable

    def __repr__(self) -> str:
        return f"GlobalType({self.content!r}, {self.mutable})"


class TagType:
    """The type of a tag: the function type of its payload, without results
    (wasmtime-py's ``TagType(functype)``, exception handling)."""

    __slots__ = ("_functype",)

    def __init__(self, functype: FuncType) -> None:
        if not isinstance(functype, FuncType):
            raise TypeError("expected a FuncType")
        if functype.wasm.results:
            raise CwasmError("a tag's function type has no results")
        self._functype = functype

    @property
    def functype(self) -> FuncType:
        """The function type describing the tag's payload (its parameters)."""
        return self._functype

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TagType) and other._functype == self._functype

    def __hash__(self) -> int:
        return hash(self._functype)

    def __repr__(self) -> str:
        return f"TagType({self._functype!r})"


ExternTypeT = FuncType | TableType | MemoryType | GlobalType | TagType


class ImportType(Closable):
    """One import of a module: ``module``, ``name`` and ``type``."""

    __slots__ = ("module", "name", "type")

    def __init__(self, module: str, name: str, type: ExternTypeT) -> None:
        self.module = module
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"ImportType({self.module!r}, {self.name!r}, {self.type!r})"


class ExportType(Closable):
    """One export of a module: ``name`` and ``type``."""

    __slots__ = ("name", "type")

    def __init__(self, name: str, type: ExternTypeT) -> None:
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"ExportType({self.name!r}, {self.type!r})"


class Val:
    """A typed wasm value: ``Val.i32(1)``, ``Val.f64(0.5)``, ``Val.externref(obj)``..."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: wt.ValueType, value: Any) -> None:
        self.kind = kind
        self.value = value

    @classmethod
    def i32(cls, v: int) -> Val:
        """Create a new 32-bit integer value (wrapped to a signed i32)."""
        if not isinstance(v, int):
            raise TypeError("expected an integer")
        v &= 0xFFFFFFFF
        return cls(wt.ValType.I32, v - (1 << 32) if v >= 1 << 31 else v)

    @classmethod
    def i64(cls, v: int) -> Val:
        """Create a new 64-bit integer value (wrapped to a signed i64)."""
        if not isinstance(v, int):
            raise TypeError("expected an integer")
        v &= 0xFFFFFFFFFFFFFFFF
        return cls(wt.ValType.I64, v - (1 << 64) if v >= 1 << 63 else v)

    @classmethod
    def f32(cls, v: float) -> Val:
        """Create a new 32-bit float value (rounded to single precision)."""
        if not isinstance(v, float):
            raise TypeError("expected a float")
        return cls(wt.ValType.F32, ctypes.c_float(v).value)

    @classmethod
    def f64(cls, v: float) -> Val:
        """Create a new 64-bit float value."""
        if not isinstance(v, float):
            raise TypeError("expected a float")
        return cls(wt.ValType.F64, v)

    @classmethod
    def v128(cls, v: int) -> Val:
        """Create a new 128-bit vector value from its bits."""
        if not isinstance(v, int):
            raise TypeError("expected an integer")
        return cls(wt.ValType.V128, v & ((1 << 128) - 1))

    @classmethod
    def externref(cls, v: Any) -> Val:
        """Create a new ``externref`` value referencing ``v`` (``None``: null)."""
        return cls(wt.ValType.EXTERNREF, v)

    @classmethod
    def funcref(cls, f: Any) -> Val:
        """Create a new ``funcref`` value referencing the ``Func`` ``f`` (``None``: null)."""
        return cls(wt.ValType.FUNCREF, f)

    @classmethod
    def anyref(cls, v: Any) -> Val:
        """Create a new ``anyref`` value: an ``AnyRef`` (an ``i31``, a host object made
        an ``anyref``, a struct or an array) or ``None`` (null). A cwasm name:
        wasmtime-py 51 has no ``anyref`` values."""
        return cls(wt.ANYREF, v)

    @classmethod
    def ref_null(cls, ty: ValType) -> Val:
        """Create a null reference value of the given type.

        Raise an exception if ``ty`` is not a reference type."""
        if not ty.kind.is_ref:
            raise CwasmError(f"Invalid reference type for `ref_null`: {ty}")
        engine = ty._engine  # a concrete type's kind is in its engine's registry
        return cls(engine.types.top(ty.kind) if engine is not None else ty.kind.top, None)

    @property
    def type(self) -> ValType:
        """Returns the ``ValType`` corresponding to this ``Val``."""
        return ValType(self.kind)

    def _as(self, kind: wt.ValueType) -> Any:
        return self.value if self.kind == kind else None

    def as_i32(self) -> int | None:
        """Get the 32-bit integer value of this value, or ``None`` if it's not an i32."""
        return self._as(wt.ValType.I32)

    def as_i64(self) -> int | None:
        """Get the 64-bit integer value of this value, or ``None`` if it's not an i64."""
        return self._as(wt.ValType.I64)

    def as_f32(self) -> float | None:
        """Get the 32-bit float value of this value, or ``None`` if it's not an f32."""
        return self._as(wt.ValType.F32)

    def as_f64(self) -> float | None:
        """Get the 64-bit float value of this value, or ``None`` if it's not an f64."""
        return self._as(wt.ValType.F64)

    def as_externref(self) -> Any:
        """Get the extern data referenced by this ``externref`` value, or ``None`` if it's
        not an ``externref``."""
        return self._as(wt.ValType.EXTERNREF)

    def as_anyref(self) -> Any:
        """Get the ``AnyRef`` of this ``anyref`` value, or ``None`` if it's not an
        ``anyref`` or is a null reference."""
        return self._as(wt.ANYREF)

    def as_funcref(self) -> Any:
        """Get the function that this ``funcref`` value is referencing, or ``None`` if this
        is not a ``funcref`` value, or is a null reference."""
        return self._as(wt.ValType.FUNCREF)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Val):
            return self.kind == other.kind and self.value == other.value
        return bool(self.value == other)

    def __hash__(self) -> int:
        return hash((self.kind, id(self.value) if self.kind.is_ref else self.value))

    def __repr__(self) -> str:
        return f"Val.{self.kind.text}({self.value!r})"
