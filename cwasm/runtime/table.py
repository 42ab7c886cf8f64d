"""Table: a table of references, as 8-byte elements compiled code indexes directly.

Elements hold references as the store converts them (``cwasm.runtime.refs``: a
funcref as the address of a ``VMFuncRef``, an externref as a handle, 0 for null); the
elements of an externref table are roots of the store's externref collector
(``cwasm.runtime.externref``). Like a memory, a table is described
to compiled code by a definition (element base, current length) in the owning vmctx
or in a buffer of its own. Growing past the allocated capacity moves the elements to a
larger buffer and updates the definition.
"""

from __future__ import annotations

import array
import ctypes
from typing import TYPE_CHECKING, Any

from cwasm.abi.vmoffsets import DEF_BASE, DEF_LENGTH, DEF_SIZE
from cwasm.errors import CwasmError
from cwasm.runtime.externref import HOST_HOLDING
from cwasm.runtime.limits import ResourceLimitError
from cwasm.runtime.types import TableType
from cwasm.runtime.values import RefTypeMismatch
from cwasm.wasm import types as wt

if TYPE_CHECKING:
    from cwasm.runtime.store import Store

_PREALLOCATE = 4096
MAX_TABLE = 0xFFFFFFFF


#: Wasmtime's context of a table element of the wrong type
_ELEMENT_MISMATCH = "type mismatch: value does not match table element type"


def _element_bits(store: Store, element: wt.ValueType, value: Any) -> int:
    """The word for ``value`` as an element of type ``element`` (Wasmtime's error for a
    typed reference of the wrong type)."""
    try:
        return store.refs.to_bits(element, value)
    except RefTypeMismatch as e:
        raise e.with_context(_ELEMENT_MISMATCH) from None


def _zero_words(n: int) -> array.array[int]:
    """``n`` zero u64 words."""
    return array.array("Q", (0,)) * n


class Table:
    """A table (wasmtime-py's ``Table``)."""

    def __init__(self, store: Store, ty: TableType, init: Any) -> None:
        self._own_def = (ctypes.c_uint64 * (DEF_SIZE // 8))()
        self._setup(store, ty.wasm, ctypes.addressof(self._own_def))
        fill = _element_bits(store, ty.wasm.element, init)
        for i in range(ty.wasm.limits.min):
            self._elems[i] = fill
        store.keep(self)
        store.refs.externs.add_table(self)

    @classmethod
    def _from_raw(cls, store: Store, ty: wt.TableType, def_addr: int) -> Table:
        """The table an instance defines, described by the definition at ``def_addr`` in its
        vmctx."""
        self = cls.__new__(cls)
        self._setup(store, ty, def_addr)
        return self

    def _setup(self, store: Store, ty: wt.TableType, def_addr: int) -> None:
        self.store = store
        self.wasm_type = ty
        limit = store.engine.config.max_table_elements
        minimum = ty.limits.min
        declared = ty.limits.max if ty.limits.max is not None else MAX_TABLE
        self.max_elements = max_elements = declared if declared < limit else limit
        if minimum > max_elements:
            raise CwasmError(
                f"table minimum size of {minimum} elements exceeds the table limit "
                f"of {max_elements} elements"
            )
        if not store.limits.table_growing(minimum, declared):
            raise ResourceLimitError(
                f"table minimum size of {minimum} elements exceeds table limits"
            )
        capacity = max_elements if max_elements <= _PREALLOCATE else minimum
        # an array.array (never resized: growing replaces it), not a ctypes array: no
        # ctypes array type made per capacity
        self._elems = elems = _zero_words(capacity or 1)
        self.capacity = capacity
        self.def_addr = def_addr
        self._base = ctypes.c_uint64.from_address(def_addr + DEF_BASE)
        self._len = ctypes.c_uint64.from_address(def_addr + DEF_LENGTH)
        self._base.value = elems.buffer_info()[0]
        self._len.value = minimum

    # --- wasmtime-py API ---

    def type(self, store: Store | None = None) -> TableType:
        """Gets the type of this table as a ``TableType``."""
        return TableType.from_wasm(self.wasm_type, self.store.engine)

    def size(self, store: Store | None = None) -> int:
        """Gets the size, in elements, of this table."""
        return int(self._len.value)

    def get(self, store: Store | None, idx: int) -> Any:
        """Gets an individual element within this table: a ``Func`` for a non-null
        ``funcref``, the wrapped object for a non-null ``externref``, ``None`` for null
        references and if ``idx`` is out of bounds."""
        if not 0 <= idx < self.size():
            return None
        return self.store.refs.from_bits(self.wasm_type.element, self._elems[idx])

    def set(self, store: Store | None, idx: int, val: Any) -> None:
        """Sets an individual element within this table (an error if ``idx`` is out of
        bounds or ``val`` has the wrong type)."""
        self.store.check_owner()
        if not 0 <= idx < self.size():
            raise CwasmError("table index out of bounds")
        refs = self.store.refs
        old = self._elems[idx]
        self._elems[idx] = _element_bits(self.store, self.wasm_type.element, val)
        if self.wasm_type.element.top in HOST_HOLDING:
            refs.externs.release_unreferenced(old)

    def grow(self, store: Store | None, amt: int, init: Any) -> int:
        """Grows this table by the specified number of slots, using the specified
        initializer for all new table slots. Returns the previous size; raises a
        ``WasmtimeError`` if the table could not be grown."""
        self.store.check_owner()
        old = self.grow_raw(amt, _element_bits(self.store, self.wasm_type.element, init))
        if old < 0:
            raise CwasmError(f"failed to grow table by {amt}")
        return old

    # --- runtime ---

    def grow_raw(self, delta: int, fill: int) -> int:
        """Grow by ``delta`` elements set to ``fill``; the old size, or -1."""
        old = self.size()
        new = old + delta
        if delta < 0:
            return -1
        if delta == 0:
            return old
        declared = self.wasm_type.limits.max
        if not self.store.limits.table_growing(new, MAX_TABLE if declared is None else declared):
            return -1
        if new > self.max_elements:
            return -1
        if new > self.capacity:
            capacity = max(new, min(self.max_elements, 2 * self.capacity + 16))
            elems = _zero_words(capacity)
            elems[:old] = self._elems[:old]
            self._elems = elems
            self.capacity = capacity
            self._base.value = elems.buffer_info()[0]
        if fill:
            self._elems[old:new] = array.array("Q", (fill,)) * delta
        self._len.value = new
        return old

    def raw_elements(self) -> bytes:
        """A copy of the elements' bits, as native-endian 8-byte words."""
        return bytes(memoryview(self._elems)[: self.size()])

    def raw(self, idx: int) -> int:
        """The bits of element ``idx`` (no bounds check)."""
        return int(self._elems[idx])

    def set_raw(self, idx: int, bits: int) -> None:
        """Store the bits of element ``idx`` (no bounds check)."""
        self._elems[idx] = bits

    def set_raw_range(self, start: int, words: list[int]) -> None:
        """Store ``words`` as the bits of the elements from ``start`` on (no bounds check)."""
        self._elems[start : start + len(words)] = array.array("Q", words)

    def matches(self, want: wt.TableType) -> bool:
        """Import subtyping: the same element type (closed over the engine's type ids) and
        index type, at least the wanted minimum, at most the wanted maximum."""
        if self.wasm_type.element != want.element or self.wasm_type.is_64 != want.is_64:
            return False
        have_max = self.wasm_type.limits.max
        if self.size() < want.limits.min:
            return False
        if want.limits.max is not None and (have_max is None or have_max > want.limits.max):
            return False
        return True
