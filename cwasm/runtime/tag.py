"""Tags and exceptions (exception handling, docs/exceptions.md).

A ``Tag`` is an identity: a small native block (``TAG_SIZE`` bytes holding the engine
type id of its function type) whose address is what compiled code compares when it
matches an exception against a catch clause. Each defined tag of an instance is a new
one; an imported tag is the exporter's, so two instances linked through it catch each
other's exceptions. An exception is a native block too (``EXN_*`` in ``vmoffsets``):
its tag's identity and its payload in value slots. Exceptions are made by the
``EXN_NEW`` builtin and live as long as their store (``Exceptions``).

The API follows wasmtime-py's newer releases (``Tag``, ``TagType``); an exception that
no wasm frame catches reaches Python as ``ThrownException``, a ``WasmtimeError`` whose
message is Wasmtime's ("thrown Wasm exception").
"""

from __future__ import annotations

import ctypes
import struct
from typing import TYPE_CHECKING, Any

from cwasm.abi import vmoffsets as vo
from cwasm.errors import CwasmError
from cwasm.runtime.types import TagType
from cwasm.wasm.types import ValType, ValueType

if TYPE_CHECKING:
    from cwasm.runtime.store import Store


class Tag:
    """A tag, which identifies the exceptions thrown with it (wasmtime-py's ``Tag``)."""

    def __init__(self, store: Store, ty: TagType) -> None:
        """Creates a new host-defined tag of type ``ty`` in ``store``."""
        if not isinstance(ty, TagType):
            raise TypeError("expected a TagType")
        store._check_open()
        self.store = store
        self._type = ty
        self.type_id = store.engine.type_id(ty.functype.wasm)
        self._block = (ctypes.c_uint64 * (vo.TAG_SIZE // 8))()
        self._block[0] = self.type_id
        #: the tag's identity, as compiled code compares it
        self.address = ctypes.addressof(self._block)
        store.tags[self.address] = self
        store.keep(self)

    def type(self, store: Store | None = None) -> TagType:
        """Returns the type of this tag."""
        return self._type

    def eq(self, store: Store, other: Tag) -> bool:
        """Whether ``other`` is this very tag (the same definition)."""
        return other is self

    def __repr__(self) -> str:
        return f"Tag({self._type!r})"


class ThrownException(CwasmError):
    """A wasm exception that no wasm frame caught (Wasmtime's ``ThrownException``), a
    ``WasmtimeError``: ``tag`` and ``payload`` (numbers as Python values, references
    as their raw bits) say which."""

    def __init__(self, tag: Tag | None, payload: tuple[Any, ...]) -> None:
        super().__init__("thrown Wasm exception")
        self.tag = tag
        self.payload = payload


class ExnRef:
    """An exception as a value (an ``exnref`` that reached Python): opaque, it can be
    passed back to wasm of its store."""

    __slots__ = ("address", "tag")

    def __init__(self, address: int, tag: Tag) -> None:
        self.address = address
        self.tag = tag

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExnRef) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)

    def __repr__(self) -> str:
        return f"ExnRef({self.tag!r})"


class Exceptions:
    """A store's exceptions, by address: alive as long as the store (an exnref may be
    kept in any table, global or frame)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._blocks: dict[int, tuple[Tag, Any]] = {}

    def new(self, tag: Tag) -> int:
        """A new exception of ``tag`` (its payload slots zero): its address."""
        n = len(tag.type().functype.wasm.params)
        block = (ctypes.c_uint64 * ((vo.EXN_VALUES + vo.VALUE_SLOT_SIZE * n) // 8))()
        block[vo.EXN_TAG // 8] = tag.address
        address = ctypes.addressof(block)
        self._blocks[address] = (tag, block)
        return address

    def to_bits(self, value: Any) -> int:
        """The word for an exnref value (``ExnRef`` of this store, or None)."""
        if value is None:
            return 0
        if isinstance(value, ExnRef) and value.address in self._blocks:
            return value.address
        raise TypeError(f"expected an ExnRef of this store or None, got {type(value).__name__}")

    def from_bits(self, bits: int) -> ExnRef | None:
        """The exnref value ``bits`` stands for."""
        entry = self._blocks.get(bits)
        return None if entry is None else ExnRef(bits, entry[0])

    def thrown(self, address: int) -> ThrownException:
        """The Python error for the exception at ``address``, which left wasm."""
        entry = self._blocks.get(address)
        if entry is None:
            return ThrownException(None, ())
        tag, block = entry
        params = tag.type().functype.wasm.params
        raw = bytes(block)
        payload = tuple(
            struct.unpack_from(_FORMATS.get(t, "<Q"), raw, vo.EXN_VALUES + vo.VALUE_SLOT_SIZE * i)[
                0
            ]
            for i, t in enumerate(params)
        )
        return ThrownException(tag, payload)


_FORMATS: dict[ValueType, str] = {
    ValType.I32: "<i",
    ValType.I64: "<q",
    ValType.F32: "<f",
    ValType.F64: "<d",
}
