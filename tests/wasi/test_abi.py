"""The ABI records, constants and the function signature table match WASI preview1."""

from __future__ import annotations

import errno as host_errno
import struct
from pathlib import Path

import pytest

from cwasm.wasi import WASI_FUNCTIONS, WASI_MODULE, abi
from cwasm.wasi.abi import Errno, EventType, FdFlags, FdStat, FileStat, Filetype, Rights
from cwasm.wasi.errno_map import errno_from_os
from cwasm.wasm.types import ValType

ROOT = Path(__file__).resolve().parents[2]


def test_filestat_field_offsets() -> None:
    record = FileStat(
        dev=0x1111, ino=0x2222, filetype=Filetype.SYMBOLIC_LINK, nlink=0x3333,
        size=0x4444, atim=0x5555, mtim=0x6666, ctim=0x7777,
    ).pack()  # fmt: skip
    assert len(record) == 64
    u64 = [struct.unpack_from("<Q", record, offset)[0] for offset in (0, 8, 24, 32, 40, 48, 56)]
    assert u64 == [0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777]
    assert record[16] == 7
    assert record[17:24] == bytes(7)


def test_fdstat_field_offsets() -> None:
    record = FdStat(Filetype.REGULAR_FILE, FdFlags.APPEND | FdFlags.NONBLOCK, 1 << 40, 3).pack()
    assert len(record) == 24
    assert record[0] == 4
    assert struct.unpack_from("<H", record, 2)[0] == 5
    assert struct.unpack_from("<QQ", record, 8) == (1 << 40, 3)


def test_small_record_layouts() -> None:
    assert abi.PRESTAT.pack(0, 9) == b"\0\0\0\0\x09\0\0\0"
    dirent = abi.DIRENT.pack(2, 3, 4, Filetype.DIRECTORY)
    assert len(dirent) == 24
    assert struct.unpack_from("<QQI", dirent) == (2, 3, 4)
    assert dirent[20] == 3
    event = abi.EVENT.pack(0xAB, Errno.BADF, EventType.FD_WRITE, 77, 1)
    assert len(event) == 32
    assert struct.unpack_from("<QHB", event) == (0xAB, 8, 2)
    assert struct.unpack_from("<QH", event, 16) == (77, 1)
    assert abi.SUBSCRIPTION_SIZE == 48
    clock = abi.SUBSCRIPTION_CLOCK.pack(1, 2, 3, 4)
    assert struct.unpack_from("<IxxxxQQH", clock) == (1, 2, 3, 4)


def test_constant_values() -> None:
    assert (Errno.BADF, Errno.FAULT, Errno.INVAL, Errno.NOSYS, Errno.NOTCAPABLE) == (
        8, 21, 28, 52, 76,
    )  # fmt: skip
    assert (Rights.FD_READ, Rights.FD_WRITE, Rights.PATH_OPEN) == (2, 64, 1 << 13)
    assert Rights.SOCK_ACCEPT == 1 << 29
    assert abi.ALL_RIGHTS == (1 << 30) - 1
    assert (abi.OFlags.CREAT, abi.OFlags.DIRECTORY, abi.OFlags.EXCL, abi.OFlags.TRUNC) == (
        1, 2, 4, 8,
    )  # fmt: skip
    assert (abi.FstFlags.ATIM, abi.FstFlags.MTIM_NOW) == (1, 8)


def test_errno_translation() -> None:
    assert errno_from_os(FileNotFoundError(host_errno.ENOENT, "x")) == Errno.NOENT
    assert errno_from_os(OSError(host_errno.ENOTEMPTY, "x")) == Errno.NOTEMPTY
    assert errno_from_os(OSError(host_errno.ELOOP, "x")) == Errno.LOOP
    assert errno_from_os(OSError(host_errno.EXFULL, "x")) == Errno.IO  # no WASI counterpart
    assert errno_from_os(OSError("no errno")) == Errno.IO


def test_table_covers_preview1() -> None:
    assert len(WASI_FUNCTIONS) == 46
    for name, function in WASI_FUNCTIONS.items():
        assert function.name == name == function.method
        assert all(t in (ValType.I32, ValType.I64) for t in function.type.params)
        expected_results = () if name == "proc_exit" else (ValType.I32,)
        assert function.type.results == expected_results


def test_table_signatures_match_wasmtime() -> None:
    wasmtime = pytest.importorskip("wasmtime")
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    names = {ValType.I32: "i32", ValType.I64: "i64"}
    for name, function in WASI_FUNCTIONS.items():
        func = linker.get(store, WASI_MODULE, name)
        ty = func.type(store)
        assert [str(t) for t in ty.params] == [names[t] for t in function.type.params], name
        assert [str(t) for t in ty.results] == [names[t] for t in function.type.results], name


def test_programs_import_only_known_functions() -> None:
    wasmtime = pytest.importorskip("wasmtime")
    engine = wasmtime.Engine()
    wasm_files = [
        *(ROOT / "bench" / "wasm").glob("*.wasm"),
        *(ROOT / "tests/wasi/programs").glob("*.wasm"),
    ]
    assert wasm_files
    for path in wasm_files:
        module = wasmtime.Module.from_file(engine, str(path))
        for imported in module.imports:
            assert imported.module == WASI_MODULE
            assert imported.name in WASI_FUNCTIONS, (path.name, imported.name)
