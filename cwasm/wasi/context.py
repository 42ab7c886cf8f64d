"""``WasiContext``: one program's WASI state (descriptor table, arguments, environment)
and the entry point of every ``wasi_snapshot_preview1`` function.

Each function is a method named as in the witx, taking a ``GuestView`` of the
caller's memory followed by the wasm arguments (as unsigned integers) and
returning an ``Errno``. The methods live in one class per group of calls, which
``WasiContext`` combines: ``fd_calls`` (``fd_*``), ``path_calls`` (``path_*``),
``process_calls`` (arguments, environment, clocks, randomness, ``proc_*``,
``sched_yield``) and ``poll_calls`` (``poll_oneoff``, ``sock_*``), all over the
table of ``descriptors``. ``WasiContext.call`` is the entry point for the runtime:
it normalises arguments and turns failures into errno values, so a guest can never
crash the host through WASI. ``proc_exit`` raises ``WasiExit``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cwasm.wasi.abi import (
    DIRECTORY_RIGHTS,
    DIRECTORY_WRITE_RIGHTS,
    FILE_RIGHTS,
    FILE_WRITE_RIGHTS,
    STREAM_RIGHTS,
    Errno,
    Filetype,
    Rights,
)
from cwasm.wasi.config import DirPerms, FilePerms, Stdio, StdioMode, WasiConfig
from cwasm.wasi.descriptors import Descriptor, filetype_of
from cwasm.wasi.errno_map import errno_from_os
from cwasm.wasi.fd_calls import FdCalls
from cwasm.wasi.memory import GuestMemory, GuestView
from cwasm.wasi.path_calls import PathCalls
from cwasm.wasi.poll_calls import PollCalls
from cwasm.wasi.process_calls import ProcessCalls
from cwasm.wasi.sandbox import WasiErrno
from cwasm.wasi.signatures import WASI_FUNCTIONS
from cwasm.wasm.types import ValType

_U32_MASK = 0xFFFF_FFFF
_U64_MASK = 0xFFFF_FFFF_FFFF_FFFF


class WasiContext(FdCalls, PathCalls, ProcessCalls, PollCalls):
    """The WASI state of one program, built from a ``WasiConfig``.

    Opens the configured stdio files and preopened directories immediately;
    ``close()`` (or use as a context manager) releases them.
    """

    def __init__(self, config: WasiConfig | None = None) -> None:
        config = config or WasiConfig()
        self.args = [arg.encode() + b"\0" for arg in config.argv]
        self.environ = [f"{name}={value}".encode() + b"\0" for name, value in config.env]
        self.fds = {}
        try:
            self.fds[0] = self._stdio(config.stdin, 0, readable=True)
            self.fds[1] = self._stdio(config.stdout, 1, readable=False)
            self.fds[2] = self._stdio(config.stderr, 2, readable=False)
            for number, preopen in enumerate(config.preopens, start=3):
                host_fd = os.open(preopen.host_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                base, inheriting = _preopen_rights(preopen.dir_perms, preopen.file_perms)
                self.fds[number] = Descriptor(
                    host_fd,
                    Filetype.DIRECTORY,
                    base,
                    inheriting,
                    owned=True,
                    preopen=preopen.guest_path,
                )
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _stdio(stream: Stdio, number: int, readable: bool) -> Descriptor:
        side = Rights.FD_READ if readable else Rights.FD_WRITE
        if stream.mode is StdioMode.NULL:
            return Descriptor(None, Filetype.CHARACTER_DEVICE, STREAM_RIGHTS | side, 0, owned=False)
        if stream.mode is StdioMode.INHERIT:
            host_fd, owned = number, False
        else:
            assert stream.path is not None
            flags = os.O_RDONLY if readable else os.O_WRONLY | os.O_CREAT | os.O_APPEND
            host_fd, owned = os.open(stream.path, flags | os.O_CLOEXEC, 0o666), True
        filetype = filetype_of(os.fstat(host_fd).st_mode)
        if filetype is Filetype.REGULAR_FILE:
            other = Rights.FD_WRITE if readable else Rights.FD_READ
            rights = FILE_RIGHTS & ~other
        else:
            rights = STREAM_RIGHTS | side
        return Descriptor(host_fd, filetype, rights, 0, owned=owned)

    def close(self) -> None:
        """Closes every host descriptor this context opened."""
        for descriptor in self.fds.values():
            if descriptor.owned and descriptor.host_fd is not None:
                os.close(descriptor.host_fd)
        self.fds.clear()

    def __enter__(self) -> WasiContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- dispatch ---------------------------------------------------------

    def call(self, name: str, memory: GuestMemory, *args: int) -> int:
        """Runs the WASI function ``name`` with wasm arguments ``args`` (signed or
        unsigned) against the caller's ``memory``; returns its errno.

        Raises ``KeyError`` for an unknown name, ``TypeError`` for a wrong argument
        count, ``WasiExit`` from ``proc_exit`` and ``GuestMemoryFault`` for a pointer
        out of the memory's bounds (Wasmtime fails the call then, rather than
        returning ``EFAULT``).
        """
        function = WASI_FUNCTIONS[name]
        params = function.type.params
        if len(args) != len(params):
            raise TypeError(f"{name} takes {len(params)} arguments, got {len(args)}")
        values = [
            value & (_U64_MASK if kind is ValType.I64 else _U32_MASK)
            for value, kind in zip(args, params, strict=True)
        ]
        method: Callable[..., int] = getattr(self, function.method)
        try:
            return int(method(GuestView(memory), *values))
        except WasiErrno as e:
            return int(e.errno)
        except UnicodeError:
            return int(Errno.ILSEQ)
        except OSError as e:
            return int(errno_from_os(e))
        except (OverflowError, ValueError):
            return int(Errno.INVAL)


def _preopen_rights(dir_perms: DirPerms, file_perms: FilePerms) -> tuple[int, int]:
    """The (base, inheriting) rights of a preopened directory."""
    base = int(DIRECTORY_RIGHTS)
    files = int(FILE_RIGHTS)
    if not dir_perms & DirPerms.WRITE_ONLY:
        base &= ~DIRECTORY_WRITE_RIGHTS
    if not dir_perms & DirPerms.READ_ONLY:
        base &= ~(Rights.FD_READDIR | Rights.PATH_READLINK | Rights.PATH_FILESTAT_GET)
    if not file_perms & FilePerms.WRITE_ONLY:
        files &= ~FILE_WRITE_RIGHTS
    if not file_perms & FilePerms.READ_ONLY:
        files &= ~Rights.FD_READ
    return base, base | files
