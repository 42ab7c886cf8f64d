"""Path calls inside a preopened directory, directory listings and preopen discovery."""

from __future__ import annotations

import os
import struct

from cwasm.wasi import WasiConfig, WasiContext
from cwasm.wasi.abi import ALL_RIGHTS, Errno, Filetype, FstFlags, LookupFlags, OFlags, Rights
from tests.wasi.conftest import ROOT_FD, Dirs
from tests.wasi.guest import Guest


def readdir(guest: Guest, fd: int, buf_len: int, cookie: int = 0) -> tuple[Errno, bytes]:
    buf = guest.alloc(buf_len)
    used = guest.alloc(4)
    errno = guest.call("fd_readdir", fd, buf, buf_len, cookie, used)
    return errno, guest.read(buf, guest.u32(used))


def parse_dirents(data: bytes) -> list[tuple[int, int, bytes, int]]:
    """Whole entries only: (d_next, d_ino, name, d_type)."""
    entries = []
    offset = 0
    while offset + 24 <= len(data):
        d_next, d_ino, namlen, d_type = struct.unpack_from("<QQIB", data, offset)
        if offset + 24 + namlen > len(data):
            break
        entries.append((d_next, d_ino, data[offset + 24 : offset + 24 + namlen], d_type))
        offset += 24 + namlen
    return entries


def list_all(guest: Guest, fd: int, buf_len: int) -> list[tuple[bytes, int]]:
    """Reads a whole directory the way wasi-libc does, resuming from cookies."""
    names: list[tuple[bytes, int]] = []
    cookie = 0
    while True:
        errno, data = readdir(guest, fd, buf_len, cookie)
        assert errno == Errno.SUCCESS
        entries = parse_dirents(data)
        names += [(name, d_type) for _, _, name, d_type in entries]
        if len(data) < buf_len:
            return names
        assert entries, "buffer too small for one entry"
        cookie = entries[-1][0]


def test_preopen_discovery(dirs: Dirs) -> None:
    config = WasiConfig()
    config.preopen_dir(dirs.root, "/sandbox")
    config.preopen_dir(dirs.outside, "other")
    with WasiContext(config) as context:
        guest = Guest(context)
        for fd, name in ((3, b"/sandbox"), (4, b"other")):
            out = guest.alloc(8)
            assert guest.call("fd_prestat_get", fd, out) == Errno.SUCCESS
            assert guest.read(out, 8) == struct.pack("<BxxxI", 0, len(name))
            buf = guest.alloc(32)
            assert guest.call("fd_prestat_dir_name", fd, buf, len(name)) == Errno.SUCCESS
            assert guest.read(buf, len(name)) == name
            assert guest.call("fd_prestat_dir_name", fd, buf, len(name) - 1) == Errno.NAMETOOLONG
        assert guest.call("fd_prestat_get", 5, guest.alloc(8)) == Errno.BADF
        assert guest.call("fd_prestat_get", 1, guest.alloc(8)) == Errno.BADF
        errno, fd = guest.open(3, "x", OFlags.CREAT)
        assert errno == Errno.SUCCESS
        assert guest.call("fd_prestat_get", fd, guest.alloc(8)) == Errno.BADF


def test_open_create_exclusive_truncate(guest: Guest, dirs: Dirs) -> None:
    assert guest.open(ROOT_FD, "new.txt")[0] == Errno.NOENT
    errno, fd = guest.open(ROOT_FD, "new.txt", OFlags.CREAT | OFlags.EXCL)
    assert errno == Errno.SUCCESS
    guest.write(fd, b"contents")
    assert guest.open(ROOT_FD, "new.txt", OFlags.CREAT | OFlags.EXCL)[0] == Errno.EXIST
    assert guest.open(ROOT_FD, "new.txt", OFlags.DIRECTORY)[0] == Errno.NOTDIR
    assert guest.open(ROOT_FD, "new.txt/")[0] == Errno.NOTDIR
    assert (dirs.root / "new.txt").read_bytes() == b"contents"
    errno, fd = guest.open(ROOT_FD, "new.txt", OFlags.TRUNC)
    assert errno == Errno.SUCCESS
    assert (dirs.root / "new.txt").read_bytes() == b""
    assert guest.open(ROOT_FD, "")[0] == Errno.NOENT


def test_open_directories(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "sub" / "deeper").mkdir(parents=True)
    (dirs.root / "sub" / "deeper" / "leaf.txt").write_bytes(b"leaf")
    errno, sub = guest.open(ROOT_FD, "sub", OFlags.DIRECTORY)
    assert errno == Errno.SUCCESS
    out = guest.alloc(24)
    assert guest.call("fd_fdstat_get", sub, out) == Errno.SUCCESS
    assert guest.read(out, 1)[0] == Filetype.DIRECTORY
    errno, leaf = guest.open(sub, "deeper/leaf.txt")
    assert errno == Errno.SUCCESS
    assert guest.read_fd(leaf, 10) == (Errno.SUCCESS, b"leaf")
    assert guest.open(ROOT_FD, "sub/deeper/../deeper/./leaf.txt")[0] == Errno.SUCCESS
    assert guest.open(ROOT_FD, "sub/", OFlags.DIRECTORY)[0] == Errno.SUCCESS
    assert guest.open(ROOT_FD, ".", OFlags.DIRECTORY)[0] == Errno.SUCCESS
    assert guest.open(ROOT_FD, "sub", rights=Rights.FD_WRITE)[0] == Errno.ISDIR
    assert guest.read_fd(sub, 4)[0] == Errno.NOTCAPABLE
    # A file descriptor is not a directory to resolve paths from.
    assert guest.open(leaf, "x")[0] == Errno.NOTDIR


def test_create_and_remove_directory(guest: Guest, dirs: Dirs) -> None:
    assert guest.path_call("path_create_directory", ROOT_FD, "d") == Errno.SUCCESS
    assert (dirs.root / "d").is_dir()
    assert guest.path_call("path_create_directory", ROOT_FD, "d") == Errno.EXIST
    assert guest.path_call("path_create_directory", ROOT_FD, "d/e/") == Errno.SUCCESS
    assert guest.path_call("path_create_directory", ROOT_FD, "missing/e") == Errno.NOENT
    assert guest.path_call("path_remove_directory", ROOT_FD, "d") == Errno.NOTEMPTY
    assert guest.path_call("path_remove_directory", ROOT_FD, "d/e") == Errno.SUCCESS
    (dirs.root / "d" / "f").write_bytes(b"")
    assert guest.path_call("path_remove_directory", ROOT_FD, "d/f") == Errno.NOTDIR
    assert guest.path_call("path_unlink_file", ROOT_FD, "d") == Errno.ISDIR
    assert guest.path_call("path_unlink_file", ROOT_FD, "d/f/") == Errno.NOTDIR
    assert guest.path_call("path_unlink_file", ROOT_FD, "d/f") == Errno.SUCCESS
    assert guest.path_call("path_unlink_file", ROOT_FD, "d/f") == Errno.NOENT
    assert guest.path_call("path_remove_directory", ROOT_FD, "d/") == Errno.SUCCESS
    assert list(dirs.root.iterdir()) == []


def rename(guest: Guest, old_fd: int, old: str, new_fd: int, new: str) -> Errno:
    old_ptr, old_len = guest.path(old)
    new_ptr, new_len = guest.path(new)
    return guest.call("path_rename", old_fd, old_ptr, old_len, new_fd, new_ptr, new_len)


def test_rename(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "a.txt").write_bytes(b"A")
    (dirs.root / "dir").mkdir()
    assert rename(guest, ROOT_FD, "a.txt", ROOT_FD, "dir/b.txt") == Errno.SUCCESS
    assert (dirs.root / "dir" / "b.txt").read_bytes() == b"A"
    errno, dir_fd = guest.open(ROOT_FD, "dir", OFlags.DIRECTORY)
    assert errno == Errno.SUCCESS
    assert rename(guest, dir_fd, "b.txt", ROOT_FD, "c.txt") == Errno.SUCCESS
    assert (dirs.root / "c.txt").read_bytes() == b"A"
    assert rename(guest, ROOT_FD, "missing", ROOT_FD, "x") == Errno.NOENT
    assert rename(guest, ROOT_FD, "c.txt/", ROOT_FD, "x") == Errno.NOTDIR
    assert rename(guest, ROOT_FD, "dir", ROOT_FD, "moved/") == Errno.SUCCESS
    assert (dirs.root / "moved").is_dir()


def test_hard_links(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "orig").write_bytes(b"O")
    os.symlink("orig", dirs.root / "sym")
    old_ptr, old_len = guest.path("orig")
    new_ptr, new_len = guest.path("hard")
    assert (
        guest.call("path_link", ROOT_FD, 0, old_ptr, old_len, ROOT_FD, new_ptr, new_len)
        == Errno.SUCCESS
    )
    assert os.stat(dirs.root / "hard").st_ino == os.stat(dirs.root / "orig").st_ino
    assert (
        guest.call("path_link", ROOT_FD, 0, old_ptr, old_len, ROOT_FD, new_ptr, new_len)
        == Errno.EXIST
    )
    sym_ptr, sym_len = guest.path("sym")
    nofollow_ptr, nofollow_len = guest.path("link-to-sym")
    follow_ptr, follow_len = guest.path("link-to-target")
    assert (
        guest.call("path_link", ROOT_FD, 0, sym_ptr, sym_len, ROOT_FD, nofollow_ptr, nofollow_len)
        == Errno.SUCCESS
    )
    assert os.path.islink(dirs.root / "link-to-sym")
    follow = LookupFlags.SYMLINK_FOLLOW
    assert (
        guest.call("path_link", ROOT_FD, follow, sym_ptr, sym_len, ROOT_FD, follow_ptr, follow_len)
        == Errno.SUCCESS
    )
    assert os.stat(dirs.root / "link-to-target", follow_symlinks=False).st_ino == (
        os.stat(dirs.root / "orig").st_ino
    )


def symlink(guest: Guest, contents: str, fd: int, path: str) -> Errno:
    old_ptr, old_len = guest.path(contents)
    new_ptr, new_len = guest.path(path)
    return guest.call("path_symlink", old_ptr, old_len, fd, new_ptr, new_len)


def test_symlink_and_readlink(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "sub").mkdir()
    (dirs.root / "target.txt").write_bytes(b"T")
    assert symlink(guest, "target.txt", ROOT_FD, "link") == Errno.SUCCESS
    assert symlink(guest, "../target.txt", ROOT_FD, "sub/up") == Errno.SUCCESS
    assert os.readlink(dirs.root / "link") == "target.txt"
    assert symlink(guest, "target.txt", ROOT_FD, "link") == Errno.EXIST
    ptr, length = guest.path("link")
    buf, used = guest.alloc(64), guest.alloc(4)
    assert guest.call("path_readlink", ROOT_FD, ptr, length, buf, 64, used) == Errno.SUCCESS
    assert guest.read(buf, guest.u32(used)) == b"target.txt"
    assert guest.call("path_readlink", ROOT_FD, ptr, length, buf, 4, used) == Errno.SUCCESS
    assert guest.read(buf, guest.u32(used)) == b"targ"  # truncated to the buffer
    file_ptr, file_len = guest.path("target.txt")
    assert guest.call("path_readlink", ROOT_FD, file_ptr, file_len, buf, 64, used) == Errno.INVAL
    errno, fd = guest.open(ROOT_FD, "sub/up")
    assert errno == Errno.SUCCESS
    assert guest.read_fd(fd, 4) == (Errno.SUCCESS, b"T")
    # Without SYMLINK_FOLLOW the final link itself is opened: refused, as O_NOFOLLOW is.
    assert guest.open(ROOT_FD, "link", dirflags=0)[0] == Errno.LOOP
    assert guest.path_call("path_unlink_file", ROOT_FD, "link") == Errno.SUCCESS
    assert (dirs.root / "target.txt").exists()


def test_path_filestat(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "file").write_bytes(b"12345")
    os.symlink("file", dirs.root / "link")
    errno, record = guest.path_filestat(ROOT_FD, "file")
    assert errno == Errno.SUCCESS
    assert record[16] == Filetype.REGULAR_FILE
    assert struct.unpack_from("<Q", record, 32)[0] == 5
    assert struct.unpack_from("<Q", record, 8)[0] == os.stat(dirs.root / "file").st_ino
    errno, record = guest.path_filestat(ROOT_FD, "link", follow=True)
    assert (errno, record[16]) == (Errno.SUCCESS, Filetype.REGULAR_FILE)
    errno, record = guest.path_filestat(ROOT_FD, "link", follow=False)
    assert (errno, record[16]) == (Errno.SUCCESS, Filetype.SYMBOLIC_LINK)
    assert struct.unpack_from("<Q", record, 32)[0] == len("file")
    errno, record = guest.path_filestat(ROOT_FD, ".")
    assert (errno, record[16]) == (Errno.SUCCESS, Filetype.DIRECTORY)
    assert guest.path_filestat(ROOT_FD, "nope")[0] == Errno.NOENT
    assert guest.path_filestat(ROOT_FD, "file/")[0] == Errno.NOTDIR


def test_path_filestat_set_times(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "file").write_bytes(b"")
    os.symlink("file", dirs.root / "link")
    ptr, length = guest.path("link")
    flags = FstFlags.ATIM | FstFlags.MTIM
    follow = LookupFlags.SYMLINK_FOLLOW
    assert (
        guest.call("path_filestat_set_times", ROOT_FD, follow, ptr, length, 111, 222, flags)
        == Errno.SUCCESS
    )
    st = os.stat(dirs.root / "file")
    assert (st.st_atime_ns, st.st_mtime_ns) == (111, 222)
    assert (
        guest.call("path_filestat_set_times", ROOT_FD, 0, ptr, length, 333, 444, flags)
        == Errno.SUCCESS
    )
    assert os.stat(dirs.root / "link", follow_symlinks=False).st_mtime_ns == 444
    assert os.stat(dirs.root / "file").st_mtime_ns == 222
    bad = FstFlags.MTIM | FstFlags.MTIM_NOW
    assert guest.call("path_filestat_set_times", ROOT_FD, 0, ptr, length, 0, 0, bad) == Errno.INVAL


def test_readdir(guest: Guest, dirs: Dirs) -> None:
    names = [f"entry-{i:02d}-{'x' * i}" for i in range(20)]
    for name in names:
        (dirs.root / name).write_bytes(b"")
    (dirs.root / "subdir").mkdir()
    os.symlink("entry-00-", dirs.root / "zlink")
    expected = (
        [(b".", Filetype.DIRECTORY), (b"..", Filetype.DIRECTORY)]
        + [(n.encode(), Filetype.REGULAR_FILE) for n in names]
        + [(b"subdir", Filetype.DIRECTORY), (b"zlink", Filetype.SYMBOLIC_LINK)]
    )
    assert list_all(guest, ROOT_FD, 4096) == expected
    for buf_len in (64, 100, 256):
        assert list_all(guest, ROOT_FD, buf_len) == expected
    errno, data = readdir(guest, ROOT_FD, 4096)
    first = parse_dirents(data)
    assert [d_next for d_next, _, _, _ in first] == list(range(1, len(expected) + 1))
    assert first[0][1] == os.stat(dirs.root).st_ino
    assert first[2][1] == os.stat(dirs.root / names[0]).st_ino
    assert readdir(guest, ROOT_FD, 4096, cookie=len(expected)) == (Errno.SUCCESS, b"")
    assert readdir(guest, ROOT_FD, 4096, cookie=1000) == (Errno.SUCCESS, b"")
    errno, fd = guest.open(ROOT_FD, names[0])
    assert readdir(guest, fd, 64)[0] == Errno.NOTCAPABLE


def test_readdir_of_subdirectory_and_new_files(guest: Guest, dirs: Dirs) -> None:
    (dirs.root / "sub").mkdir()
    errno, sub = guest.open(ROOT_FD, "sub", OFlags.DIRECTORY, rights=ALL_RIGHTS)
    assert errno == Errno.SUCCESS
    assert [n for n, _ in list_all(guest, sub, 512)] == [b".", b".."]
    (dirs.root / "sub" / "late").write_bytes(b"")
    assert [n for n, _ in list_all(guest, sub, 512)] == [b".", b"..", b"late"]
