"""The artifact trust model: each metadata field the runtime relies on is checked (edit it,
recompute the checksum, get the specific error), the code seal catches the rest, and
keyed artifacts (``Config.artifact_key``, the compile cache's key file) are refused
unless their MAC verifies."""

from __future__ import annotations

import dataclasses
import os
import stat
import struct
from pathlib import Path
from typing import Any

import pytest

import cwasm
from cwasm.cache import CacheKeyError, CacheOutcome, CompileCache, load_or_compile
from cwasm.obj.artifact import Artifact
from cwasm.obj.constants import (
    ELF_TEXT,
    ELF_WASMTIME_ADDRMAP,
    ELF_WASMTIME_INFO,
    ELF_WASMTIME_TRAPS,
)
from cwasm.obj.elf import ElfFile
from cwasm.obj.errors import CorruptArtifactError, UnauthenticatedArtifactError
from cwasm.obj.info import FunctionLoc, decode_info, encode_info
from cwasm.obj.traps import Trap
from cwasm.runtime import guard
from cwasm.wasm.text import wat_to_wasm
from cwasm.wasm.types import ConstExpr, ConstOp, ConstOpKind, Limits, ValType
from tests.runtime.artifact_mutation import MODULES, _resize_section, reseal

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))

WAT = """
(module
  (memory 1 2)
  (table 2 funcref)
  (global (mut i32) (i32.const 1))
  (elem (i32.const 0) $a $b)
  (func $a (export "a") (param i32) (result i32) local.get 0 i32.const 2 i32.div_u)
  (func $b (export "b") (result i32) i32.const 7)
  (func $s)
  (start $s))
"""


def _engine(key: bytes | None = None) -> cwasm.Engine:
    config = cwasm.Config()
    config.artifact_key = key
    return cwasm.Engine(config)


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return cwasm.Module(_engine(), WAT).serialize()


def _load(data: bytes, key: bytes | None = None) -> cwasm.Module:
    return cwasm.Module.deserialize(_engine(key), data)


def _with_info(data: bytes, edit: Any) -> bytes:
    """``data`` with its info replaced by ``edit(info)``, re-checksummed."""
    sec = ElfFile.parse(data).section(ELF_WASMTIME_INFO)
    assert sec is not None
    info = edit(decode_info(data[sec.offset : sec.offset + sec.size]))
    out = _resize_section(data, ELF_WASMTIME_INFO, encode_info(info))
    reseal(out)
    return bytes(out)


def _module(info: Any, **changes: Any) -> Any:
    return dataclasses.replace(info, module=dataclasses.replace(info.module, **changes))


def _func(info: Any, i: int, **changes: Any) -> Any:
    funcs = list(info.funcs)
    funcs[i] = dataclasses.replace(funcs[i], **changes)
    return dataclasses.replace(info, funcs=tuple(funcs))


def test_pristine_artifact_loads_and_runs(artifact: bytes) -> None:
    engine = _engine()
    module = cwasm.Module.deserialize(engine, artifact)
    store = cwasm.Store(engine)
    instance = cwasm.Instance(store, module, [])
    assert instance.exports(store)["b"](store) == 7


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # trampolines and function locations: inside the code, non-empty, disjoint
        (
            lambda i: _func(
                i, 0, array_to_wasm_trampoline=FunctionLoc(i.funcs[1].wasm_func_loc.start, 4)
            ),
            "overlaps",
        ),
        (
            lambda i: _func(i, 0, array_to_wasm_trampoline=FunctionLoc(0xFFF0, 8)),
            "trampoline of function 0 .* lies outside `.text`",
        ),
        (
            lambda i: _func(i, 1, wasm_func_loc=FunctionLoc(i.funcs[1].wasm_func_loc.start, 0)),
            "empty",
        ),
        (
            lambda i: dataclasses.replace(
                i, wasm_to_array_trampolines=((0, FunctionLoc(0x7FFFFFF0, 4)),)
            ),
            "wasm-to-array trampoline of type 0",
        ),
        # indices, types and constant expressions
        (lambda i: _module(i, start=0), r"start function 0 has type .*not \[\] -> \[\]"),
        (lambda i: _module(i, start=9), "start function 9 does not exist"),
        (
            lambda i: _module(i, global_inits=(ConstExpr((ConstOp(ConstOpKind.I64_CONST, 1),)),)),
            "initializer of global 0 produces i64, but i32 is needed",
        ),
        (
            lambda i: _module(
                i, global_inits=(ConstExpr((ConstOp(ConstOpKind.I32_CONST, 1 << 40),)),)
            ),
            "out of range",
        ),
        (
            lambda i: _module(i, global_inits=(ConstExpr((ConstOp(ConstOpKind.GLOBAL_GET, 0),)),)),
            "not initialized before it",
        ),
        (
            lambda i: _module(
                i,
                memories=(dataclasses.replace(i.module.memories[0], limits=Limits(3, 2)),),
            ),
            "memory 0 has limits 3..2",
        ),
        (
            lambda i: _module(
                i,
                tables=(dataclasses.replace(i.module.tables[0], element=ValType.EXTERNREF),),
            ),
            "element segment 0 holds funcref, but its table does not",
        ),
        (
            lambda i: _module(i, exports=(dataclasses.replace(i.module.exports[0], index=40),)),
            "refers to missing func 40",
        ),
    ],
)
def test_each_info_field_is_checked(artifact: bytes, edit: Any, message: str) -> None:
    with pytest.raises(CorruptArtifactError, match=message):
        _load(_with_info(artifact, edit))


def test_unknown_trap_code_is_refused(artifact: bytes) -> None:
    elf = ElfFile.parse(artifact)
    sec = elf.section(ELF_WASMTIME_TRAPS)
    assert sec is not None and sec.size > 4
    out = bytearray(artifact)
    out[sec.offset + sec.size - 1] = 0xEE  # the last trap code
    reseal(out)
    # the entries are checked at the first lookup, which then finds nothing
    a = Artifact.from_bytes(bytes(out))
    count = struct.unpack_from("<I", out, sec.offset)[0]
    offset = struct.unpack_from("<I", out, sec.offset + 4 * count)[0]  # the last entry's
    assert a.lookup_trap_code(offset) is None
    with pytest.raises(CorruptArtifactError, match="unknown trap code 238"):
        a.check_tables()


def test_a_disordered_address_map_gives_no_position_never_a_wrong_one() -> None:
    """The address map's entries are checked at the first backtrace, not at load: an
    artifact whose map is out of order loads and runs, and its backtraces keep the right
    functions but no wasm positions; the intact one gives wasmtime-py's positions."""
    import wasmtime

    wat = '(module (func $inner unreachable) (func $f (export "f") call $inner))'

    def frames(make: Any, mod: Any) -> list[tuple[int, str | None, int | None]]:
        engine = make.Engine()
        store = make.Store(engine)
        inst = make.Instance(store, mod(engine), [])
        with pytest.raises(make.Trap) as e:
            inst.exports(store)["f"](store)
        return [(f.func_index, f.func_name, f.module_offset) for f in e.value.frames]

    blob = cwasm.Module(_engine(), wat).serialize()
    expected = frames(wasmtime, lambda engine: wasmtime.Module(engine, wat))
    assert frames(cwasm, lambda engine: cwasm.Module.deserialize(engine, blob)) == expected
    assert all(pos is not None for _, _, pos in expected)

    sec = ElfFile.parse(blob).section(ELF_WASMTIME_ADDRMAP)
    assert sec is not None
    count = struct.unpack_from("<I", blob, sec.offset)[0]
    assert count >= 2
    out = bytearray(blob)
    offsets = struct.unpack_from(f"<{count}I", blob, sec.offset + 4)
    struct.pack_into(f"<{count}I", out, sec.offset + 4, *reversed(offsets))  # descending
    reseal(out)
    corrupt = frames(cwasm, lambda engine: cwasm.Module.deserialize(engine, bytes(out)))
    assert corrupt == [(index, name, None) for index, name, _ in expected]


def test_text_offset_is_checked(artifact: bytes) -> None:
    elf = ElfFile.parse(artifact)
    text = elf.section(ELF_TEXT)
    assert text is not None
    for offset in (text.offset + 8, text.offset + 0x1000, len(artifact)):
        out = bytearray(artifact)
        struct.pack_into("<Q", out, elf.e_shoff + 64 * text.index + 24, offset)
        reseal(out)
        with pytest.raises(cwasm.WasmtimeError):
            _load(bytes(out))


def test_code_seal_catches_what_no_field_check_can(artifact: bytes) -> None:
    """Swapping two functions' code locations keeps every location plausible; only the
    seal knows the code was compiled otherwise."""

    def swap(info: Any) -> Any:
        a, b = info.funcs[0], info.funcs[1]
        ta, tb = a.array_to_wasm_trampoline, b.array_to_wasm_trampoline
        info = _func(info, 0, array_to_wasm_trampoline=tb)
        return _func(info, 1, array_to_wasm_trampoline=ta)

    with pytest.raises(CorruptArtifactError, match="does not match the code"):
        _load(_with_info(artifact, swap))


def test_guard_symbols_are_checked(artifact: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    elf = ElfFile.parse(artifact)
    names = [s.name for s in elf.symbols]
    if "cwasm_guard_state" not in names:
        pytest.skip("artifact compiled without guard pages")
    i = names.index("cwasm_guard_state")
    assert elf.symtab_index is not None
    symtab = elf.sections[elf.symtab_index]
    out = bytearray(artifact)
    pos = symtab.offset + 24 * i + 8  # st_value
    struct.pack_into("<Q", out, pos, struct.unpack_from("<Q", out, pos)[0] - 4)
    reseal(out)
    with pytest.raises(CorruptArtifactError, match="does not match the code"):
        _load(bytes(out))
    # and on its own, without the seal, the symbol check refuses it before mapping
    monkeypatch.setattr("cwasm.obj.artifact.check_code_seal", lambda elf, text: None)
    with pytest.raises(CorruptArtifactError, match="state slot .* is misaligned"):
        guard.builtin_block(Artifact.from_bytes(bytes(out)))


def test_unknown_trap_code_from_code_is_reported_not_raised() -> None:
    trap = cwasm.Trap(99)
    assert trap.trap_code is None and "unknown trap code 99" in trap.message
    assert (
        cwasm.Trap(int(Trap.IntegerDivisionByZero)).trap_code
        == cwasm.TrapCode.INTEGER_DIVISION_BY_ZERO
    )


# ---------------------------------------------------------------------------
# Keyed artifacts


@pytest.fixture(scope="module")
def keyed() -> bytes:
    return cwasm.Module(_engine(KEY), WAT).serialize()


def test_keyed_artifact_loads_with_its_key_and_without_a_key(keyed: bytes) -> None:
    _load(keyed, KEY)
    _load(keyed)  # a keyless engine trusts it like any other artifact


@pytest.mark.parametrize(
    ("key", "message"),
    [(OTHER_KEY, "does not verify under this engine's artifact_key")],
)
def test_keyed_artifact_is_refused_under_another_key(
    keyed: bytes, key: bytes, message: str
) -> None:
    with pytest.raises(UnauthenticatedArtifactError, match=message):
        _load(keyed, key)


def test_unkeyed_artifact_is_refused_by_a_keyed_engine(artifact: bytes) -> None:
    with pytest.raises(UnauthenticatedArtifactError, match="written without an artifact key"):
        _load(artifact, KEY)


def test_any_edit_of_a_keyed_artifact_is_refused(keyed: bytes) -> None:
    for pos in range(0, len(keyed), 97):
        out = bytearray(keyed)
        out[pos] ^= 0x10
        reseal(out)
        with pytest.raises(cwasm.WasmtimeError):
            _load(bytes(out), KEY)


@pytest.mark.parametrize("bad", [b"short", "a string", bytes(65)])
def test_artifact_key_must_be_16_to_64_bytes(bad: Any) -> None:
    with pytest.raises(cwasm.WasmtimeError, match="artifact_key"):
        _engine(bad)


# ---------------------------------------------------------------------------
# The compile cache's key file


def test_cache_key_file_is_private_and_stable(tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache")
    key = cache.key(_engine())
    path = tmp_path / "cache" / "key"
    assert len(key) == 32 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cache.key(_engine()) == key
    assert cache.key(_engine(KEY)) == KEY  # an engine's own key wins


def test_exposed_key_file_disables_the_cache(tmp_path: Path) -> None:
    cache = CompileCache(tmp_path)
    cache.key(_engine())
    os.chmod(tmp_path / "key", 0o644)
    with pytest.raises(CacheKeyError, match="accessible to other users"):
        cache.key(_engine())
    wasm = wat_to_wasm(MODULES["funcs"])
    _, outcome = load_or_compile(_engine(), wasm, cache)
    assert outcome is CacheOutcome.DISABLED
    assert not list(tmp_path.rglob("*.cwasm"))


def test_cache_entries_are_authenticated(tmp_path: Path) -> None:
    wasm = wat_to_wasm(WAT)
    engine = _engine()
    cache = CompileCache(tmp_path)
    assert load_or_compile(engine, wasm, cache)[1] is CacheOutcome.MISS
    assert load_or_compile(engine, wasm, cache)[1] is CacheOutcome.HIT
    entry = cache.path(engine, wasm)
    # an entry written under another key (or none) is a miss, and is replaced
    entry.write_bytes(cwasm.Module(_engine(OTHER_KEY), WAT).serialize())
    assert load_or_compile(engine, wasm, cache)[1] is CacheOutcome.MISS
    assert load_or_compile(engine, wasm, cache)[1] is CacheOutcome.HIT
    entry.write_bytes(cwasm.Module(engine, WAT).serialize())
    assert cache.load(engine, wasm) is None
