"""The artifact checksum (CRC-32, format 3): damage anywhere in the file is refused before
any code is mapped, and an artifact of an older format is refused with "recompile"."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

import cwasm
from cwasm.errors import ArtifactError
from cwasm.obj import artifact as artifact_module
from cwasm.obj.artifact import Artifact, forget_verdicts
from cwasm.obj.constants import ELF_CWASM_CHECKSUM, ELF_WASM_ENGINE
from cwasm.obj.elf import ElfFile
from cwasm.obj.errors import ChecksumMismatchError, CorruptArtifactError, IncompatibleArtifactError
from cwasm.obj.integrity import CHECKSUM_SIZE, artifact_checksum
from cwasm.runtime import native

WAT = """
(module
  (memory 1)
  (data (i32.const 16) "hello")
  (func $f (export "f") (param i32) (result i32) local.get 0 i32.const 3 i32.mul)
  (func (export "g") (result i32) i32.const 5 call $f))
"""


#: what the ELF parser reads (and may refuse on its own) before the checksum is checked
_ELF_STRUCTURE = ("ELF header", "section headers", ".symtab", ".strtab", ".shstrtab")


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return cwasm.Module(cwasm.Engine(), WAT).serialize()


@pytest.fixture
def no_code_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if loading gets as far as mapping code."""

    def refuse(self: object, *code: object) -> None:
        raise AssertionError("code was mapped from a damaged artifact")

    monkeypatch.setattr(native.CodeMemory, "__init__", refuse)


def test_the_checksum_is_the_crc32_of_the_file_with_itself_zeroed(artifact: bytes) -> None:
    sec = ElfFile.parse(artifact).section(ELF_CWASM_CHECKSUM)
    assert sec is not None and sec.size == CHECKSUM_SIZE == 4
    zeroed = artifact[: sec.offset] + bytes(4) + artifact[sec.offset + 4 :]
    stored = artifact[sec.offset : sec.offset + 4]
    assert stored == struct.pack("<I", zlib.crc32(zeroed))
    assert artifact_checksum(artifact, sec.offset) == stored


@pytest.mark.usefixtures("no_code_mapping")
def test_a_flipped_bit_in_every_region_is_refused_before_code_is_mapped(artifact: bytes) -> None:
    elf = ElfFile.parse(artifact)
    checksum = elf.section(ELF_CWASM_CHECKSUM)
    assert checksum is not None
    regions = [("ELF header", 0, 64), ("section headers", elf.e_shoff, len(artifact))]
    regions += [(s.name, s.offset, s.offset + s.size) for s in elf.sections if s.size]
    rng = random.Random(13)
    engine = cwasm.Engine()
    seen = set()
    for name, start, end in regions:
        if name == ELF_CWASM_CHECKSUM:
            continue
        for pos in {start, end - 1, rng.randrange(start, end)}:
            for bit in (0, 7):
                damaged = bytearray(artifact)
                damaged[pos] ^= 1 << bit
                with pytest.raises(ArtifactError) as err:
                    cwasm.Module.deserialize(engine, bytes(damaged))
                seen.add(type(err.value))
                if name not in _ELF_STRUCTURE:
                    # the ELF structure is intact, so the checksum is what refuses it
                    assert isinstance(err.value, ChecksumMismatchError), name
                    assert "modified or damaged" in str(err.value)
    assert ChecksumMismatchError in seen
    assert {s.name for s in elf.sections} >= {".text", ".rodata.wasm", ".wasmtime.info"}


def test_a_damaged_checksum_is_refused(artifact: bytes) -> None:
    sec = ElfFile.parse(artifact).section(ELF_CWASM_CHECKSUM)
    assert sec is not None
    damaged = bytearray(artifact)
    damaged[sec.offset] ^= 0x80
    with pytest.raises(ChecksumMismatchError):
        Artifact.from_bytes(bytes(damaged))


def _older_format(artifact: bytes, version: bytes) -> bytes:
    """``artifact`` dressed as an older cwasm's: its engine version string says
    ``version`` and its checksum section is 16 bytes long, as format 2's BLAKE2b-128 was."""
    elf = ElfFile.parse(artifact)
    engine = elf.section(ELF_WASM_ENGINE)
    checksum = elf.section(ELF_CWASM_CHECKSUM)
    assert engine is not None and checksum is not None
    out = bytearray(artifact)
    start = engine.offset + 2
    assert out[start : start + len(version)] == b"cwasm-format-6"
    out[start : start + len(version)] = version
    size_field = elf.e_shoff + 64 * checksum.index + 32  # sh_size
    struct.pack_into("<Q", out, size_field, 16)
    return bytes(out)


def test_an_older_format_is_refused_with_recompile(artifact: bytes) -> None:
    with pytest.raises(IncompatibleArtifactError, match="format '2'.*recompile"):
        Artifact.from_bytes(_older_format(artifact, b"cwasm-format-2"))
    # a current artifact whose checksum has the wrong size is damaged, not old
    with pytest.raises(CorruptArtifactError, match="is 16 bytes, expected 4"):
        Artifact.from_bytes(_older_format(artifact, b"cwasm-format-6"))


def test_identical_bytes_skip_the_checksum_and_any_other_bytes_are_checked(
    artifact: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes identical (compared in full) to an artifact whose checksum verified are not
    checksummed again; a copy differing anywhere, even with the same length and stored
    checksum, still is, and is refused; a mutable buffer is always checked."""
    forget_verdicts()
    computed: list[int] = []

    def counting(data: object, offset: int) -> bytes:
        computed.append(offset)
        return artifact_checksum(data, offset)  # type: ignore[arg-type]

    monkeypatch.setattr(artifact_module, "artifact_checksum", counting)
    Artifact.from_bytes(artifact)
    assert len(computed) == 1
    Artifact.from_bytes(bytes(bytearray(artifact)))  # another object, the same bytes
    assert len(computed) == 1
    Artifact.from_bytes(bytearray(artifact))  # mutable: never remembered
    assert len(computed) == 2
    elf = ElfFile.parse(artifact)
    text = elf.section(".text")
    assert text is not None
    damaged = bytearray(artifact)
    damaged[text.offset + text.size // 2] ^= 0x01  # same length, same stored checksum
    with pytest.raises(ChecksumMismatchError):
        Artifact.from_bytes(bytes(damaged))
    assert len(computed) == 3
    forget_verdicts()
    Artifact.from_bytes(artifact)
    assert len(computed) == 4
