"""Remembered check verdicts (``cwasm.obj.memo``): loading the same artifact again skips
only checks whose inputs are byte for byte the same, never a check of anything else."""

from __future__ import annotations

import dataclasses

import pytest

import cwasm
from cwasm.obj import artifact as artifact_module
from cwasm.obj.artifact import Artifact, forget_verdicts
from cwasm.obj.constants import ELF_NAME_DATA, ELF_WASMTIME_INFO
from cwasm.obj.elf import ElfFile
from cwasm.obj.errors import (
    CorruptArtifactError,
    IncompatibleArtifactError,
    UnauthenticatedArtifactError,
)
from cwasm.obj.info import decode_info, encode_info
from cwasm.obj.memo import VerdictMemo
from tests.runtime.artifact_mutation import _resize_section, reseal

WAT = """
(module
  (memory 1)
  (func $first (export "first") (result i32) i32.const 1)
  (func $second (export "second") (result i32) i32.const 2))
"""


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return cwasm.Module(cwasm.Engine(), WAT).serialize()


@pytest.fixture(autouse=True)
def fresh_verdicts() -> None:
    forget_verdicts()


def test_a_second_load_reuses_the_verdicts_and_gives_the_same_module(artifact: bytes) -> None:
    engine = cwasm.Engine()
    first = Artifact.from_bytes(artifact, engine.metadata(for_loading=True))
    assert len(artifact_module._VERIFIED_INFO) == 1
    again = Artifact.from_bytes(artifact, engine.metadata(for_loading=True))
    assert again.info is first.info  # remembered, not decoded again
    forget_verdicts()
    fresh = Artifact.from_bytes(artifact, engine.metadata(for_loading=True))
    assert fresh.info is not first.info and fresh.info == first.info
    module = cwasm.Module.deserialize(engine, artifact)
    store = cwasm.Store(engine)
    instance = cwasm.Instance(store, module, [])
    assert instance.exports(store)["second"](store) == 2


def test_an_edited_info_is_checked_even_after_the_original_loaded(artifact: bytes) -> None:
    Artifact.from_bytes(artifact)
    sec = ElfFile.parse(artifact).section(ELF_WASMTIME_INFO)
    assert sec is not None
    info = decode_info(artifact[sec.offset : sec.offset + sec.size])
    bad = dataclasses.replace(info, module=dataclasses.replace(info.module, start=99))
    edited = _resize_section(artifact, ELF_WASMTIME_INFO, encode_info(bad))
    reseal(edited)
    with pytest.raises(CorruptArtifactError, match="start function"):
        Artifact.from_bytes(bytes(edited))


def test_the_same_info_against_other_sections_is_checked_again(artifact: bytes) -> None:
    """The verdict is keyed by every size the checks read: the same info record with a
    shorter ``.name.wasm`` is refused although the record itself was accepted before."""
    Artifact.from_bytes(artifact)
    names = ElfFile.parse(artifact).section(ELF_NAME_DATA)
    assert names is not None and names.size > 4
    shorter = _resize_section(artifact, ELF_NAME_DATA, bytes(4))
    reseal(shorter)
    with pytest.raises(CorruptArtifactError, match="lies outside `.name.wasm`"):
        Artifact.from_bytes(bytes(shorter))


def test_failures_are_not_remembered(artifact: bytes) -> None:
    names = ElfFile.parse(artifact).section(ELF_NAME_DATA)
    assert names is not None
    shorter = _resize_section(artifact, ELF_NAME_DATA, bytes(4))
    reseal(shorter)
    for _ in range(2):
        with pytest.raises(CorruptArtifactError, match="lies outside"):
            Artifact.from_bytes(bytes(shorter))
    assert len(artifact_module._VERIFIED_INFO) == 0


def test_the_memo_is_bounded_and_forgets_the_oldest() -> None:
    memo: VerdictMemo[int] = VerdictMemo(capacity=3)
    for i in range(5):
        memo.put(("key", i), i)
    assert len(memo) == 3
    assert memo.get(("key", 0)) is None and memo.get(("key", 1)) is None
    assert [memo.get(("key", i)) for i in (2, 3, 4)] == [2, 3, 4]
    memo.put(("key", 3), 30)  # replacing keeps the size
    assert len(memo) == 3 and memo.get(("key", 3)) == 30


def test_the_memo_is_bounded_in_bytes_too() -> None:
    memo: VerdictMemo[int] = VerdictMemo(capacity=100, max_bytes=10)
    memo.put((b"abcd", 1), 1)
    memo.put((b"efgh", 2), 2)
    assert memo.held_bytes == 8
    memo.put((b"ijkl", 3), 3)  # 12 bytes would not fit: the oldest goes
    assert memo.get((b"abcd", 1)) is None and memo.held_bytes == 8
    assert [memo.get((b"efgh", 2)), memo.get((b"ijkl", 3))] == [2, 3]
    memo.put((b"x" * 11, 4), 4)  # larger than the whole budget: never remembered
    assert memo.get((b"x" * 11, 4)) is None and len(memo) == 2
    memo.clear()
    assert len(memo) == 0 and memo.held_bytes == 0


def test_identical_bytes_share_the_checked_reader_and_an_edit_of_the_same_length_is_refused(
    artifact: bytes,
) -> None:
    """A whole artifact that passed every check is remembered: ``bytes`` equal to it
    (another object) get the same checked reader; a copy edited in one byte of its
    symbol names (same length, checksum recomputed) is checked in full and refused."""
    engine = cwasm.Engine().metadata(for_loading=True)
    first = Artifact.from_bytes(artifact, engine)
    assert Artifact.from_bytes(bytes(bytearray(artifact)), engine) is first
    assert Artifact.from_bytes(bytearray(artifact), engine) is not first  # mutable: not shared
    strtab = ElfFile.parse(artifact).section(".strtab")
    assert strtab is not None and strtab.size > 2
    edited = bytearray(artifact)
    edited[strtab.offset + 1] ^= 0x20  # a letter's case: still a valid name
    reseal(edited)
    assert len(edited) == len(artifact)
    with pytest.raises(CorruptArtifactError, match="does not match the code"):
        Artifact.from_bytes(bytes(edited), engine)
    forget_verdicts()
    assert Artifact.from_bytes(artifact, engine) is not first


def test_a_remembered_artifact_is_checked_again_under_a_key_or_another_engine(
    artifact: bytes,
) -> None:
    """The remembered verdict holds only for the engine record and the key it was made
    with: the same bytes loaded by an engine with a key must still carry a MAC, and an
    engine they are incompatible with still refuses them."""
    engine = cwasm.Engine().metadata(for_loading=True)
    Artifact.from_bytes(artifact, engine)
    with pytest.raises(UnauthenticatedArtifactError, match="written without an artifact key"):
        Artifact.from_bytes(artifact, engine, key=bytes(range(32)))
    config = cwasm.Config()
    config.wasm_simd = False
    other = cwasm.Engine(config).metadata(for_loading=True)
    with pytest.raises(IncompatibleArtifactError):
        Artifact.from_bytes(artifact, other)
