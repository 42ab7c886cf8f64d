"""References of the GC proposal's ``any`` hierarchy as Python sees them.

Compiled code keeps every ``any`` and ``extern`` reference as one word (docs/gc.md):
0 is null, ``word & 1`` an ``i31`` (value ``word >> 1``), ``word & 3 == 2`` a host
reference (an externref handle, ``cwasm.runtime.externref``), anything else a heap
object. wasmtime-py 51 has no API for these values (its calls fail on them), so cwasm
gives them one small wrapper, ``AnyRef``: an ``i31`` by its value, an externalized
host object by the object itself (``any.convert_extern``). An ``AnyRef`` given where an
externref is expected is ``extern.convert_any`` of it, and an externref made from an
``i31`` comes back to Python as that ``AnyRef``.
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
    """A non-null reference of the ``any`` hierarchy: an ``i31`` (``i31(value)``) or a
    host object converted with ``any.convert_extern`` (``host``)."""

    __slots__ = ("_i31", "_host")
    _i31: int  # the value's 31 bits (-1 for a host reference)
    _host: Any  # the host object, or _MISSING for an i31

    def __init__(self) -> None:
        raise TypeError("AnyRef values are made with AnyRef.i31 or come from wasm")

    @classmethod
    def i31(cls, value: int) -> AnyRef:
        """The ``i31`` reference of the low 31 bits of ``value`` (as ``ref.i31``)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an int for an i31, got {type(value).__name__}")
        self = object.__new__(cls)
        self._i31 = value & _I31_MASK
        self._host = _MISSING
        return self

    @classmethod
    def from_extern(cls, obj: Any) -> AnyRef:
        """The reference ``any.convert_extern`` makes of host object ``obj`` (not None)."""
        if obj is None:
            raise TypeError("a null externref converts to a null anyref, None")
        if type(obj) is AnyRef:
            return obj
        self = object.__new__(cls)
        self._i31 = -1
        self._host = obj
        return self

    @property
    def is_i31(self) -> bool:
        """Whether this reference is an ``i31``."""
        return self._host is _MISSING

    @property
    def i31_u(self) -> int:
        """The ``i31``'s value zero-extended (``i31.get_u``)."""
        if self._host is not _MISSING:
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
            raise CwasmError("this anyref is an i31, not a host reference")
        return self._host

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AnyRef):
            return NotImplemented
        if self.is_i31 or other.is_i31:
            return self._i31 == other._i31 and self._host is other._host
        return self._host is other._host

    def __hash__(self) -> int:
        return hash(self._i31) if self.is_i31 else id(self._host)

    def __repr__(self) -> str:
        if self.is_i31:
            return f"AnyRef.i31({self._i31})"
        return f"AnyRef(host={self._host!r})"

    # --- words (for ``cwasm.runtime.refs``) ---

    def word(self, host_word: Any) -> int:
        """This reference's word; ``host_word(obj)`` gives a host object's."""
        if self._host is _MISSING:
            return self._i31 << 1 | I31_TAG
        word: int = host_word(self._host)
        return word


def i31_word_to_anyref(word: int) -> AnyRef:
    """The ``AnyRef`` of an ``i31`` word."""
    return AnyRef.i31(word >> 1)


def is_host_word(word: int) -> bool:
    """Whether a non-null word is a host reference (an externref handle)."""
    return word & HOST_MASK == HOST_TAG
