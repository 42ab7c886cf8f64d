"""How WASI host functions see the calling instance's linear memory.

The WASI layer only needs three operations on guest memory: its current size,
reading bytes and writing bytes. ``GuestMemory`` is that protocol; the runtime
adapts its own memory object to it (or uses ``RawMemory`` over the memory's
base address and length). ``GuestView`` adds the typed accessors the syscalls
use. Every out-of-bounds access raises ``GuestMemoryFault``, which fails the WASI
call as Wasmtime's does (an error with Wasmtime's text, not ``EFAULT``).
"""

from __future__ import annotations

import ctypes
import struct
from typing import Protocol

from cwasm.wasi.errors import WasiCallError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_IOVEC = struct.Struct("<II")


class GuestMemoryFault(WasiCallError):
    """A WASI call named guest memory outside the linear memory's bounds (Wasmtime's
    text: ``Pointer out of bounds: Region { start: <ptr>, len: <length> }``)."""

    def __init__(self, ptr: int, length: int, size: int) -> None:
        super().__init__(f"Pointer out of bounds: Region {{ start: {ptr}, len: {length} }}")
        self.ptr = ptr
        self.length = length
        self.size = size


class GuestMemory(Protocol):
    """The calling instance's linear memory, as WASI needs it."""

    def size(self) -> int:
        """The memory's current length in bytes."""
        ...

    def read(self, ptr: int, length: int) -> bytes:
        """``length`` bytes from ``ptr``; raises ``GuestMemoryFault`` when out of bounds."""
        ...

    def write(self, ptr: int, data: bytes) -> None:
        """Stores ``data`` at ``ptr``; raises ``GuestMemoryFault`` when out of bounds."""
        ...


def _check(ptr: int, length: int, size: int) -> None:
    if ptr < 0 or length < 0 or ptr + length > size:
        raise GuestMemoryFault(ptr, length, size)


class BytearrayMemory:
    """A ``GuestMemory`` backed by a Python ``bytearray`` (tests, tools)."""

    def __init__(self, data: bytearray | int) -> None:
        self.data = bytearray(data) if isinstance(data, int) else data

    def size(self) -> int:
        return len(self.data)

    def read(self, ptr: int, length: int) -> bytes:
        _check(ptr, length, len(self.data))
        return bytes(self.data[ptr : ptr + length])

    def write(self, ptr: int, data: bytes) -> None:
        _check(ptr, len(data), len(self.data))
        self.data[ptr : ptr + len(data)] = data


class RawMemory:
    """A ``GuestMemory`` over native memory at ``base`` spanning ``length`` bytes.

    The runtime builds one per host call from its linear memory's current base
    address and length (both may change when the memory grows).
    """

    def __init__(self, base: int, length: int) -> None:
        self.base = base
        self.length = length

    def size(self) -> int:
        return self.length

    def read(self, ptr: int, length: int) -> bytes:
        _check(ptr, length, self.length)
        return ctypes.string_at(self.base + ptr, length)

    def write(self, ptr: int, data: bytes) -> None:
        _check(ptr, len(data), self.length)
        ctypes.memmove(self.base + ptr, data, len(data))


class GuestView:
    """Typed little-endian access to a ``GuestMemory``."""

    def __init__(self, memory: GuestMemory) -> None:
        self.memory = memory

    def read(self, ptr: int, length: int) -> bytes:
        return self.memory.read(ptr, length)

    def write(self, ptr: int, data: bytes) -> None:
        self.memory.write(ptr, data)

    def check(self, ptr: int, length: int) -> None:
        """Raises ``GuestMemoryFault`` unless ``[ptr, ptr + length)`` is in bounds."""
        _check(ptr, length, self.memory.size())

    def u16(self, ptr: int) -> int:
        value: int = _U16.unpack(self.memory.read(ptr, 2))[0]
        return value

    def u32(self, ptr: int) -> int:
        value: int = _U32.unpack(self.memory.read(ptr, 4))[0]
        return value

    def u64(self, ptr: int) -> int:
        value: int = _U64.unpack(self.memory.read(ptr, 8))[0]
        return value

    def set_u8(self, ptr: int, value: int) -> None:
        self.memory.write(ptr, bytes((value & 0xFF,)))

    def set_u32(self, ptr: int, value: int) -> None:
        self.memory.write(ptr, _U32.pack(value & 0xFFFF_FFFF))

    def set_u64(self, ptr: int, value: int) -> None:
        self.memory.write(ptr, _U64.pack(value & 0xFFFF_FFFF_FFFF_FFFF))

    def iovecs(self, ptr: int, count: int) -> list[tuple[int, int]]:
        """The ``(buf, buf_len)`` pairs of an ``$iovec_array``, each checked against bounds."""
        raw = self.memory.read(ptr, 8 * count)
        pairs: list[tuple[int, int]] = list(_IOVEC.iter_unpack(raw))
        size = self.memory.size()
        for buf, buf_len in pairs:
            _check(buf, buf_len, size)
        return pairs

    def gather(self, ptr: int, count: int) -> bytes:
        """The bytes a ``$ciovec_array`` names, concatenated."""
        return b"".join(self.memory.read(buf, n) for buf, n in self.iovecs(ptr, count))

    def scatter(self, iovecs: list[tuple[int, int]], data: bytes) -> None:
        """Spreads ``data`` over ``iovecs`` in order (it must not be longer than they are)."""
        offset = 0
        for buf, buf_len in iovecs:
            if offset >= len(data):
                break
            chunk = data[offset : offset + buf_len]
            self.memory.write(buf, chunk)
            offset += len(chunk)

    def string(self, ptr: int, length: int) -> str:
        """A UTF-8 string (a WASI ``$string`` argument); raises ``UnicodeDecodeError``."""
        return self.memory.read(ptr, length).decode("utf-8")
