"""Reference values ↔ the 64-bit words compiled code keeps: the one place both directions live.

Table elements, global slots and argument and result slots hold a reference as one
word, 0 for null:

* a funcref is the address of a ``VMFuncRef``: for a wasm function, the slot of its
  function index in the vmctx of an instance that defines or imports it; for a host
  function, a block of its own (registered here, as no instance contains it);
* an externref is a handle into its store's externref table (``refs.externs``, see
  ``cwasm.runtime.externref``), which keeps the object alive while wasm may reach it,
  shifted and tagged as the GC proposal's word (``handle << 2 | 2``);
* a reference of the ``any`` hierarchy is the same word: an ``i31`` or a host
  reference, as an ``AnyRef`` (``cwasm.runtime.anyref``).

Every value may come boxed in a ``Val``. A reference belongs to one store: a function
of another store is refused.
"""

from __future__ import annotations

import ctypes
from typing import Any

from cwasm.errors import CwasmError
from cwasm.runtime.anyref import HOST_TAG, I31_TAG, AnyRef, internal_word_to_anyref, is_host_word
from cwasm.runtime.externref import ExternRefTable
from cwasm.runtime.func import Func
from cwasm.runtime.registry import INSTANCES
from cwasm.runtime.tag import Exceptions
from cwasm.runtime.types import Val, ref_text
from cwasm.runtime.values import RefTypeMismatch
from cwasm.wasm.types import (
    ANYREF,
    CONCRETE_HEAP,
    EXNREF,
    HeapType,
    RefType,
    ValType,
    ValueType,
    ref_type,
    val_type,
)

#: the bottom heap type of each hierarchy (what a null reference is, in Wasmtime's texts)
_BOTTOM = {
    ValType.FUNCREF: HeapType.NOFUNC,
    ValType.EXTERNREF: HeapType.NOEXTERN,
    EXNREF: HeapType.NOEXN,
    ANYREF: HeapType.NONE,
}
#: the abstract heap types an ``i31`` belongs to
_I31_HEAPS = frozenset((HeapType.ANY, HeapType.EQ, HeapType.I31))
EXTERNREF_NON_NULL = ref_type(False, HeapType.EXTERN)
EXNREF_NON_NULL = ref_type(False, HeapType.EXN)


class References:
    """A store's references: its externref table, its host functions' funcrefs, and the
    conversions between reference values and their bits."""

    def __init__(self, entry_depth: ctypes.c_uint64, engine: Any = None) -> None:
        #: the store's engine, whose type ids typed reference types are closed over
        self.engine = engine
        #: the externref table (``entry_depth``: the store context's count of live entries)
        self.externs = ExternRefTable(entry_depth)
        self._host_funcrefs: dict[int, Func] = {}  # VMFuncRef address -> host function
        #: the store's exceptions (exnref values), set by the store
        self.exceptions: Exceptions
        self._tops: dict[ValueType, ValueType] = {}  # ``top``'s answers

    def add_host_funcref(self, address: int, func: Func) -> None:
        """Make ``address`` (the ``VMFuncRef`` of host function ``func``) decode to ``func``."""
        self._host_funcrefs[address] = func

    # --- by value type (tables, globals) ---

    def to_bits(self, kind: ValueType, value: Any) -> int:
        """The word for ``value`` as a reference of type ``kind``; a typed reference type
        (non-nullable, a concrete function type or a bottom type) is checked by
        ``typed_to_bits``."""
        if kind != kind.top:  # a concrete struct or array type's top is not anyref
            return self.typed_to_bits(kind, value)
        if kind == ValType.FUNCREF:
            return self.funcref_to_bits(value)
        if kind == EXNREF:
            return self.exceptions.to_bits(value)
        if kind == ANYREF:
            return self.anyref_to_bits(value)
        return self.externs.to_bits(value)

    def top(self, kind: ValueType) -> ValueType:
        """The representation of ``kind``'s values: ``kind.top``, anyref for a concrete
        struct or array type (the engine's registry knows which a concrete type is)."""
        top = self._tops.get(kind)
        if top is None:
            if isinstance(kind, RefType) and kind.heap >= CONCRETE_HEAP:
                top = self.engine.types.top(kind)
            else:
                top = kind.top
            self._tops[kind] = top
        return top

    def typed_to_bits(self, kind: ValueType, value: Any) -> int:
        """The word for ``value`` as a reference of the typed reference type ``kind``
        (closed over the engine's type ids): null only for a nullable type, a ``Func``
        only of a type that matches a concrete heap type, no value but null for the
        bottom types. A mismatch raises ``RefTypeMismatch`` with Wasmtime's text."""
        if isinstance(value, Val):
            value = value.value
        top = self.top(kind)
        if value is None:
            if not kind.nullable:
                self._mismatch(kind, ref_type(True, _BOTTOM[top]))
            return 0
        heap = kind.heap
        if top == ANYREF:
            if type(value) is not AnyRef and isinstance(value, Func):  # of the other
                self.funcref_to_bits(value)  # hierarchy: Wasmtime's mismatch
                self._mismatch(kind, ref_type(False, CONCRETE_HEAP + value.type_id))
            bits = self.anyref_to_bits(value)
            have = self._anyref_heap(value, bits)
            if not self._anyref_matches(value, have, heap):
                self._mismatch(kind, ref_type(False, have))
            return bits
        if top == ValType.FUNCREF:
            if type(value) is AnyRef:  # of the other hierarchy: Wasmtime's mismatch
                self._mismatch(
                    kind,
                    ref_type(
                        False,
                        self._anyref_heap(
                            value, value.word(self.externs.to_bits, self.externs.gc_heap)
                        ),
                    ),
                )
            bits = self.funcref_to_bits(value)  # a Func of this store, or TypeError
            if heap == HeapType.NOFUNC or (
                heap >= CONCRETE_HEAP
                and not self.engine.types.is_subtype(value.type_id, heap - CONCRETE_HEAP)
            ):
                self._mismatch(kind, ref_type(False, CONCRETE_HEAP + value.type_id))
            return bits
        if top == EXNREF:
            bits = self.exceptions.to_bits(value)
            if heap == HeapType.NOEXN:
                self._mismatch(kind, EXNREF_NON_NULL)
            return bits
        if heap == HeapType.NOEXTERN:
            self._mismatch(kind, EXTERNREF_NON_NULL)
        return self.externs.to_bits(value)

    @staticmethod
    def _anyref_heap(value: AnyRef, bits: int) -> int:
        """The heap type a non-null ``AnyRef`` shows in a mismatch: i31, its concrete
        type, or any (a host reference)."""
        if bits & I31_TAG:
            return HeapType.I31
        if bits & 3 == HOST_TAG:
            return HeapType.ANY
        return CONCRETE_HEAP + value.type_id

    def _anyref_matches(self, value: AnyRef, have: int, heap: int) -> bool:
        """Whether ``value`` (of heap type ``have``) is a value of heap type ``heap``."""
        if heap == HeapType.ANY:
            return True
        if have == HeapType.I31:
            return heap in _I31_HEAPS
        if have == HeapType.ANY:
            return False
        if heap == HeapType.EQ:
            return True
        if heap in (HeapType.STRUCT, HeapType.ARRAY):
            return value.is_array == (heap == HeapType.ARRAY)
        return heap >= CONCRETE_HEAP and self.engine.types.is_subtype(
            have - CONCRETE_HEAP, heap - CONCRETE_HEAP
        )

    def typed_code_to_bits(self, code: int, value: Any) -> int:
        """``typed_to_bits`` for the reference type with int code ``code`` (what generated
        argument packers call)."""
        return self.typed_to_bits(val_type(code), value)

    def _mismatch(self, want: ValueType, have: ValueType) -> None:
        raise RefTypeMismatch(
            f"type mismatch: expected {ref_text(want, self.engine, shorthand=False)}, "
            f"found {ref_text(have, self.engine, shorthand=False)}"
        )

    def from_bits(self, kind: ValueType, bits: int) -> Any:
        """The reference value of type ``kind`` (closed over the engine's type ids) that
        ``bits`` stands for."""
        top = self.top(kind)
        if top == ValType.FUNCREF:
            return self.funcref_from_bits(bits)
        if top == EXNREF:
            return self.exceptions.from_bits(bits)
        if top == ANYREF:
            return self.anyref_from_bits(bits)
        return self.externs.from_bits(bits)

    # --- anyref ---

    def anyref_to_bits(self, value: Any) -> int:
        """The word of ``value``, an ``AnyRef`` or None, as a reference of the ``any``
        hierarchy."""
        if isinstance(value, Val):
            value = value.value
        if value is None:
            return 0
        if type(value) is not AnyRef:
            raise TypeError(f"expected an AnyRef or None for an anyref, got {type(value).__name__}")
        return value.word(self.externs.to_bits, self.externs.gc_heap)

    def anyref_from_bits(self, bits: int) -> AnyRef | None:
        """The ``AnyRef`` of word ``bits``; None for 0."""
        if bits == 0:
            return None
        if not is_host_word(bits):
            return internal_word_to_anyref(bits, self.externs.gc_heap)
        return AnyRef.from_extern(self.externs.from_bits(bits))

    # --- funcref ---

    def funcref_to_bits(self, value: Any) -> int:
        if isinstance(value, Val):
            value = value.value
        if value is None:
            return 0
        if not isinstance(value, Func):
            raise TypeError(f"expected a Func or None for a funcref, got {type(value).__name__}")
        if value.store.refs is not self:
            raise CwasmError("a function of another store cannot be used as a reference here")
        return value.funcref_address()

    def funcref_from_bits(self, bits: int) -> Func | None:
        """The ``Func`` of word ``bits`` (a ``VMFuncRef`` address); None for 0."""
        if bits == 0:
            return None
        f = self._host_funcrefs.get(bits)
        if f is not None:
            return f
        inst = INSTANCES.lookup(bits)
        if inst is None:
            raise CwasmError(f"funcref {bits:#x} does not belong to a live instance")
        return inst.func_at_funcref(bits)
