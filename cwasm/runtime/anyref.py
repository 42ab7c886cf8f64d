"""References of the GC proposal's ``any`` hierarchy as Python sees them.

Compiled code keeps every ``any`` and ``extern`` reference as one word (docs/gc.md):
0 is null, ``word & 1`` an ``i31`` (value ``word >> 1``), ``word & 3 == 2`` a host
reference (an externref handle, ``cwasm.runtime.externref``), anything else a struct or
array in the store's heap (``cwasm.runtime.gc_heap``). wasmtime-py 51 has no API for
these values (its calls fail on them), so cwasm gives them one small wrapper,
``AnyRef``: an ``i31`` by its value, an externalized host object by the object itself
(``any.convert_extern``), an object by its address in its store's heap. An ``AnyRef``
given where an externref is expected is ``extern.convert_any`` of it, and an externref
made from an ``i31`` or an object comes back to Python as that ``AnyRef``.
"""

from __future__ import annotations

from typing import Any, Final

from cwasm.errors import CwasmError

#: the low bits of a word that mark an ``i31`` and a host reference
I31_TAG: Final = 1
HOST_TAG: Final = 2
HOST_MASK: Final = 3
#: how far a host reference's handle is shifted up in its word
HOST_SHIFT: Final = 2

_I31_MASK = 0x7FFF_FFFF
_MISSING = object()


class AnyRef:
    """A non-null reference of the ``any`` hierarchy: an ``i31`` (``i31(value)``), a
    host object converted with ``any.convert_extern`` (``host``), or a struct or array
    of a store's heap (``is_struct``, ``is_array``, ``type_id``)."""

    __slots__ = ("_i31", "_host", "_addr", "_heap")
    _i31: int  # the value's 31 bits (-1 otherwise)
    _host: Any  # the host object, or _MISSING
    _addr: int  # an object's address, or 0
    _heap: Any  # the GcHeap of an object, or None

    def __init__(self) -> None:
        raise TypeError("AnyRef values are made with AnyRef.i31 or come from wasm")

    @classmethod
    def _make(cls, i31: int, host: Any, addr: int, heap: Any) -> AnyRef:
        self = object.__new__(cls)
        self._i31, self._host, self._addr, self._heap = i31, host, addr, heap
        return self

    @classmethod
    def i31(cls, value: int) -> AnyRef:
        """The ``i31`` reference of the low 31 bits of ``value`` (as ``ref.i31``)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an int for an i31, got {type(value).__name__}")
        return cls._make(value & _I31_MASK, _MISSING, 0, None)

    @classmethod
    def from_extern(cls, obj: Any) -> AnyRef:
        """The reference ``any.convert_extern`` makes of host object ``obj`` (not None)."""
        if obj is None:
            raise TypeError("a null externref converts to a null anyref, None")
        if type(obj) is AnyRef:
            return obj
        return cls._make(-1, obj, 0, None)

    @classmethod
    def _object(cls, heap: Any, addr: int) -> AnyRef:
        """The reference to the object at ``addr`` of ``heap`` (a ``GcHeap``), which
        keeps the object alive (a root of its heap) until this ``AnyRef`` is freed."""
        heap.pin(addr)
        return cls._make(-1, _MISSING, addr, heap)

    def __del__(self) -> None:
        heap = self._heap
        if heap is not None:
            heap.unpin(self._addr)

    @property
    def is_i31(self) -> bool:
        """Whether this reference is an ``i31``."""
        return self._i31 >= 0

    @property
    def is_struct(self) -> bool:
        """Whether this reference is a struct."""
        return self._heap is not None and not self._heap.is_array_at(self._addr)

    @property
    def is_array(self) -> bool:
        """Whether this reference is an array."""
        return self._heap is not None and self._heap.is_array_at(self._addr)

    @property
    def type_id(self) -> int:
        """A struct's or array's engine type id."""
        if self._heap is None:
            raise CwasmError("this anyref is not a struct or an array")
        type_id: int = self._heap.type_id_at(self._addr)
        return type_id

    @property
    def i31_u(self) -> int:
        """The ``i31``'s value zero-extended (``i31.get_u``)."""
        if self._i31 < 0:
            raise CwasmError("this anyref is not an i31")
        return self._i31

    @property
    def i31_s(self) -> int:
        """The ``i31``'s value sign-extended (``i31.get_s``)."""
        u = self.i31_u
        return u - (1 << 31) if u >> 30 else u

    @property
    def host(self) -> Any:
        """The host object of a reference made by ``any.convert_extern``."""
        if self._host is _MISSING:
            raise CwasmError("this anyref is not a host reference")
        return self._host

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AnyRef):
            return NotImplemented
        if self._host is not _MISSING or other._host is not _MISSING:
            return self._host is other._host
        return (self._i31, self._addr) == (other._i31, other._addr)

    def __hash__(self) -> int:
        return id(self._host) if self._host is not _MISSING else hash((self._i31, self._addr))

    def __repr__(self) -> str:
        if self.is_i31:
            return f"AnyRef.i31({self._i31})"
        if self._heap is not None:
            return f"AnyRef({'array' if self.is_array else 'struct'} at {self._addr:#x})"
        return f"AnyRef(host={self._host!r})"

    # --- words (for ``cwasm.runtime.refs``) ---

    def word(self, host_word: Any, heap: Any) -> int:
        """This reference's word; ``host_word(obj)`` gives a host object's, and an object
        must belong to ``heap`` (its store's)."""
        if self._i31 >= 0:
            return self._i31 << 1 | I31_TAG
        if self._heap is not None:
            if self._heap is not heap:
                raise CwasmError("a reference of another store cannot be used here")
            return self._addr
        word: int = host_word(self._host)
        return word


def internal_word_to_anyref(word: int, heap: Any) -> AnyRef:
    """The ``AnyRef`` of a non-null word that is no host reference: an ``i31``, or an
    object of ``heap`` (refused if it is not one)."""
    if word & I31_TAG:
        return AnyRef.i31(word >> 1)
    if heap is None or not heap.owns(word):
        raise CwasmError(f"invalid reference {word:#x}")
    return AnyRef._object(heap, word)


def is_host_word(word: int) -> bool:
    """Whether a non-null word is a host reference (an externref handle)."""
    return word & HOST_MASK == HOST_TAG
