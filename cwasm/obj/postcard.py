"""A small postcard (serde) codec: varints, zigzag, sequences, strings, options, enums.

Postcard 1.x encodes u16..u128 as unsigned LEB128, signed integers zigzag-then-LEB,
bool as one byte, f32/f64 raw little-endian, strings/bytes/sequences/maps as a varint
length followed by the items, ``Option`` as 0 or 1 + value, enums as a varint
variant index + payload, and structs/tuples as their fields back to back.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import TypeVar

from cwasm.errors import ArtifactError

T = TypeVar("T")


class PostcardError(ArtifactError):
    """Postcard data ended early or held a value out of range."""


class Writer:
    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self.buf)

    def varint(self, v: int) -> None:
        if v < 0:
            raise ValueError("varint of a negative value")
        buf = self.buf
        while v >= 0x80:
            buf.append((v & 0x7F) | 0x80)
            v >>= 7
        buf.append(v)

    def zigzag(self, v: int, bits: int = 64) -> None:
        self.varint(((v << 1) ^ (v >> (bits - 1))) & ((1 << bits) - 1))

    def u8(self, v: int) -> None:
        self.buf.append(v & 0xFF)

    def bool(self, v: bool) -> None:
        self.buf.append(1 if v else 0)

    def f32(self, v: float) -> None:
        self.buf += struct.pack("<f", v)

    def f64(self, v: float) -> None:
        self.buf += struct.pack("<d", v)

    def bytes(self, v: bytes) -> None:
        self.varint(len(v))
        self.buf += v

    def str(self, v: str) -> None:
        self.bytes(v.encode("utf-8"))

    def option(self, v: T | None, item: Callable[[T], None]) -> None:
        if v is None:
            self.buf.append(0)
        else:
            self.buf.append(1)
            item(v)

    def seq(self, items: Iterable[T], item: Callable[[T], None]) -> None:
        items = list(items)
        self.varint(len(items))
        for x in items:
            item(x)


class Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def _eof(self) -> PostcardError:
        return PostcardError("postcard data ended early: Hit the end of buffer, expected more data")

    def remaining(self) -> int:
        return self.end - self.pos

    def varint(self, bits: int = 64) -> int:
        data = self.data
        p = self.pos
        if p < self.end:
            first = data[p]
            if first < 0x80:  # the common one-byte case
                self.pos = p + 1
                return first
        result = 0
        shift = 0
        while True:
            if p >= self.end:
                raise self._eof()
            b = data[p]
            p += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift >= bits + 7:
                raise PostcardError("postcard varint too long")
        if result >> bits:
            raise PostcardError("postcard varint out of range")
        self.pos = p
        return result

    def u32(self) -> int:
        return self.varint(32)

    def u64(self) -> int:
        return self.varint(64)

    def zigzag(self, bits: int = 64) -> int:
        v = self.varint(bits)
        return (v >> 1) ^ -(v & 1)

    def u8(self) -> int:
        if self.pos >= self.end:
            raise self._eof()
        v = self.data[self.pos]
        self.pos += 1
        return v

    def bool(self) -> bool:
        v = self.u8()
        if v > 1:
            raise PostcardError(f"postcard bool out of range: {v}")
        return v == 1

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise self._eof()
        v = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return v

    def f32(self) -> float:
        return float(struct.unpack("<f", self.raw(4))[0])

    def f64(self) -> float:
        return float(struct.unpack("<d", self.raw(8))[0])

    def bytes(self) -> bytes:
        return self.raw(self.varint())

    def str(self) -> str:
        p = self.pos
        data = self.data
        if p < self.end and data[p] < 0x80:  # a one-byte length, read inline
            n = data[p]
            if p + 1 + n > self.end:
                raise self._eof()
            raw = bytes(data[p + 1 : p + 1 + n])
            self.pos = p + 1 + n
        else:
            raw = self.bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PostcardError("postcard string is not UTF-8") from None

    def option(self, item: Callable[[], T]) -> T | None:
        tag = self.u8()
        if tag == 0:
            return None
        if tag == 1:
            return item()
        raise PostcardError(f"postcard option tag out of range: {tag}")

    def seq(self, item: Callable[[], T]) -> list[T]:
        n = self.varint()
        if n > self.remaining():
            # every item takes at least one byte, so this count cannot be real
            raise self._eof()
        return [item() for _ in range(n)]

    def enum(self, count: int) -> int:
        v = self.varint(32)
        if v >= count:
            raise PostcardError(f"postcard enum variant {v} out of range")
        return v
