"""Descriptor calls: stdio, reading, writing, seeking, attributes, rights and bad descriptors."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from cwasm.wasi import DirPerms, FilePerms, WasiConfig, WasiContext
from cwasm.wasi.abi import (
    ALL_RIGHTS,
    Advice,
    Errno,
    FdFlags,
    Filetype,
    FstFlags,
    OFlags,
    Rights,
    Whence,
)
from tests.wasi.conftest import ROOT_FD, Dirs
from tests.wasi.guest import Guest


def fdstat(guest: Guest, fd: int) -> tuple[Errno, int, int, int, int]:
    out = guest.alloc(24)
    errno = guest.call("fd_fdstat_get", fd, out)
    filetype, flags, base, inheriting = struct.unpack("<BxHxxxxQQ", guest.read(out, 24))
    return errno, filetype, flags, base, inheriting


def seek(guest: Guest, fd: int, offset: int, whence: int) -> tuple[Errno, int]:
    out = guest.alloc(8)
    return guest.call("fd_seek", fd, offset, whence, out), guest.u64(out)


def create(guest: Guest, name: str, contents: bytes = b"", fdflags: int = 0) -> int:
    errno, fd = guest.open(ROOT_FD, name, OFlags.CREAT | OFlags.TRUNC, fdflags=fdflags)
    assert errno == Errno.SUCCESS
    if contents:
        assert guest.write(fd, contents) == (Errno.SUCCESS, len(contents))
    return fd


def test_default_stdio_is_empty_and_discarding() -> None:
    with WasiContext(WasiConfig()) as context:
        guest = Guest(context)
        assert guest.read_fd(0, 16) == (Errno.SUCCESS, b"")
        assert guest.write(1, b"dropped") == (Errno.SUCCESS, 7)
        assert guest.write(2, b"also dropped") == (Errno.SUCCESS, 12)
        errno, filetype, _, base, _ = fdstat(guest, 0)
        assert (errno, filetype) == (Errno.SUCCESS, Filetype.CHARACTER_DEVICE)
        assert base & Rights.FD_READ and not base & Rights.FD_WRITE
        assert guest.write(0, b"x")[0] == Errno.NOTCAPABLE
        assert guest.read_fd(1, 4)[0] == Errno.NOTCAPABLE
        assert seek(guest, 1, 0, Whence.CUR)[0] == Errno.NOTCAPABLE
        assert guest.call("fd_prestat_get", 3, guest.alloc(8)) == Errno.BADF


def test_stdout_and_stderr_files(tmp_path: Path) -> None:
    config = WasiConfig()
    config.stdout_file = tmp_path / "out"
    config.stderr_file = tmp_path / "err"
    with WasiContext(config) as context:
        guest = Guest(context)
        assert guest.write(1, b"hello ", b"", b"world\n") == (Errno.SUCCESS, 12)
        assert guest.write(2, b"oops\n") == (Errno.SUCCESS, 5)
        assert guest.write(1, b"again\n") == (Errno.SUCCESS, 6)
    assert (tmp_path / "out").read_bytes() == b"hello world\nagain\n"
    assert (tmp_path / "err").read_bytes() == b"oops\n"


def test_shared_stdout_and_stderr_file_interleave(tmp_path: Path) -> None:
    config = WasiConfig()
    config.stdout_file = tmp_path / "log"
    config.stderr_file = tmp_path / "log"
    with WasiContext(config) as context:
        guest = Guest(context)
        guest.write(1, b"1")
        guest.write(2, b"2")
        guest.write(1, b"3")
    assert (tmp_path / "log").read_bytes() == b"123"


def test_inherited_stdout_reaches_the_process(capfd: pytest.CaptureFixture[str]) -> None:
    config = WasiConfig()
    config.inherit_stdout()
    config.inherit_stderr()
    with WasiContext(config) as context:
        guest = Guest(context)
        assert guest.write(1, b"to stdout\n") == (Errno.SUCCESS, 10)
        assert guest.write(2, b"to stderr\n") == (Errno.SUCCESS, 10)
    captured = capfd.readouterr()
    assert captured.out == "to stdout\n"
    assert captured.err == "to stderr\n"


def test_stdin_file(tmp_path: Path) -> None:
    (tmp_path / "in").write_bytes(b"abcdefghij")
    config = WasiConfig()
    config.stdin_file = tmp_path / "in"
    with WasiContext(config) as context:
        guest = Guest(context)
        assert guest.read_fd(0, 3, 4) == (Errno.SUCCESS, b"abcdefg")
        assert guest.read_fd(0, 10) == (Errno.SUCCESS, b"hij")
        assert guest.read_fd(0, 10) == (Errno.SUCCESS, b"")


def test_write_seek_tell_read(guest: Guest, dirs: Dirs) -> None:
    fd = create(guest, "f.txt", b"0123456789")
    assert (dirs.root / "f.txt").read_bytes() == b"0123456789"
    tell = guest.alloc(8)
    assert guest.call("fd_tell", fd, tell) == Errno.SUCCESS
    assert guest.u64(tell) == 10
    assert seek(guest, fd, 2, Whence.SET) == (Errno.SUCCESS, 2)
    assert guest.read_fd(fd, 3) == (Errno.SUCCESS, b"234")
    assert seek(guest, fd, -2, Whence.CUR) == (Errno.SUCCESS, 3)  # a negative i64 delta
    assert seek(guest, fd, (1 << 64) - 1, Whence.END) == (Errno.SUCCESS, 9)  # unsigned -1
    assert guest.read_fd(fd, 5) == (Errno.SUCCESS, b"9")
    assert seek(guest, fd, -20, Whence.SET)[0] == Errno.INVAL
    assert seek(guest, fd, 0, 3)[0] == Errno.INVAL
    assert guest.call("fd_close", fd) == Errno.SUCCESS


def test_pread_and_pwrite_leave_the_position(guest: Guest, dirs: Dirs) -> None:
    fd = create(guest, "p.txt", b"abcdef")
    assert seek(guest, fd, 1, Whence.SET) == (Errno.SUCCESS, 1)
    out = guest.alloc(4)
    assert guest.call("fd_pwrite", fd, guest.iovecs([b"XY"]), 1, 4, out) == Errno.SUCCESS
    assert guest.u32(out) == 2
    buf = guest.alloc(8)
    vec = guest.put(struct.pack("<II", buf, 8))
    assert guest.call("fd_pread", fd, vec, 1, 3, out) == Errno.SUCCESS
    assert guest.read(buf, guest.u32(out)) == b"dXY"
    assert guest.read_fd(fd, 2) == (Errno.SUCCESS, b"bc")
    assert guest.call("fd_pread", fd, vec, 1, 1 << 63, out) == Errno.INVAL
    assert (dirs.root / "p.txt").read_bytes() == b"abcdXY"
    assert guest.call("fd_pwrite", 1, guest.iovecs([b"x"]), 1, 0, out) == Errno.NOTCAPABLE


def test_append_flag(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "log").write_bytes(b"start;")
    errno, fd = guest.open(ROOT_FD, "log", fdflags=FdFlags.APPEND)
    assert errno == Errno.SUCCESS
    assert seek(guest, fd, 0, Whence.SET)[0] == Errno.SUCCESS
    guest.write(fd, b"more;")
    assert (dirs.root / "log").read_bytes() == b"start;more;"
    assert fdstat(guest, fd)[2] & FdFlags.APPEND


def test_close_and_renumber(guest: Guest, dirs: Dirs) -> None:
    a = create(guest, "a", b"A")
    b = create(guest, "b", b"B")
    assert guest.call("fd_renumber", a, b) == Errno.SUCCESS
    assert seek(guest, b, 0, Whence.SET) == (Errno.SUCCESS, 0)
    assert guest.read_fd(b, 4) == (Errno.SUCCESS, b"A")
    assert guest.call("fd_close", a) == Errno.BADF
    assert guest.call("fd_renumber", b, 77) == Errno.BADF
    assert guest.call("fd_renumber", 77, b) == Errno.BADF
    assert guest.call("fd_renumber", b, b) == Errno.SUCCESS
    assert guest.call("fd_close", b) == Errno.SUCCESS
    assert guest.call("fd_close", b) == Errno.BADF
    # The lowest free number is reused.
    assert create(guest, "c") == a


def test_sync_advise_allocate(guest: Guest, dirs: Dirs) -> None:
    fd = create(guest, "s", b"12345")
    assert guest.call("fd_sync", fd) == Errno.SUCCESS
    assert guest.call("fd_datasync", fd) == Errno.SUCCESS
    assert guest.call("fd_advise", fd, 0, 5, Advice.SEQUENTIAL) == Errno.SUCCESS
    assert guest.call("fd_advise", fd, 0, 5, 6) == Errno.INVAL
    assert guest.call("fd_allocate", fd, 0, 100) == Errno.SUCCESS
    assert (dirs.root / "s").stat().st_size == 100
    assert guest.call("fd_allocate", fd, 0, 10) == Errno.SUCCESS
    assert (dirs.root / "s").stat().st_size == 100
    assert (dirs.root / "s").read_bytes()[:5] == b"12345"
    assert guest.call("fd_sync", 1) == Errno.NOTCAPABLE


def test_fdstat_and_flags(guest: Guest) -> None:
    fd = create(guest, "flags")
    errno, filetype, flags, base, _ = fdstat(guest, fd)
    assert (errno, filetype, flags) == (Errno.SUCCESS, Filetype.REGULAR_FILE, 0)
    assert base & Rights.FD_READ and base & Rights.FD_WRITE
    assert not base & Rights.PATH_OPEN  # directory rights are not granted to files
    assert guest.call("fd_fdstat_set_flags", fd, FdFlags.NONBLOCK) == Errno.SUCCESS
    assert fdstat(guest, fd)[2] == FdFlags.NONBLOCK
    assert guest.call("fd_fdstat_set_flags", fd, FdFlags.APPEND) == Errno.SUCCESS
    assert fdstat(guest, fd)[2] == FdFlags.APPEND
    assert guest.call("fd_fdstat_set_flags", fd, FdFlags.SYNC) == Errno.NOTSUP
    assert guest.call("fd_fdstat_set_flags", fd, 1 << 7) == Errno.INVAL
    errno, filetype, _, base, inheriting = fdstat(guest, ROOT_FD)
    assert (errno, filetype) == (Errno.SUCCESS, Filetype.DIRECTORY)
    assert base & Rights.PATH_OPEN and inheriting & Rights.FD_WRITE


def test_rights_can_only_shrink(guest: Guest) -> None:
    fd = create(guest, "r", b"data")
    read_only = Rights.FD_READ | Rights.FD_SEEK | Rights.FD_FDSTAT_SET_FLAGS
    assert guest.call("fd_fdstat_set_rights", fd, read_only, 0) == Errno.SUCCESS
    assert fdstat(guest, fd)[3] == read_only
    assert guest.write(fd, b"x")[0] == Errno.NOTCAPABLE
    assert guest.call("fd_fdstat_set_rights", fd, read_only | Rights.FD_WRITE, 0) == (
        Errno.NOTCAPABLE
    )
    assert seek(guest, fd, 0, Whence.SET)[0] == Errno.SUCCESS
    assert guest.read_fd(fd, 8) == (Errno.SUCCESS, b"data")


def test_open_read_only_denies_writes(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "ro").write_bytes(b"keep")
    errno, fd = guest.open(ROOT_FD, "ro", rights=Rights.FD_READ | Rights.FD_SEEK)
    assert errno == Errno.SUCCESS
    assert guest.write(fd, b"x")[0] == Errno.NOTCAPABLE
    assert guest.read_fd(fd, 8) == (Errno.SUCCESS, b"keep")


def test_filestat_get_and_set(guest: Guest, dirs: Dirs) -> None:
    fd = create(guest, "st", b"123456")
    errno, record = guest.filestat(fd)
    host = os.stat(dirs.root / "st")
    dev, ino, filetype, nlink, size, atim, mtim, ctim = struct.unpack("<QQBxxxxxxxQQQQQ", record)
    assert errno == Errno.SUCCESS
    assert (dev, ino, filetype, nlink, size) == (host.st_dev, host.st_ino, 4, 1, 6)
    assert (atim, mtim, ctim) == (host.st_atime_ns, host.st_mtime_ns, host.st_ctime_ns)

    assert guest.call("fd_filestat_set_size", fd, 2) == Errno.SUCCESS
    assert (dirs.root / "st").read_bytes() == b"12"
    assert guest.call("fd_filestat_set_size", fd, 1 << 63) == Errno.FBIG

    atime, mtime = 1_000_000_000_123_456_789, 1_200_000_000_987_654_321
    flags = FstFlags.ATIM | FstFlags.MTIM
    assert guest.call("fd_filestat_set_times", fd, atime, mtime, flags) == Errno.SUCCESS
    host = os.stat(dirs.root / "st")
    assert (host.st_atime_ns, host.st_mtime_ns) == (atime, mtime)
    assert guest.call("fd_filestat_set_times", fd, 5, 0, FstFlags.ATIM) == Errno.SUCCESS
    host = os.stat(dirs.root / "st")
    assert (host.st_atime_ns, host.st_mtime_ns) == (5, mtime)  # mtime untouched
    assert guest.call("fd_filestat_set_times", fd, 0, 0, FstFlags.MTIM_NOW) == Errno.SUCCESS
    assert abs(os.stat(dirs.root / "st").st_mtime_ns - time.time_ns()) < 5 * 10**9
    both = FstFlags.ATIM | FstFlags.ATIM_NOW
    assert guest.call("fd_filestat_set_times", fd, 0, 0, both) == Errno.INVAL


def test_stdio_filestat() -> None:
    with WasiContext(WasiConfig()) as context:
        guest = Guest(context)
        errno, record = guest.filestat(1)
        assert errno == Errno.SUCCESS
        assert record[16] == Filetype.CHARACTER_DEVICE


BAD_FD_CALLS: list[tuple[str, tuple[int, ...]]] = [
    ("fd_read", (0, 0, 0)),
    ("fd_write", (0, 0, 0)),
    ("fd_pread", (0, 0, 0, 0)),
    ("fd_pwrite", (0, 0, 0, 0)),
    ("fd_seek", (0, 0, 0)),
    ("fd_tell", (0,)),
    ("fd_close", ()),
    ("fd_sync", ()),
    ("fd_datasync", ()),
    ("fd_fdstat_get", (0,)),
    ("fd_fdstat_set_flags", (0,)),
    ("fd_fdstat_set_rights", (0, 0)),
    ("fd_filestat_get", (0,)),
    ("fd_filestat_set_size", (0,)),
    ("fd_filestat_set_times", (0, 0, 0)),
    ("fd_advise", (0, 0, 0)),
    ("fd_allocate", (0, 0)),
    ("fd_readdir", (0, 0, 0, 0)),
    ("fd_prestat_get", (0,)),
    ("fd_prestat_dir_name", (0, 0)),
    ("fd_renumber", (1,)),
    ("path_open", (0, 0, 0, 0, 0, 0, 0, 0)),
    ("path_create_directory", (0, 0)),
    ("path_unlink_file", (0, 0)),
    ("path_remove_directory", (0, 0)),
    ("path_filestat_get", (0, 0, 0, 0)),
    ("path_readlink", (0, 0, 0, 0, 0)),
]


@pytest.mark.parametrize(("name", "rest"), BAD_FD_CALLS, ids=[c[0] for c in BAD_FD_CALLS])
def test_bad_descriptor(guest: Guest, name: str, rest: tuple[int, ...]) -> None:
    assert guest.call(name, 42, *rest) == Errno.BADF


def test_file_perms_read_only(dirs: Dirs) -> None:
    (dirs.root / "existing").write_bytes(b"old")
    config = WasiConfig()
    config.preopen_dir(dirs.root, "/ro", DirPerms.READ_WRITE, FilePerms.READ_ONLY)
    with WasiContext(config) as context:
        guest = Guest(context)
        assert guest.open(ROOT_FD, "existing")[0] == Errno.NOTCAPABLE
        errno, fd = guest.open(ROOT_FD, "existing", rights=Rights.FD_READ)
        assert errno == Errno.SUCCESS
        assert guest.read_fd(fd, 8) == (Errno.SUCCESS, b"old")
        assert guest.write(fd, b"new")[0] == Errno.NOTCAPABLE
    assert (dirs.root / "existing").read_bytes() == b"old"


def test_dir_perms_read_only(dirs: Dirs) -> None:
    (dirs.root / "keep").write_bytes(b"")
    config = WasiConfig()
    config.preopen_dir(dirs.root, "/ro", DirPerms.READ_ONLY, FilePerms.READ_ONLY)
    with WasiContext(config) as context:
        guest = Guest(context)
        assert guest.path_call("path_create_directory", ROOT_FD, "d") == Errno.NOTCAPABLE
        assert guest.path_call("path_unlink_file", ROOT_FD, "keep") == Errno.NOTCAPABLE
        assert guest.open(ROOT_FD, "new", OFlags.CREAT, rights=Rights.FD_READ)[0] == (
            Errno.NOTCAPABLE
        )
        assert guest.path_filestat(ROOT_FD, "keep")[0] == Errno.SUCCESS
        errno, fd = guest.open(ROOT_FD, ".", OFlags.DIRECTORY, rights=ALL_RIGHTS)
        assert errno == Errno.SUCCESS
        # Rights inherited by a subdirectory are no stronger than the preopen's.
        assert guest.path_call("path_create_directory", fd, "d") == Errno.NOTCAPABLE
    assert sorted(p.name for p in dirs.root.iterdir()) == ["keep"]


def test_close_releases_host_descriptors(dirs: Dirs, tmp_path: Path) -> None:
    before = set(os.listdir("/proc/self/fd"))
    config = WasiConfig()
    config.preopen_dir(dirs.root, "/sandbox")
    config.stdout_file = tmp_path / "out"
    context = WasiContext(config)
    guest = Guest(context)
    assert guest.open(ROOT_FD, "opened", OFlags.CREAT)[0] == Errno.SUCCESS
    assert len(set(os.listdir("/proc/self/fd")) - before) == 3
    context.close()
    assert set(os.listdir("/proc/self/fd")) == before
    assert context.fds == {}
