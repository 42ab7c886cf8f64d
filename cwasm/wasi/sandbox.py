"""Resolving guest paths inside a directory capability, one component at a time.

A guest names files by a path relative to a directory descriptor it holds.
The path may never reach anything outside that directory: absolute paths,
``..`` above the directory and symbolic links whose expansion does either are
refused with ``ENOTCAPABLE``. Resolution never joins strings into host paths:
each component is opened relative to the directory file descriptor reached so
far with ``O_NOFOLLOW``, and symbolic links are expanded here, by reading them
relative to their directory and resolving their contents under the same rules.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from cwasm.wasi.abi import Errno

#: How many symbolic links one resolution may expand (Linux's limit).
MAX_SYMLINK_EXPANSIONS = 40

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class WasiErrno(Exception):
    """Unwinds a syscall with a WASI errno (caught by the dispatcher)."""

    def __init__(self, errno_value: Errno) -> None:
        super().__init__(errno_value.name)
        self.errno = errno_value


@dataclass(slots=True)
class ResolvedPath:
    """The directory holding a path's last component, and that component.

    ``parent_fd`` is a host descriptor owned by this record (``close`` it);
    ``name`` is a single component (``.`` when the path named the directory
    itself) that is safe to pass with ``dir_fd=parent_fd`` and no symlink
    following; ``depth`` counts the directories between the capability's root
    and ``parent_fd``; ``trailing_slash`` records that the guest's path ended
    in ``/`` (so it must name a directory).
    """

    parent_fd: int
    name: str
    depth: int
    trailing_slash: bool

    def close(self) -> None:
        os.close(self.parent_fd)

    def __enter__(self) -> ResolvedPath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_symlink(dir_fd: int, name: str) -> str | None:
    """The link's target if ``name`` in ``dir_fd`` is a symbolic link, else ``None``."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def resolve(root_fd: int, path: str, follow_final: bool) -> ResolvedPath:
    """Resolves ``path`` relative to the directory ``root_fd`` without leaving it.

    Intermediate symbolic links are always expanded; the final component's
    link is expanded only when ``follow_final``. Raises ``WasiErrno`` for a
    path that escapes (``NOTCAPABLE``), is empty (``NOENT``), contains NUL
    (``ILSEQ``) or loops (``LOOP``), and ``OSError`` for host failures.
    """
    if path == "":
        raise WasiErrno(Errno.NOENT)
    if "\0" in path:
        raise WasiErrno(Errno.ILSEQ)
    if path.startswith("/"):
        raise WasiErrno(Errno.NOTCAPABLE)

    trailing_slash = path.endswith("/")
    # The directories entered so far; stack[0] is the root, owned by the caller.
    stack: list[int] = [root_fd]
    pending = _components(path)
    expansions = 0
    final = "."
    try:
        while pending:
            component = pending.pop()
            is_last = not pending
            if component == ".":
                if is_last:
                    final = "."
                continue
            if component == "..":
                if len(stack) == 1:
                    raise WasiErrno(Errno.NOTCAPABLE)
                os.close(stack.pop())
                if is_last:
                    final = "."
                continue
            if not is_last or follow_final:
                target = _is_symlink(stack[-1], component)
                if target is not None:
                    expansions += 1
                    if expansions > MAX_SYMLINK_EXPANSIONS:
                        raise WasiErrno(Errno.LOOP)
                    if target.startswith("/"):
                        raise WasiErrno(Errno.NOTCAPABLE)
                    if target == "":
                        raise WasiErrno(Errno.NOENT)
                    if is_last and target.endswith("/"):
                        trailing_slash = True
                    pending.extend(_components(target))
                    continue
            if is_last:
                final = component
                break
            stack.append(os.open(component, _DIR_FLAGS, dir_fd=stack[-1]))
        depth = len(stack) - 1
        parent = stack.pop() if depth > 0 else os.dup(root_fd)
        return ResolvedPath(parent, final, depth, trailing_slash)
    finally:
        for fd in stack[1:]:
            os.close(fd)


def _components(path: str) -> list[str]:
    """The path's components as a stack (next one last), without empty ones."""
    parts = [part for part in path.split("/") if part != ""]
    parts.reverse()
    return parts or ["."]


def symlink_target_escapes(target: str, depth: int) -> bool:
    """Whether a symbolic link with contents ``target``, placed ``depth`` directories
    below a capability's root, would name something outside that root."""
    if target.startswith("/"):
        return True
    for component in target.split("/"):
        if component == "..":
            depth -= 1
            if depth < 0:
                return True
        elif component not in ("", "."):
            depth += 1
    return False
