"""BinaryReader: bounds-checked reading of bytes, LEB128 integers, floats and names."""

from __future__ import annotations

import struct

from cwasm.errors import MalformedError

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


class BinaryReader:
    """Cursor over a wasm binary. ``pos`` is an absolute offset into ``data``.

    ``end`` bounds the reader (a section or body); reading past it raises
    ``unexpected end`` (or ``eof_message`` when a section-specific wording applies).
    """

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def eof(self) -> bool:
        return self.pos >= self.end

    def error(self, message: str, offset: int | None = None) -> MalformedError:
        return MalformedError(message, self.pos if offset is None else offset)

    def u8(self) -> int:
        p = self.pos
        if p >= self.end:
            raise MalformedError("unexpected end", p)
        self.pos = p + 1
        return self.data[p]

    def peek(self) -> int:
        if self.pos >= self.end:
            raise MalformedError("unexpected end", self.pos)
        return self.data[self.pos]

    def bytes(self, n: int) -> bytes:
        p = self.pos
        if n < 0 or p + n > self.end:
            raise MalformedError("unexpected end", p)
        self.pos = p + n
        return self.data[p : p + n]

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise MalformedError("unexpected end", self.pos)
        self.pos += n

    def _uleb(self, bits: int) -> int:
        data = self.data
        p = self.pos
        end = self.end
        if p < end:
            b = data[p]
            if b < 0x80:
                self.pos = p + 1
                return b
        start = p
        result = 0
        shift = 0
        max_bytes = (bits + 6) // 7
        for i in range(max_bytes):
            if p >= end:
                raise MalformedError("unexpected end", p)
            b = data[p]
            p += 1
            if i == max_bytes - 1:
                # the final byte may only carry the remaining bits
                if b & 0x80:
                    raise MalformedError("integer representation too long", start)
                used = bits - shift
                if b >> used:
                    raise MalformedError("integer too large", start)
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                self.pos = p
                return result
        raise MalformedError("integer representation too long", start)  # pragma: no cover

    def _sleb(self, bits: int) -> int:
        data = self.data
        p = self.pos
        end = self.end
        if p < end:
            b = data[p]
            if b < 0x40:
                self.pos = p + 1
                return b
            if 0x40 <= b < 0x80:
                self.pos = p + 1
                return b - 0x80
        start = p
        result = 0
        shift = 0
        max_bytes = (bits + 6) // 7
        for i in range(max_bytes):
            if p >= end:
                raise MalformedError("unexpected end", p)
            b = data[p]
            p += 1
            if i == max_bytes - 1:
                if b & 0x80:
                    raise MalformedError("integer representation too long", start)
                # the unused high bits must all equal the sign bit
                used = bits - shift  # bits of this byte that carry value (1..7)
                sign_and_rest = b >> (used - 1)
                if sign_and_rest not in (0, (0x7F >> (used - 1))):
                    raise MalformedError("integer too large", start)
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                self.pos = p
                if shift < 64 + 7 and (b & 0x40):
                    result -= 1 << shift
                return result
        raise MalformedError("integer representation too long", start)  # pragma: no cover

    def u32(self) -> int:
        return self._uleb(32)

    def u64(self) -> int:
        return self._uleb(64)

    def s32(self) -> int:
        return self._sleb(32)

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
