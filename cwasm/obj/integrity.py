"""The digests that make an artifact tamper-evident: checksum, keyed MAC and code seal.

* ``.cwasm.checksum`` (4 bytes): the CRC-32 (zlib's, little-endian) of the whole file with
  these 4 bytes taken as zero. It detects accidental damage only (truncation, bit rot, a
  file changed by mistake), as a CRC does in gzip or PNG: anyone can recompute it, so a
  cryptographic hash here would buy nothing, and CRC-32 is several times cheaper to check
  on every load.
* ``.cwasm.mac`` (32 bytes): keyed BLAKE2b-256 (``Config.artifact_key``) of the whole file
  with the MAC and the checksum taken as zero, or 32 zero bytes when the artifact was
  written without a key. The checksum is computed after the MAC, so it covers it.
* The code seal (the last 32 bytes of ``.text``): BLAKE2b-256 of the metadata the machine
  code was compiled against (``.wasmtime.info``, ``.symtab``, ``.strtab``). Loading
  trusts ``.text`` as Wasmtime does; the seal extends that trust to exactly the metadata
  the code relies on, so editing that metadata without editing the code is detected.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib

from cwasm.obj.constants import (
    ELF_CWASM_CHECKSUM,
    ELF_CWASM_MAC,
    ELF_EH_FRAME,
    ELF_TEXT,
    ELF_WASMTIME_INFO,
)
from cwasm.obj.elf import ElfFile
from cwasm.obj.errors import CorruptArtifactError

CHECKSUM_SIZE = 4
MAC_SIZE = 32
SEAL_SIZE = 32
#: accepted lengths of ``Config.artifact_key`` (BLAKE2b takes keys of up to 64 bytes)
MIN_KEY_SIZE = 16
MAX_KEY_SIZE = 64

_MAC_PERSON = b"cwasm-artifact"
_SEAL_PERSON = b"cwasm-code-seal"

Bytes = bytes | bytearray | memoryview


def artifact_checksum(data: Bytes, digest_offset: int) -> bytes:
    """The digest of ``data`` with its ``CHECKSUM_SIZE`` bytes at ``digest_offset`` taken as zero."""
    view = memoryview(data)
    crc = zlib.crc32(view[:digest_offset])
    crc = zlib.crc32(bytes(CHECKSUM_SIZE), crc)
    crc = zlib.crc32(view[digest_offset + CHECKSUM_SIZE :], crc)
    return crc.to_bytes(CHECKSUM_SIZE, "little")


def artifact_mac(data: Bytes, key: bytes, mac_offset: int, checksum_offset: int) -> bytes:
    """The keyed MAC of ``data`` with the MAC and the checksum taken as zero."""
    view = memoryview(data)
    h = hashlib.blake2b(digest_size=MAC_SIZE, key=key, person=_MAC_PERSON)
    holes = sorted(((mac_offset, MAC_SIZE), (checksum_offset, CHECKSUM_SIZE)))
    pos = 0
    for start, size in holes:
        h.update(view[pos:start])
        h.update(bytes(size))
        pos = start + size
    h.update(view[pos:])
    return h.digest()


def mac_matches(data: Bytes, key: bytes, mac_offset: int, checksum_offset: int) -> bool:
    """True if the MAC stored at ``mac_offset`` verifies under ``key`` (constant time)."""
    stored = bytes(memoryview(data)[mac_offset : mac_offset + MAC_SIZE])
    return hmac.compare_digest(stored, artifact_mac(data, key, mac_offset, checksum_offset))


def code_seal(elf: ElfFile) -> bytes:
    """The seal of ``elf``'s code-shaping metadata (each part length-prefixed)."""
    h = hashlib.blake2b(digest_size=SEAL_SIZE, person=_SEAL_PERSON)
    parts = [elf.section(ELF_WASMTIME_INFO)]
    if elf.symtab_index is not None:
        symtab = elf.sections[elf.symtab_index]
        parts += [symtab, elf.sections[symtab.link]]
    unwind = elf.section(ELF_EH_FRAME)
    if unwind is not None:  # the unwind tables are code too (cwasm.obj.eh_frame)
        parts.append(unwind)
    for sec in parts:
        data = memoryview(b"") if sec is None else elf.section_data(sec)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.digest()


def check_code_seal(elf: ElfFile, text: memoryview) -> None:
    """Refuse metadata that differs from what the code in ``text`` was sealed with."""
    if len(text) < SEAL_SIZE or not hmac.compare_digest(bytes(text[-SEAL_SIZE:]), code_seal(elf)):
        raise CorruptArtifactError(
            "the metadata (`.wasmtime.info`, the symbol table or `.eh_frame`) does not match the code it "
            "was compiled with: the artifact was edited; recompile the module"
        )


def seal_artifact(data: Bytes, key: bytes | None = None) -> bytes:
    """Finish an artifact whose seal, MAC and checksum are still zero: write the code seal
    (at the end of ``.text``), then the MAC (under ``key``; zeros without one), then the
    checksum."""
    out = bytearray(data)
    elf = ElfFile.parse(bytes(out))
    text = elf.section(ELF_TEXT)
    if text is not None and text.size >= SEAL_SIZE:
        end = text.offset + text.size
        out[end - SEAL_SIZE : end] = code_seal(elf)
    return reseal_with_key(out, key)


def reseal_with_key(data: Bytes, key: bytes | None) -> bytes:
    """A copy of a finished artifact carrying a MAC under ``key`` (none: zeros), with its
    checksum updated; the code seal is kept as it is."""
    out = bytearray(data)
    elf = ElfFile.parse(bytes(out))
    mac = elf.section(ELF_CWASM_MAC)
    checksum = elf.section(ELF_CWASM_CHECKSUM)
    if mac is None or checksum is None or mac.size != MAC_SIZE:
        raise CorruptArtifactError(
            f"artifact has no `{ELF_CWASM_MAC}` and `{ELF_CWASM_CHECKSUM}` sections to seal"
        )
    out[mac.offset : mac.offset + MAC_SIZE] = (
        bytes(MAC_SIZE) if key is None else artifact_mac(out, key, mac.offset, checksum.offset)
    )
    out[checksum.offset : checksum.offset + CHECKSUM_SIZE] = artifact_checksum(out, checksum.offset)
    return bytes(out)


def check_key(key: object) -> bytes | None:
    """``key`` as bytes if it is a usable artifact key (or None); ``ValueError`` if not."""
    if key is None:
        return None
    if not isinstance(key, bytes | bytearray):
        raise ValueError(f"artifact_key must be bytes or None, not {type(key).__name__}")
    if not MIN_KEY_SIZE <= len(key) <= MAX_KEY_SIZE:
        raise ValueError(
            f"artifact_key must be {MIN_KEY_SIZE} to {MAX_KEY_SIZE} bytes, not {len(key)}"
        )
    return bytes(key)
