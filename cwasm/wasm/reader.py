"""BinaryReader: bounds-checked reading of bytes, LEB128 integers, floats and names."""

from __future__ import annotations

import struct

from cwasm.errors import MalformedError

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


class BinaryReader:
    """Cursor over a wasm binary. ``pos`` is an absolute offset into ``data``.

    ``end`` bounds the reader (a section or body); reading past it raises
    ``eof_message``: ``unexpected end`` unless the caller wants the wording of a
    specific context (the spec decoder says ``unexpected end of section or function``).
    """

    __slots__ = ("data", "pos", "end", "eof_message")

    def __init__(
        self,
        data: bytes,
        pos: int = 0,
        end: int | None = None,
        eof_message: str = "unexpected end",
    ) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.eof_message = eof_message

    def eof(self) -> bool:
        return self.pos >= self.end

    def error(self, message: str, offset: int | None = None) -> MalformedError:
        return MalformedError(message, self.pos if offset is None else offset)

    def u8(self) -> int:
        p = self.pos
        if p >= self.end:
            raise MalformedError(self.eof_message, p)
        self.pos = p + 1
        return self.data[p]

    def peek(self) -> int:
        if self.pos >= self.end:
            raise MalformedError(self.eof_message, self.pos)
        return self.data[self.pos]

    def bytes(self, n: int) -> bytes:
        p = self.pos
        if n < 0 or p + n > self.end:
            raise MalformedError(self.eof_message, p)
        self.pos = p + n
        return self.data[p : p + n]

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise MalformedError(self.eof_message, self.pos)
        self.pos += n

    # The checks follow the spec's decoder: on the last byte that may carry value
    # bits, unused bits are checked (``integer too large``) before the continuation
    # bit (``integer representation too long``).

    def _uleb(self, bits: int) -> int:
        data = self.data
        p = self.pos
        end = self.end
        if p < end:
            b = data[p]
            if b < 0x80:
                self.pos = p + 1
                return b
        result = 0
        shift = 0
        left = bits  # value bits still allowed
        while True:
            if left <= 0:
                raise MalformedError("integer representation too long", p)
            if p >= end:
                raise MalformedError(self.eof_message, p)
            b = data[p]
            p += 1
            if left < 7 and (b & 0x7F) >> left:
                raise MalformedError("integer too large", p - 1)
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                self.pos = p
                return result
            shift += 7
            left -= 7

    def _sleb(self, bits: int) -> int:
        data = self.data
        p = self.pos
        end = self.end
        if p < end:
            b = data[p]
            if b < 0x40:
                self.pos = p + 1
                return b
            if b < 0x80:
                self.pos = p + 1
                return b - 0x80
        result = 0
        shift = 0
        left = bits
        while True:
            if left <= 0:
                raise MalformedError("integer representation too long", p)
            if p >= end:
                raise MalformedError(self.eof_message, p)
            b = data[p]
            p += 1
            if left < 7:
                # the unused high bits, and the sign bit, must all be equal
                mask = (0x7F << (left - 1)) & 0x7F
                high = b & mask
                if high and high != mask:
                    raise MalformedError("integer too large", p - 1)
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                self.pos = p
                if b & 0x40:
                    result -= 1 << shift
                return result
            left -= 7

    def u32(self) -> int:
        return self._uleb(32)

    def u64(self) -> int:
        return self._uleb(64)

    def s32(self) -> int:
        return self._sleb(32)

    def len32(self) -> int:
        """A vector length or byte count (u32): it may not exceed the bytes left.

        The bytes left are counted from the start of the count itself, as the spec's
        decoder does, and a larger count is ``length out of bounds`` at that start.
        """
        p = self.pos
        n = self._uleb(32)
        if n > self.end - p:
            raise MalformedError("length out of bounds", p)
        return n

    def s33(self) -> int:
        return self._sleb(33)

    def s64(self) -> int:
        return self._sleb(64)

    def f32_bits(self) -> int:
        return int.from_bytes(self.bytes(4), "little")

    def f64_bits(self) -> int:
        return int.from_bytes(self.bytes(8), "little")

    def f32(self) -> float:
        return float(_F32.unpack(self.bytes(4))[0])

    def f64(self) -> float:
        return float(_F64.unpack(self.bytes(8))[0])

    def name(self) -> str:
        n = self.u32()
        start = self.pos
        raw = self.bytes(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedError("malformed UTF-8 encoding", start) from None
