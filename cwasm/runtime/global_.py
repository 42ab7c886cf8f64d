"""Global: one global variable's 16 bytes of storage, in a vmctx or a buffer of its own.

Compiled code loads and stores the value in place (through a pointer in the vmctx
for imported globals). Python reads and writes it as the API value or as raw bits; a
reference is kept as the store converts it (``cwasm.runtime.refs``), and an externref
global is a root of the store's externref collector (``cwasm.runtime.externref``).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cwasm.abi.vmoffsets import GLOBAL_SIZE
from cwasm.errors import CwasmError
from cwasm.runtime.externref import HOST_HOLDING
from cwasm.runtime.types import GlobalType, Val
from cwasm.runtime.values import RefTypeMismatch
from cwasm.wasm import types as wt

if TYPE_CHECKING:
    from cwasm.runtime.store import Store

_API: dict[wt.ValueType, str] = {
    wt.EXNREF: "<Q",
    wt.ANYREF: "<Q",
    wt.ValType.I32: "<i",
    wt.ValType.I64: "<q",
    wt.ValType.F32: "<f",
    wt.ValType.F64: "<d",
    wt.ValType.FUNCREF: "<Q",
    wt.ValType.EXTERNREF: "<Q",
    wt.ValType.V128: "<QQ",
}
_RAW: dict[wt.ValueType, str] = {
    wt.EXNREF: "<Q",
    wt.ANYREF: "<Q",
    wt.ValType.I32: "<I",
    wt.ValType.I64: "<Q",
    wt.ValType.F32: "<I",
    wt.ValType.F64: "<Q",
    wt.ValType.FUNCREF: "<Q",
    wt.ValType.EXTERNREF: "<Q",
    wt.ValType.V128: "<QQ",
}


#: a global's storage, as ctypes sees it
_Storage = ctypes.c_char * GLOBAL_SIZE

#: Wasmtime's contexts of a typed reference of the wrong type
_INIT_MISMATCH = "type mismatch: initial value provided does not match the type of this global"
_SET_MISMATCH = "type mismatch: attempt to set global to value of wrong type"


class Global:
    """A global (wasmtime-py's ``Global``)."""

    def __init__(self, store: Store, ty: GlobalType, val: Any) -> None:
        """Creates a new global in ``store`` of type ``ty`` with the initial value ``val``
        (a ``Val`` of the global's type or a native python value)."""
        if not isinstance(ty, GlobalType):
            raise TypeError("expected a GlobalType")
        self._own = (ctypes.c_uint64 * (GLOBAL_SIZE // 8))()
        self._setup(store, ty.wasm, ctypes.addressof(self._own))
        self._write(val, _INIT_MISMATCH)
        store.keep(self)
        store.refs.externs.add_global(self)

    @classmethod
    def _from_raw(cls, store: Store, ty: wt.GlobalType, addr: int) -> Global:
        """The global an instance defines, stored at ``addr`` in its vmctx."""
        self = cls.__new__(cls)
        self._setup(store, ty, addr)
        return self

    def _setup(self, store: Store, ty: wt.GlobalType, addr: int) -> None:
        self.store = store
        self.wasm_type = ty
        self.addr = addr
        self._view = _Storage.from_address(addr)

    def type(self, store: Store | None = None) -> GlobalType:
        """Gets the type of this global as a ``GlobalType``."""
        return GlobalType.from_wasm(self.wasm_type, self.store.engine)

    def value(self, store: Store | None = None) -> Any:
        """Gets the current value of this global, as a native python value."""
        t = self.wasm_type.content
        vals = struct.unpack_from(_API[t.top], self._view, 0)
        if t == wt.ValType.V128:
            return vals[0] | (vals[1] << 64)
        if t.is_ref:
            return self.store.refs.from_bits(t, vals[0])
        return vals[0]

    def value_raw(self, store: Store | None = None) -> Any:
        """The value as raw bits (floats as IEEE bit patterns); references as objects."""
        t = self.wasm_type.content
        if t.is_ref:
            return self.value()
        return self.read_raw()

    def read_raw(self) -> int:
        """The raw bits (integers and float bit patterns; references as their bits)."""
        t = self.wasm_type.content
        vals = struct.unpack_from(_RAW[t.top], self._view, 0)
        return vals[0] | (vals[1] << 64) if t == wt.ValType.V128 else vals[0]

    def set_value(self, store: Store | None, val: Any) -> None:
        """Sets the value of this (mutable) global to a new value."""
        if not self.wasm_type.mutable:
            raise CwasmError("immutable global cannot be set")
        if self.wasm_type.content.top not in HOST_HOLDING:
            self._write(val, _SET_MISMATCH)
            return
        old = self.read_raw()
        self._write(val, _SET_MISMATCH)
        self.store.refs.externs.release_unreferenced(old)

    def _write(self, val: Any, context: str) -> None:
        """Store ``val`` (``context``: Wasmtime's for a typed reference of the wrong type)."""
        t = self.wasm_type.content
        if isinstance(val, Val):
            if val.kind != t and val.kind != self.store.refs.top(t):
                raise TypeError("wrong type of `Val` provided")
            val = val.value
        if t.is_ref:
            try:
                bits = self.store.refs.to_bits(t, val)
            except RefTypeMismatch as e:
                raise e.with_context(context) from None
            struct.pack_into("<Q", self._view, 0, bits)
        elif t == wt.ValType.V128:
            v = int(val) & ((1 << 128) - 1)
            struct.pack_into("<QQ", self._view, 0, v & ((1 << 64) - 1), v >> 64)
        elif t in (wt.ValType.F32, wt.ValType.F64):
            if isinstance(val, bool) or not isinstance(val, (int, float)):
                raise TypeError(f"expected a float for a global of type {t.text}")
            struct.pack_into(_API[t.top], self._view, 0, float(val))
        else:
            bits = 32 if t == wt.ValType.I32 else 64
            if isinstance(val, bool) or not isinstance(val, int):
                raise TypeError(f"expected an int for a global of type {t.text}")
            struct.pack_into(_RAW[t.top], self._view, 0, val & ((1 << bits) - 1))

    def write_raw(self, bits: int) -> None:
        """Store raw bits (integers and float bit patterns; references as their bits)."""
        t = self.wasm_type.content
        if t == wt.ValType.V128:
            struct.pack_into("<QQ", self._view, 0, bits & ((1 << 64) - 1), bits >> 64)
        else:
            struct.pack_into(_RAW[t.top], self._view, 0, bits)

    def matches(self, want: wt.GlobalType, canon: Sequence[int] = ()) -> bool:
        """Whether this global can be imported as one of type ``want`` (types closed over
        the engine's type ids): the same mutability, and the same content type, or for an
        immutable global a subtype (typed references; ``canon``: the engine's
        ``TypeRegistry.canon``, for GC's declared subtypes)."""
        have = self.wasm_type
        if have.mutable != want.mutable:
            return False
        if want.mutable:
            return have.content == want.content
        return wt.val_subtype(have.content, want.content, canon)
