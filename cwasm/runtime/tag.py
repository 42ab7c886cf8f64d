"""Tags and exceptions (exception handling, docs/exceptions.md).

A ``Tag`` is an identity: a small native block (``TAG_SIZE`` bytes holding the engine
type id of its function type) whose address is what compiled code compares when it
matches an exception against a catch clause. Each defined tag of an instance is a new
one; an imported tag is the exporter's, so two instances linked through it catch each
other's exceptions. An exception is a native block too (``EXN_*`` in ``vmoffsets``):
its tag's identity, its size and its payload in value slots, allocated by compiled
code in the store's exception arena (``Exceptions``).

The API follows wasmtime-py's newer releases (``Tag``, ``TagType``); an exception that
no wasm frame catches reaches Python as ``ThrownException``: a ``Trap`` without a trap
code whose message ends in Wasmtime's "thrown Wasm exception", as newer wasmtime-py
raises (checked with wasmtime-py 51).
"""

from __future__ import annotations

import bisect
import ctypes
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cwasm.abi import vmoffsets as vo
from cwasm.runtime.trap import Trap
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


class ThrownException(Trap):
    """A wasm exception that no wasm frame caught. Newer wasmtime-py raises a ``Trap``
    without a trap code whose message is the wasm backtrace caused by Wasmtime's
    ``ThrownException`` ("thrown Wasm exception"); this is one, and ``tag`` and
    ``payload`` (numbers as Python values, references as their raw bits) say which
    exception it was."""

    def __init__(
        self,
        tag: Tag | None,
        payload: tuple[Any, ...],
        return_addresses: tuple[int, ...] = (),
        address: int = 0,
    ) -> None:
        super().__init__(THROWN_MESSAGE, return_addresses)
        self.tag = tag
        self.payload = payload
        #: the exception's address (0: none): raised out of a host function called from
        #: wasm, it is thrown on into that wasm
        self.address = address


#: Wasmtime's text for an exception that left wasm uncaught
THROWN_MESSAGE = "thrown Wasm exception"


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


#: bytes of one chunk of a store's exception arena (a larger exception gets its own)
ARENA_CHUNK = 64 * 1024


class Exceptions:
    """A store's exceptions: the chunks of its exception arena, where compiled code
    allocates them (bumping ``STORE_EXN_ARENA``) and gives back the last one when it
    is caught without an ``exnref`` (``EXN_ESCAPED`` unset). What stays lives as long
    as the store: an exnref may be kept in any table, global or frame."""

    def __init__(self, store: Store, ctx: Any) -> None:
        self._store = store
        self._ctx = ctx  # the store context's words
        self._chunks: list[Any] = []
        self._ranges: list[tuple[int, int]] = []  # (start, end) of each chunk, sorted

    def new(self, tag: Tag) -> int:
        """A new exception of ``tag`` at the start of a new arena chunk, which becomes
        the current one (``EXN_NEW``, when compiled code found the current one full)."""
        size = vo.EXN_VALUES + vo.VALUE_SLOT_SIZE * len(tag.type().functype.wasm.params)
        length = max(ARENA_CHUNK, size)
        chunk = (ctypes.c_uint64 * (length // 8))()
        start = ctypes.addressof(chunk)
        self._chunks.append(chunk)
        bisect.insort(self._ranges, (start, start + length))
        chunk[vo.EXN_TAG // 8] = tag.address
        chunk[vo.EXN_SIZE // 8] = size
        self._ctx[vo.STORE_EXN_ARENA // 8] = start + size
        self._ctx[vo.STORE_EXN_ARENA_END // 8] = start + length
        return start

    def words(self) -> Iterator[int]:
        """Every word of the exception arena: the GC roots its exceptions may hold."""
        for chunk in self._chunks:
            yield from chunk

    def rethrow(self, error: BaseException) -> bool:
        """Whether ``error``, raised by a host function called from wasm, is a wasm
        exception of this store: then it is left at ``STORE_EXN`` to be thrown on."""
        if not isinstance(error, ThrownException) or self._tag_at(error.address) is None:
            return False
        self._ctx[vo.STORE_EXN // 8] = error.address
        return True

    @property
    def arena_bytes(self) -> int:
        """Bytes of exception arena the store holds (it grows only while exceptions
        stay referenced, or are not caught in the order they were thrown)."""
        return sum(end - start for start, end in self._ranges)

    def _owns(self, address: int) -> bool:
        i = bisect.bisect_right(self._ranges, (address, 1 << 64)) - 1
        return i >= 0 and self._ranges[i][0] <= address < self._ranges[i][1]

    def _tag_at(self, address: int) -> Tag | None:
        if not address or not self._owns(address):
            return None
        identity = ctypes.c_uint64.from_address(address + vo.EXN_TAG).value
        return self._store.tags.get(identity)

    def to_bits(self, value: Any) -> int:
        """The word for an exnref value (``ExnRef`` of this store, or None)."""
        if value is None:
            return 0
        if isinstance(value, ExnRef) and self._owns(value.address):
            return value.address
        raise TypeError(f"expected an ExnRef of this store or None, got {type(value).__name__}")

    def from_bits(self, bits: int) -> ExnRef | None:
        """The exnref value ``bits`` stands for."""
        tag = self._tag_at(bits)
        return None if tag is None else ExnRef(bits, tag)

    def thrown(self, address: int, return_addresses: tuple[int, ...]) -> ThrownException:
        """The Python error for the exception at ``address``, which left wasm (thrown at
        the end of the backtrace ``return_addresses``)."""
        tag = self._tag_at(address)
        if tag is None:
            return ThrownException(None, (), return_addresses)
        params = tag.type().functype.wasm.params
        raw = ctypes.string_at(address, vo.EXN_VALUES + vo.VALUE_SLOT_SIZE * len(params))
        payload = tuple(
            struct.unpack_from(_FORMATS.get(t, "<Q"), raw, vo.EXN_VALUES + vo.VALUE_SLOT_SIZE * i)[
                0
            ]
            for i, t in enumerate(params)
        )
        return ThrownException(tag, payload, return_addresses, address)


_FORMATS: dict[ValueType, str] = {
    ValType.I32: "<i",
    ValType.I64: "<q",
    ValType.F32: "<f",
    ValType.F64: "<d",
}
