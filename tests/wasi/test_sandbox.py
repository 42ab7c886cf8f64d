"""A guest reaches nothing outside its preopened directories, whatever path it names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.wasi import sandbox
from cwasm.wasi.abi import ALL_RIGHTS, Errno, FstFlags, LookupFlags, OFlags
from tests.runtime.wat import wat
from tests.wasi.conftest import ROOT_FD, Dirs
from tests.wasi.guest import Guest

ESCAPES = [
    "/etc/passwd",
    "/",
    "..",
    "../outside/secret.txt",
    "./../outside/secret.txt",
    "sub/../../outside/secret.txt",
    "sub/deeper/../../../outside/secret.txt",
    "sub/../sub/../..",
]


@pytest.fixture
def tree(dirs: Dirs) -> Dirs:
    """root/{file.txt, sub/deeper/} beside outside/secret.txt."""
    (dirs.root / "file.txt").write_text("inside")
    (dirs.root / "sub" / "deeper").mkdir(parents=True)
    return dirs


def assert_untouched(dirs: Dirs) -> None:
    assert sorted(p.name for p in dirs.outside.iterdir()) == ["secret.txt"]
    assert (dirs.outside / "secret.txt").read_text() == "secret"


@pytest.mark.parametrize("path", ESCAPES)
def test_lexical_escapes_are_refused(guest: Guest, tree: Dirs, path: str) -> None:
    assert guest.open(ROOT_FD, path)[0] == Errno.NOTCAPABLE
    assert guest.open(ROOT_FD, path, OFlags.CREAT)[0] == Errno.NOTCAPABLE
    assert guest.path_filestat(ROOT_FD, path)[0] == Errno.NOTCAPABLE
    assert guest.path_call("path_create_directory", ROOT_FD, path + "/new") == Errno.NOTCAPABLE
    assert guest.path_call("path_unlink_file", ROOT_FD, path) == Errno.NOTCAPABLE
    assert guest.path_call("path_remove_directory", ROOT_FD, path) == Errno.NOTCAPABLE
    assert_untouched(tree)


def test_symlink_to_absolute_directory(guest: Guest, tree: Dirs) -> None:
    os.symlink("/etc", tree.root / "etc")
    assert guest.open(ROOT_FD, "etc/passwd")[0] == Errno.NOTCAPABLE
    assert guest.open(ROOT_FD, "etc", OFlags.DIRECTORY)[0] == Errno.NOTCAPABLE
    assert guest.path_filestat(ROOT_FD, "etc", follow=True)[0] == Errno.NOTCAPABLE
    assert guest.path_filestat(ROOT_FD, "etc/passwd", follow=False)[0] == Errno.NOTCAPABLE
    # The link itself, not followed, is inside the sandbox and may be inspected.
    assert guest.path_filestat(ROOT_FD, "etc", follow=False)[0] == Errno.SUCCESS


def test_symlink_to_absolute_path_inside_is_refused_too(guest: Guest, tree: Dirs) -> None:
    os.symlink(tree.root / "file.txt", tree.root / "abs")
    assert guest.open(ROOT_FD, "abs")[0] == Errno.NOTCAPABLE


def test_relative_symlink_climbing_out(guest: Guest, tree: Dirs) -> None:
    os.symlink("../outside", tree.root / "up")
    os.symlink("../file.txt", tree.root / "sub" / "ok")
    os.symlink("../../file.txt", tree.root / "sub" / "one-too-high")
    os.symlink("../../../outside/secret.txt", tree.root / "sub" / "deeper" / "far")
    assert guest.open(ROOT_FD, "up/secret.txt")[0] == Errno.NOTCAPABLE
    assert guest.open(ROOT_FD, "up")[0] == Errno.NOTCAPABLE
    assert guest.open(ROOT_FD, "sub/deeper/far")[0] == Errno.NOTCAPABLE
    assert guest.open(ROOT_FD, "sub/one-too-high")[0] == Errno.NOTCAPABLE
    errno, fd = guest.open(ROOT_FD, "sub/deeper/../ok")
    assert errno == Errno.SUCCESS
    assert guest.read_fd(fd, 16) == (Errno.SUCCESS, b"inside")


def test_symlink_chain_escaping(guest: Guest, tree: Dirs) -> None:
    os.symlink("l2", tree.root / "l1")
    os.symlink("sub/l3", tree.root / "l2")
    os.symlink("deeper/l4", tree.root / "sub" / "l3")
    os.symlink("../../../outside", tree.root / "sub" / "deeper" / "l4")
    assert guest.open(ROOT_FD, "l1/secret.txt")[0] == Errno.NOTCAPABLE
    assert guest.open(ROOT_FD, "l1", OFlags.DIRECTORY)[0] == Errno.NOTCAPABLE
    # The same chain ending inside the sandbox resolves.
    os.remove(tree.root / "sub" / "deeper" / "l4")
    os.symlink("../../file.txt", tree.root / "sub" / "deeper" / "l4")
    errno, fd = guest.open(ROOT_FD, "l1")
    assert errno == Errno.SUCCESS
    assert guest.read_fd(fd, 16) == (Errno.SUCCESS, b"inside")


def test_symlink_loop(guest: Guest, tree: Dirs) -> None:
    os.symlink("b", tree.root / "a")
    os.symlink("a", tree.root / "b")
    assert guest.open(ROOT_FD, "a")[0] == Errno.LOOP
    assert guest.open(ROOT_FD, "a/x")[0] == Errno.LOOP


def test_create_through_dangling_symlink_outside(guest: Guest, tree: Dirs) -> None:
    os.symlink("../outside/created", tree.root / "dangling")
    assert guest.open(ROOT_FD, "dangling", OFlags.CREAT)[0] == Errno.NOTCAPABLE
    assert guest.open(ROOT_FD, "../outside/created", OFlags.CREAT)[0] == Errno.NOTCAPABLE
    assert_untouched(tree)
    # Not following the final link: O_NOFOLLOW refuses to open the link itself.
    errno, _ = guest.open(ROOT_FD, "dangling", OFlags.CREAT, dirflags=0)
    assert errno == Errno.LOOP
    assert_untouched(tree)


def two_paths(guest: Guest, name: str, a: str, b: str, flags: int | None = None) -> Errno:
    a_ptr, a_len = guest.path(a)
    b_ptr, b_len = guest.path(b)
    if name == "path_rename":
        return guest.call(name, ROOT_FD, a_ptr, a_len, ROOT_FD, b_ptr, b_len)
    return guest.call(name, ROOT_FD, flags or 0, a_ptr, a_len, ROOT_FD, b_ptr, b_len)


def test_rename_escapes(guest: Guest, tree: Dirs) -> None:
    os.symlink("../outside", tree.root / "up")
    assert two_paths(guest, "path_rename", "file.txt", "../outside/stolen") == Errno.NOTCAPABLE
    assert two_paths(guest, "path_rename", "file.txt", "up/stolen") == Errno.NOTCAPABLE
    assert two_paths(guest, "path_rename", "file.txt", "/tmp/stolen") == Errno.NOTCAPABLE
    assert two_paths(guest, "path_rename", "../outside/secret.txt", "got") == Errno.NOTCAPABLE
    assert two_paths(guest, "path_rename", "up/secret.txt", "got") == Errno.NOTCAPABLE
    assert (tree.root / "file.txt").read_text() == "inside"
    assert not (tree.root / "got").exists()
    assert_untouched(tree)


def test_link_escapes(guest: Guest, tree: Dirs) -> None:
    os.symlink("../outside/secret.txt", tree.root / "secret-link")
    follow = LookupFlags.SYMLINK_FOLLOW
    assert two_paths(guest, "path_link", "../outside/secret.txt", "got") == Errno.NOTCAPABLE
    assert two_paths(guest, "path_link", "secret-link", "got", follow) == Errno.NOTCAPABLE
    assert two_paths(guest, "path_link", "file.txt", "../outside/copy") == Errno.NOTCAPABLE
    assert not (tree.root / "got").exists()
    assert_untouched(tree)


def symlink(guest: Guest, contents: str, path: str) -> Errno:
    c_ptr, c_len = guest.path(contents)
    p_ptr, p_len = guest.path(path)
    return guest.call("path_symlink", c_ptr, c_len, ROOT_FD, p_ptr, p_len)


def test_symlink_creation_escapes(guest: Guest, tree: Dirs) -> None:
    assert symlink(guest, "/etc", "etc") == Errno.NOTCAPABLE
    assert symlink(guest, "../outside", "up") == Errno.NOTCAPABLE
    assert symlink(guest, "sub/../..", "up") == Errno.NOTCAPABLE
    assert symlink(guest, "../../outside", "sub/up") == Errno.NOTCAPABLE
    assert symlink(guest, "file.txt", "../outside/link") == Errno.NOTCAPABLE
    assert symlink(guest, "../file.txt", "sub/fine") == Errno.SUCCESS
    assert symlink(guest, "deeper/../../file.txt", "sub/fine2") == Errno.SUCCESS
    assert sorted(p.name for p in tree.root.iterdir()) == ["file.txt", "sub"]
    assert_untouched(tree)


def test_other_path_calls_do_not_escape(guest: Guest, tree: Dirs) -> None:
    os.symlink("../outside", tree.root / "up")
    ptr, length = guest.path("up/secret.txt")
    buf, used = guest.alloc(64), guest.alloc(4)
    assert guest.call("path_readlink", ROOT_FD, ptr, length, buf, 64, used) == Errno.NOTCAPABLE
    os.symlink(str(tree.outside / "secret.txt"), tree.root / "abs")
    ptr, length = guest.path("abs")
    # an absolute target is a host path: not revealed (Wasmtime answers PERM too)
    assert guest.call("path_readlink", ROOT_FD, ptr, length, buf, 64, used) == Errno.PERM
    assert (
        guest.call(
            "path_filestat_set_times", ROOT_FD, 1, ptr, length, 0, 0, FstFlags.ATIM | FstFlags.MTIM
        )
        == Errno.NOTCAPABLE
    )
    assert guest.path_call("path_unlink_file", ROOT_FD, "up/secret.txt") == Errno.NOTCAPABLE
    assert guest.path_call("path_create_directory", ROOT_FD, "up/newdir") == Errno.NOTCAPABLE
    assert_untouched(tree)


def test_a_subdirectory_descriptor_cannot_reach_its_parent(guest: Guest, tree: Dirs) -> None:
    errno, sub = guest.open(ROOT_FD, "sub", OFlags.DIRECTORY, rights=ALL_RIGHTS)
    assert errno == Errno.SUCCESS
    assert guest.open(sub, "../file.txt")[0] == Errno.NOTCAPABLE
    assert guest.open(sub, "deeper/../../file.txt")[0] == Errno.NOTCAPABLE
    assert guest.open(sub, "deeper/..", OFlags.DIRECTORY)[0] == Errno.SUCCESS


def test_readdir_of_the_preopen_lists_only_its_entries(guest: Guest, tree: Dirs) -> None:
    buf, used = guest.alloc(1024), guest.alloc(4)
    assert guest.call("fd_readdir", ROOT_FD, buf, 1024, 0, used) == Errno.SUCCESS
    data = guest.read(buf, guest.u32(used))
    assert b"file.txt" in data and b"sub" in data
    assert b"secret" not in data and b"outside" not in data


def test_malformed_paths(guest: Guest, tree: Dirs) -> None:
    assert guest.open(ROOT_FD, "file.txt\0.evil")[0] == Errno.ILSEQ
    bad_utf8 = guest.put(b"\xff\xfe")
    out = guest.alloc(4)
    errno = guest.call("path_open", ROOT_FD, 1, bad_utf8, 2, 0, ALL_RIGHTS, ALL_RIGHTS, 0, out)
    assert errno == Errno.ILSEQ


def test_swapped_link_after_the_check_is_still_refused(
    guest: Guest, tree: Dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a directory became a symlink between the check and the open, the open itself
    (O_NOFOLLOW) refuses it rather than following it outside."""
    os.symlink("../outside", tree.root / "up")
    monkeypatch.setattr(sandbox, "_is_symlink", lambda dir_fd, name: None)
    assert guest.open(ROOT_FD, "up/secret.txt")[0] in (Errno.LOOP, Errno.NOTDIR)
    assert guest.open(ROOT_FD, "up")[0] == Errno.LOOP
    assert_untouched(tree)


READLINK_WAT = """
(module
  (import "wasi_snapshot_preview1" "path_readlink"
    (func $readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "readlink") (param $path i32) (param $len i32) (result i32)
    (call $readlink (i32.const 3) (local.get $path) (local.get $len)
      (i32.const 1024) (i32.const 256) (i32.const 2048))))
"""


def _readlinks(api: Any, root: Path, names: list[str]) -> list[tuple[int, bytes]]:
    """``path_readlink`` of each name in a preopened ``root``, run by ``api``'s WASI."""
    engine = api.Engine()
    store = api.Store(engine)
    linker = api.Linker(engine)
    linker.define_wasi()
    config = api.WasiConfig()
    config.preopen_dir(str(root), "/")
    store.set_wasi(config)
    exports = linker.instantiate(store, api.Module(engine, wat(READLINK_WAT))).exports(store)
    memory = exports["memory"]
    answers = []
    for name in names:
        memory.write(store, name.encode(), 0)
        errno = exports["readlink"](store, 0, len(name))
        used = int.from_bytes(memory.read(store, 2048, 2052), "little")
        answers.append((errno, bytes(memory.read(store, 1024, 1024 + used)) if errno == 0 else b""))
    return answers


def test_readlink_answers_as_wasmtime(dirs: Dirs) -> None:
    """The link's contents as stored, even when they climb out (following is refused
    elsewhere); an absolute target is a host path and is not revealed."""
    os.symlink("file.txt", dirs.root / "rel")
    os.symlink("../../outside/secret.txt", dirs.root / "up")
    os.symlink(str(dirs.outside / "secret.txt"), dirs.root / "abs")
    os.symlink("/", dirs.root / "slash")
    names = ["rel", "up", "abs", "slash"]
    got = _readlinks(cwasm, dirs.root, names)
    assert got == _readlinks(wasmtime, dirs.root, names)
    assert got[0] == (Errno.SUCCESS, b"file.txt")
    assert got[2] == (Errno.PERM, b"")
