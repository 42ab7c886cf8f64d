"""The artifact's ``.eh_frame`` section: the unwind tables of the code in ``.text``.

As in Wasmtime's artifacts, ``.eh_frame`` follows the page-padded ``.text`` and every
pointer in it is PC-relative on the assumption that it is mapped exactly ``text_size``
bytes after the code (``docs/artifact-format.md``). The pre-linker hands over the
records with those pointer fields zeroed and a list of fixups (field offset, target
offset in ``.text``); ``place`` fills them in once the padded size is known and appends
the zero terminator.

``check`` is the loader's check, made before the section reaches the unwinder
(``__register_frame``): a sequence of well-formed CIE and FDE records that fills the
section up to one zero terminator; only the record shapes cwasm's compiler writes
(augmentations ``zR`` and ``zPLR``, every pointer PC-relative, 4 or 8 bytes wide: LLVM
gives aarch64's personality and LSDA pointers 8 bytes); every FDE's code
range, every LSDA and every personality routine inside the code. The call-frame
programs themselves are not interpreted: like the code, they are covered by the code
seal (``cwasm.obj.integrity``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from cwasm.obj.errors import CorruptArtifactError

__all__ = ["DW_EH_PE_PCREL_SDATA4", "DW_EH_PE_PCREL_SDATA8", "EhFrameFixup", "check", "place"]

#: the pointer encodings cwasm's ``.eh_frame`` holds: PC-relative, 4 or 8 bytes
DW_EH_PE_PCREL_SDATA4 = 0x1B
DW_EH_PE_PCREL_SDATA8 = 0x1C
_WIDTH = {DW_EH_PE_PCREL_SDATA4: 4, DW_EH_PE_PCREL_SDATA8: 8}
#: ``(offset of a pointer field in .eh_frame, offset of its target in .text, its width)``
EhFrameFixup = tuple[int, int, int]

_TERMINATOR = bytes(4)


def place(records: bytes, fixups: Iterable[EhFrameFixup], text_size: int) -> bytes:
    """The section's bytes for a ``.text`` of ``text_size`` bytes: ``records`` with each
    fixup's field set to its target relative to the field, then the terminator."""
    if not records:
        return b""
    out = bytearray(records)
    for field, target, width in fixups:
        struct.pack_into("<i" if width == 4 else "<q", out, field, target - (text_size + field))
    return bytes(out) + _TERMINATOR


def _corrupt(message: str) -> CorruptArtifactError:
    return CorruptArtifactError(f"`.eh_frame` is corrupt: {message}")


def _uleb(data: bytes, p: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if p >= end or shift > 63:
            raise _corrupt(f"a LEB128 number at {p:#x} runs past its record")
        b = data[p]
        p += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, p


def _pointer(
    data: bytes, p: int, end: int, text_size: int, code_size: int, what: str, width: int = 4
) -> int:
    """The ``.text`` offset a PC-relative field of ``width`` bytes at ``p`` points to
    (inside the code)."""
    if p + width > end:
        raise _corrupt(f"the {what} at {p:#x} runs past its record")
    target = text_size + p + struct.unpack_from("<i" if width == 4 else "<q", data, p)[0]
    if not 0 <= target < code_size:
        raise _corrupt(f"the {what} at {p:#x} points outside the code")
    return target


#: a record's length and CIE pointer, then (in an FDE whose pointers are 4 bytes wide)
#: its code start (PC-relative) and code size: what the loop reads of each record at once
_HEAD = struct.Struct("<II")
_FDE4 = struct.Struct("<IIiI")


def check(data: bytes, text_size: int, code_size: int) -> int:
    """Check the section (see the module docstring) of an artifact whose ``.text`` is
    ``text_size`` bytes, of which the first ``code_size`` are code. Returns the number
    of FDEs. Raises ``CorruptArtifactError``.

    The FDEs of 4-byte pointers with a one-byte augmentation length (all of x86-64's)
    are checked inline, their four leading fields read in one go; any other record takes
    the general path (``_check_fde``), which makes the same checks with the same errors."""
    n = len(data)
    if n < 4 or data[-4:] != _TERMINATOR:
        raise _corrupt("it does not end with a zero terminator")
    #: CIE offset -> (FDE pointer width, LSDA pointer width or 0)
    cies: dict[int, tuple[int, int]] = {}
    fdes = 0
    pos = 0
    last = n - 4
    fde4 = _FDE4.unpack_from
    while pos < last:
        if pos + 16 <= last:
            length, ident, start, size = fde4(data, pos)
        elif pos + 8 > last:
            raise _corrupt(f"a record at {pos:#x} is cut short")
        else:
            length, ident = _HEAD.unpack_from(data, pos)
            start = size = 0
        end = pos + 4 + length
        if length == 0:
            raise _corrupt(f"a terminator at {pos:#x} is not at the end")
        if length == 0xFFFFFFFF or length < 8 or length % 4 or end > last:
            raise _corrupt(f"the record at {pos:#x} has a bad length {length:#x}")
        if ident == 0:
            cies[pos] = _check_cie(data, pos + 8, end, text_size, code_size)
            pos = end
            continue
        shape = cies.get(pos + 4 - ident)
        if shape is None:
            raise _corrupt(f"the FDE at {pos:#x} names no CIE before it")
        fdes += 1
        if shape[0] == 4 and pos + 17 <= end and data[pos + 16] < 0x80:
            begin = text_size + pos + 8 + start
            if not 0 <= begin < code_size:
                raise _corrupt(f"the FDE start at {pos + 8:#x} points outside the code")
            if begin + size > code_size:
                raise _corrupt(f"the FDE at {pos:#x} covers code outside `.text`")
            aug_len = data[pos + 16]
            if aug_len or shape[1]:
                _check_fde_augmentation(
                    data, pos, pos + 17, aug_len, end, shape[1], text_size, code_size
                )
        else:
            _check_fde(data, pos, end, shape, text_size, code_size)
        pos = end
    if pos != last:
        raise _corrupt("the records do not end at the terminator")
    return fdes


def _check_fde(
    data: bytes, pos: int, end: int, shape: tuple[int, int], text_size: int, code_size: int
) -> None:
    """Check the FDE at ``pos`` (ending at ``end``) whose CIE gives ``shape``."""
    width, lsda = shape
    if pos + 8 + 2 * width > end:
        raise _corrupt(f"the FDE at {pos:#x} is cut short")
    begin = _pointer(data, pos + 8, end, text_size, code_size, "FDE start", width)
    size = int.from_bytes(data[pos + 8 + width : pos + 8 + 2 * width], "little")
    if begin + size > code_size:
        raise _corrupt(f"the FDE at {pos:#x} covers code outside `.text`")
    aug_len, p = _uleb(data, pos + 8 + 2 * width, end)
    _check_fde_augmentation(data, pos, p, aug_len, end, lsda, text_size, code_size)


def _check_fde_augmentation(
    data: bytes,
    pos: int,
    p: int,
    aug_len: int,
    end: int,
    lsda: int,
    text_size: int,
    code_size: int,
) -> None:
    """Check the augmentation data (``aug_len`` bytes at ``p``) of the FDE at ``pos``:
    exactly its LSDA pointer (``lsda`` bytes wide, inside the code) or nothing."""
    if p + aug_len > end:
        raise _corrupt(f"the FDE at {pos:#x} has augmentation data past its end")
    if lsda:
        if aug_len != lsda:
            raise _corrupt(f"the FDE at {pos:#x} has no LSDA pointer")
        _pointer(data, p, end, text_size, code_size, "LSDA pointer", lsda)
    elif aug_len:
        raise _corrupt(f"the FDE at {pos:#x} has unexpected augmentation data")


def _check_cie(data: bytes, p: int, end: int, text_size: int, code_size: int) -> tuple[int, int]:
    """Check a CIE's fields from its version on; (the width of its FDEs' code pointers,
    of their LSDA pointers or 0)."""
    if data[p] not in (1, 3):
        raise _corrupt(f"the CIE at {p - 8:#x} has version {data[p]}")
    nul = data.find(b"\0", p + 1, end)
    if nul < 0:
        raise _corrupt(f"the CIE at {p - 8:#x} has an unterminated augmentation")
    aug = data[p + 1 : nul]
    if aug not in (b"zR", b"zPLR"):
        raise _corrupt(f"the CIE at {p - 8:#x} has the augmentation {aug!r}")
    version = data[p]
    q = nul + 1
    _, q = _uleb(data, q, end)  # code alignment
    _, q = _uleb(data, q, end)  # data alignment (its sign does not matter here)
    if version == 1:
        q += 1
    else:
        _, q = _uleb(data, q, end)
    aug_len, q = _uleb(data, q, end)
    aug_end = q + aug_len
    if aug_end > end:
        raise _corrupt(f"the CIE at {p - 8:#x} has augmentation data past its end")
    widths = {}
    for c in aug[1:]:
        width = _WIDTH.get(data[q], 0) if q < aug_end else 0
        if not width:
            raise _corrupt(f"the CIE at {p - 8:#x} has an unsupported pointer encoding")
        q += 1
        widths[c] = width
        if c == ord("P"):
            _pointer(data, q, aug_end, text_size, code_size, "personality pointer", width)
            q += width
    if q != aug_end:
        raise _corrupt(f"the CIE at {p - 8:#x} has unexpected augmentation data")
    return widths[ord("R")], widths.get(ord("L"), 0)
