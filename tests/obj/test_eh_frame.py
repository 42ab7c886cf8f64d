"""The artifact's ``.eh_frame`` (cwasm/obj/eh_frame.py): laid out as Wasmtime lays it
out, checked before it reaches the unwinder, sealed, and registered while the code is
mapped."""

from __future__ import annotations

import ctypes
import gc
import struct

import pytest

import cwasm
from cwasm.obj import eh_frame
from cwasm.obj.artifact import Artifact, forget_verdicts
from cwasm.obj.constants import ELF_EH_FRAME, ELF_TEXT
from cwasm.obj.elf import ElfFile
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.integrity import SEAL_SIZE, seal_artifact
from cwasm.runtime import unwind

WAT = """
(module
  (func $f (export "f") (param i32) (result i32) local.get 0 i32.const 3 i32.mul)
  (func (export "g") (result i32) i32.const 5 call $f))
"""


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return cwasm.Module(cwasm.Engine(), WAT).serialize()


def _records(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, length, CIE id) of every record before the terminator."""
    out = []
    pos = 0
    while True:
        length = struct.unpack_from("<I", data, pos)[0]
        if length == 0:
            return out
        ident = struct.unpack_from("<I", data, pos + 4)[0]
        out.append((pos, length, ident))
        pos += 4 + length


def _fde_starts(data: bytes, text_size: int) -> list[int]:
    starts = []
    for pos, _length, ident in _records(data):
        if ident:
            starts.append(text_size + pos + 8 + struct.unpack_from("<i", data, pos + 8)[0])
    return starts


def test_eh_frame_follows_text_and_each_fde_starts_at_a_function(artifact: bytes) -> None:
    elf = ElfFile.parse(artifact)
    text, unwind_sec = elf.section(ELF_TEXT), elf.section(ELF_EH_FRAME)
    assert text is not None and unwind_sec is not None
    assert elf.sections[text.index + 1].name == ELF_EH_FRAME
    assert unwind_sec.offset == text.offset + text.size
    data = bytes(elf.section_data(unwind_sec))
    assert data.endswith(bytes(4))
    starts = _fde_starts(data, text.size)
    functions = {
        s.value
        for s in elf.symbols
        if s.shndx == text.index and ("function[" in s.name or "trampoline" in s.name)
    }
    # every wasm function and trampoline has its FDE
    assert len(functions) >= 4 and functions <= set(starts)
    assert eh_frame.check(data, text.size, text.size - SEAL_SIZE) == len(starts)


def _edited(artifact: bytes, edit: object) -> bytes:
    """``artifact`` with its ``.eh_frame`` edited by ``edit(bytearray, text_size)`` and
    its seal and checksum made to match again (as a deliberate edit would)."""
    elf = ElfFile.parse(artifact)
    text, sec = elf.section(ELF_TEXT), elf.section(ELF_EH_FRAME)
    assert text is not None and sec is not None
    data = bytearray(elf.section_data(sec))
    edit(data, text.size)  # type: ignore[operator]
    out = bytearray(artifact)
    out[sec.offset : sec.offset + sec.size] = data
    return seal_artifact(bytes(out))


def _first_fde(data: bytearray) -> int:
    return next(pos for pos, _, ident in _records(bytes(data)) if ident)


def _fde_outside_text(data: bytearray, text_size: int) -> None:
    pos = _first_fde(data)
    struct.pack_into("<i", data, pos + 8, -(text_size + pos + 8) - 64)


def _fde_past_the_code(data: bytearray, text_size: int) -> None:
    struct.pack_into("<I", data, _first_fde(data) + 12, text_size)


def _no_terminator(data: bytearray, text_size: int) -> None:
    data[-4:] = b"\x01\0\0\0"


def _bad_length(data: bytearray, text_size: int) -> None:
    struct.pack_into("<I", data, 0, len(data) * 2)


def _unknown_cie(data: bytearray, text_size: int) -> None:
    pos = _first_fde(data)
    struct.pack_into("<I", data, pos + 4, pos + 4 + 8)


def _augmentation(data: bytearray, text_size: int) -> None:
    data[9:11] = b"zX"


def _early_terminator(data: bytearray, text_size: int) -> None:
    pos = _first_fde(data)
    struct.pack_into("<I", data, pos, 0)


def _fde_of(data: bytearray, augmentation: bytes) -> int:
    """The first FDE whose CIE has ``augmentation`` (``zR``: no LSDA, ``zPLR``: one)."""
    return next(
        pos
        for pos, _, ident in _records(bytes(data))
        if ident and data[pos + 4 - ident + 9 :].startswith(augmentation + b"\0")
    )


def _lsda_outside_code(data: bytearray, text_size: int) -> None:
    pos = _fde_of(data, b"zPLR")
    struct.pack_into("<i", data, pos + 17, -(text_size + pos + 17) - 64)


def _lsda_missing(data: bytearray, text_size: int) -> None:
    data[_fde_of(data, b"zPLR") + 16] = 0


def _unexpected_augmentation(data: bytearray, text_size: int) -> None:
    data[_fde_of(data, b"zR") + 16] = 4


def _long_augmentation_length(data: bytearray, text_size: int) -> None:
    # a two-byte LEB128 length (the general path): more than the record holds
    pos = _fde_of(data, b"zR")
    data[pos + 16 : pos + 18] = b"\x84\x01"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_lsda_outside_code, "LSDA pointer at .* points outside the code"),
        (_lsda_missing, "has no LSDA pointer"),
        (_unexpected_augmentation, "unexpected augmentation data"),
        (_long_augmentation_length, "augmentation data past its end"),
        (_fde_outside_text, "FDE start .* points outside the code"),
        (_fde_past_the_code, "covers code outside"),
        (_no_terminator, "zero terminator"),
        (_bad_length, "bad length"),
        (_unknown_cie, "names no CIE"),
        (_augmentation, "augmentation"),
        (_early_terminator, "terminator at .* is not at the end"),
    ],
)
def test_a_corrupt_eh_frame_is_refused_before_any_code_is_mapped(
    artifact: bytes, edit: object, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    forget_verdicts()
    registered: list[int] = []
    monkeypatch.setattr(unwind, "register_frames", registered.append)
    bad = _edited(artifact, edit)
    with pytest.raises(CorruptArtifactError, match=f"`.eh_frame` is corrupt: .*{message}"):
        Artifact.from_bytes(bad)
    engine = cwasm.Engine()
    with pytest.raises(cwasm.WasmtimeError):
        cwasm.Module.deserialize(engine, bad)
    assert registered == []


def test_an_edited_eh_frame_breaks_the_code_seal(artifact: bytes) -> None:
    """A well-formed edit (a changed call-frame instruction) is caught by the seal."""
    elf = ElfFile.parse(artifact)
    sec = elf.section(ELF_EH_FRAME)
    assert sec is not None
    out = bytearray(artifact)
    # the CIE's initial instructions: DW_CFA_def_cfa rsp 8 -> rsp 16
    cie = out[sec.offset : sec.offset + 32]
    at = cie.index(b"\x0c\x07\x08")
    out[sec.offset + at + 2] = 16
    from cwasm.obj.integrity import reseal_with_key

    forget_verdicts()
    with pytest.raises(CorruptArtifactError, match="does not match the code"):
        Artifact.from_bytes(reseal_with_key(bytes(out), None))


def _find_fde(pc: int) -> int:
    libgcc = ctypes.CDLL("libgcc_s.so.1")
    find = libgcc._Unwind_Find_FDE
    find.restype = ctypes.c_void_p
    find.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    bases = (ctypes.c_void_p * 3)()
    return find(pc, bases) or 0


def test_the_frames_are_registered_while_the_code_is_mapped() -> None:
    engine = cwasm.Engine()
    store = cwasm.Store(engine)
    module = cwasm.Module(engine, WAT)
    instance = cwasm.Instance(store, module, [])
    assert instance.exports(store)["g"](store) == 15
    compiled = module.compiled
    pc = compiled.func_addrs[0] + 1
    assert _find_fde(pc) != 0
    base = compiled.code.base
    del instance, store, module, compiled
    gc.collect()
    # the code mapping is gone (pooled): the unwinder no longer knows its frames
    assert _find_fde(base + 1) == 0


def test_inspect_lists_the_section_right_after_text(
    artifact: bytes, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    from pathlib import Path

    from cwasm.cli import main

    path = Path(str(tmp_path)) / "f.cwasm"
    path.write_bytes(artifact)
    assert main(["inspect", "--json", str(path)]) == 0
    names = [s["name"] for s in json.loads(capsys.readouterr().out)["sections"]]
    assert names[names.index(ELF_TEXT) + 1] == ELF_EH_FRAME
