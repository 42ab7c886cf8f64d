"""x86-64 instruction lengths, enough to walk LLVM's code and find guard-mode memory accesses.

In guard-page mode every linear-memory access is emitted in address space 258, which
x86 encodes as an ``ss:`` segment-override prefix (0x36) — a no-op in 64-bit mode that
nothing else in cwasm's code carries. Walking a function instruction by instruction
and keeping those with the prefix gives the exact pc of every access that may fault,
which become the MemoryOutOfBounds trap sites. The decoder covers the legacy and
``0F``/``0F 38``/``0F 3A`` opcode maps, plain or VEX-encoded (code compiled with FMA,
for relaxed SIMD, is AVX code), never EVEX, and raises on anything else rather than
guess.
"""

from __future__ import annotations

from cwasm.errors import CwasmError

_SS = 0x36
_LEGACY_PREFIXES = frozenset((0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3))

# one-byte map: which opcodes take a ModRM byte, and their immediate kind
_NONE, _B, _Z, _W, _MOFFS, _IMM_MOV, _ENTER, _IMM16 = range(8)


def _one_byte_tables() -> tuple[list[bool], list[int], set[int]]:
    modrm = [False] * 256
    imm = [_NONE] * 256
    invalid: set[int] = {0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37, 0x3F}
    invalid |= {0x60, 0x61, 0x62, 0x82, 0x9A, 0xC4, 0xC5, 0xD4, 0xD5, 0xD6, 0xEA}
    for row in range(8):  # ALU ops 00-3F
        for low in range(4):
            modrm[row * 8 + low] = True
        imm[row * 8 + 4] = _B
        imm[row * 8 + 5] = _Z
    for op in (0x63, 0x69, 0x6B, 0xC0, 0xC1, 0xC6, 0xC7, 0xD0, 0xD1, 0xD2, 0xD3, 0xF6, 0xF7):
        modrm[op] = True
    for op in range(0x80, 0x90):
        modrm[op] = True
    for op in range(0xD8, 0xE0):
        modrm[op] = True
    modrm[0xFE] = modrm[0xFF] = True
    for op in (0x6A, 0x6B, 0x80, 0x83, 0xA8, 0xC0, 0xC1, 0xC6, 0xCD, 0xE4, 0xE5, 0xE6, 0xE7):
        imm[op] = _B
    for op in range(0x70, 0x80):
        imm[op] = _B
    for op in range(0xB0, 0xB8):
        imm[op] = _B
    for op in (0xE0, 0xE1, 0xE2, 0xE3, 0xEB):
        imm[op] = _B
    for op in (0x68, 0x69, 0x81, 0xA9, 0xC7):
        imm[op] = _Z
    imm[0xE8] = imm[0xE9] = _W  # rel32 whatever the operand size
    for op in range(0xA0, 0xA4):
        imm[op] = _MOFFS
    for op in range(0xB8, 0xC0):
        imm[op] = _IMM_MOV
    imm[0xC2] = imm[0xCA] = _IMM16
    imm[0xC8] = _ENTER
    return modrm, imm, invalid


_MODRM1, _IMM1, _INVALID1 = _one_byte_tables()

# 0F map
_NO_MODRM_0F = frozenset(
    [0x05, 0x06, 0x07, 0x08, 0x09, 0x0B, 0x0E, 0x77, 0xA0, 0xA1, 0xA2, 0xA8, 0xA9, 0xAA]
    + list(range(0x30, 0x38))
    + list(range(0x80, 0x90))
    + list(range(0xC8, 0xD0))
)
_IMM8_0F = frozenset((0x70, 0x71, 0x72, 0x73, 0xA4, 0xAC, 0xBA, 0xC2, 0xC4, 0xC5, 0xC6))


class DecodeError(CwasmError):
    """The code holds an instruction this decoder does not know."""


def _modrm_length(code: bytes, p: int, addr32: bool) -> int:
    """Bytes taken by the ModRM byte at ``p`` and its SIB and displacement."""
    modrm = code[p]
    mod = modrm >> 6
    rm = modrm & 7
    n = 1
    if mod == 3:
        return n
    if rm == 4:
        sib = code[p + 1]
        n += 1
        if mod == 0 and sib & 7 == 5:
            n += 4
    elif mod == 0 and rm == 5:
        n += 4  # rip-relative (or disp32 with a 0x67 prefix)
    if mod == 1:
        n += 1
    elif mod == 2:
        n += 4
    del addr32  # the same ModRM forms in 64-bit mode with or without 0x67
    return n


def instruction(code: bytes, p: int) -> tuple[int, bool]:
    """(length, has an ``ss:`` prefix) of the instruction at ``p``."""
    start = p
    opsize16 = False
    addr32 = False
    ss = False
    while code[p] in _LEGACY_PREFIXES:
        b = code[p]
        if b == 0x66:
            opsize16 = True
        elif b == 0x67:
            addr32 = True
        elif b == _SS:
            ss = True
        p += 1
    rex_w = False
    if 0x40 <= code[p] <= 0x4F:
        rex_w = bool(code[p] & 8)
        p += 1
    op = code[p]
    p += 1
    if op in (0xC4, 0xC5):  # VEX (in 64-bit mode never LES/LDS): the map, then ModRM
        vmap = code[p] & 0x1F if op == 0xC4 else 1
        p += 2 if op == 0xC4 else 1
        if vmap not in (1, 2, 3):
            raise DecodeError(f"unexpected VEX map {vmap} at text offset {start:#x}")
        op2 = code[p]
        p += 1
        if vmap == 1 and op2 == 0x77:  # vzeroupper / vzeroall
            return p - start, ss
        p += _modrm_length(code, p, addr32)
        if vmap == 3 or (vmap == 1 and op2 in _IMM8_0F):
            p += 1
        return p - start, ss
    if op == 0x0F:
        op2 = code[p]
        p += 1
        if op2 in (0x38, 0x3A):
            p += 1  # the opcode byte of the three-byte map
            p += _modrm_length(code, p, addr32)
            if op2 == 0x3A:
                p += 1
        elif op2 in _NO_MODRM_0F:
            if 0x80 <= op2 <= 0x8F:
                p += 4
        else:
            p += _modrm_length(code, p, addr32)
            if op2 in _IMM8_0F:
                p += 1
        return p - start, ss
    if op in _INVALID1:
        raise DecodeError(f"unexpected opcode {op:#04x} at text offset {start:#x}")
    reg = 0
    if _MODRM1[op]:
        reg = (code[p] >> 3) & 7
        p += _modrm_length(code, p, addr32)
    kind = _IMM1[op]
    if op in (0xF6, 0xF7):
        kind = (_B if op == 0xF6 else _Z) if reg in (0, 1) else _NONE
    if kind == _B:
        p += 1
    elif kind == _Z:
        p += 2 if opsize16 and not rex_w else 4
    elif kind == _W:
        p += 4
    elif kind == _MOFFS:
        p += 4 if addr32 else 8
    elif kind == _IMM_MOV:
        p += 8 if rex_w else (2 if opsize16 else 4)
    elif kind == _IMM16:
        p += 2
    elif kind == _ENTER:
        p += 3
    return p - start, ss


def guarded_accesses(text: bytes, ranges: list[tuple[int, int]]) -> list[int]:
    """Text offsets of the ``ss:``-prefixed instructions in the ``[start, end)`` ranges."""
    out: list[int] = []
    for start, end in sorted(ranges):
        p = start
        while p < end:
            try:
                n, ss = instruction(text, p)
            except IndexError:
                raise DecodeError(f"instruction at {p:#x} runs past the code") from None
            if ss:
                out.append(p)
            p += n
        if p != end:
            raise DecodeError(f"instruction walk overran the function ending at {end:#x}")
    return out
