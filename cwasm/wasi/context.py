"""``WasiContext``: one program's WASI state (descriptor table, arguments, environment)
and the implementation of every ``wasi_snapshot_preview1`` function against it.

Each function is a method named as in the witx, taking a ``GuestView`` of the
caller's memory followed by the wasm arguments (as unsigned integers) and
returning an ``Errno``. ``WasiContext.call`` is the entry point for the
runtime: it normalises arguments and turns failures into errno values, so a
guest can never crash the host through WASI. ``proc_exit`` raises ``WasiExit``.
"""

from __future__ import annotations

import fcntl
import os
import select
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cwasm.errors import CwasmError
from cwasm.wasi import abi
from cwasm.wasi.abi import (
    DIRECTORY_RIGHTS,
    DIRECTORY_WRITE_RIGHTS,
    FILE_OPEN_READ_RIGHTS,
    FILE_OPEN_WRITE_RIGHTS,
    FILE_RIGHTS,
    FILE_WRITE_RIGHTS,
    ClockId,
    Errno,
    EventType,
    FdFlags,
    FdStat,
    FileStat,
    Filetype,
    FstFlags,
    LookupFlags,
    OFlags,
    Rights,
    SubclockFlags,
    Whence,
)
from cwasm.wasi.config import DirPerms, FilePerms, Stdio, StdioMode, WasiConfig
from cwasm.wasi.errno_map import errno_from_os
from cwasm.wasi.memory import GuestMemory, GuestMemoryFault, GuestView
from cwasm.wasi.sandbox import ResolvedPath, WasiErrno, resolve, symlink_target_escapes
from cwasm.wasi.signatures import WASI_FUNCTIONS
from cwasm.wasm.types import ValType

#: The most bytes one read moves; larger requests are short reads, as POSIX allows.
MAX_READ = 64 << 20

#: The longest single wait of ``poll_oneoff``; longer timeouts wait again.
_MAX_WAIT_NS = 3600 * 10**9

_U32_MASK = 0xFFFF_FFFF
_U64_MASK = 0xFFFF_FFFF_FFFF_FFFF
_I64_MAX = (1 << 63) - 1

_CLOCKS = {
    ClockId.REALTIME: time.CLOCK_REALTIME,
    ClockId.MONOTONIC: time.CLOCK_MONOTONIC,
    ClockId.PROCESS_CPUTIME_ID: time.CLOCK_PROCESS_CPUTIME_ID,
    ClockId.THREAD_CPUTIME_ID: time.CLOCK_THREAD_CPUTIME_ID,
}

_ADVICE = {
    abi.Advice.NORMAL: os.POSIX_FADV_NORMAL,
    abi.Advice.SEQUENTIAL: os.POSIX_FADV_SEQUENTIAL,
    abi.Advice.RANDOM: os.POSIX_FADV_RANDOM,
    abi.Advice.WILLNEED: os.POSIX_FADV_WILLNEED,
    abi.Advice.DONTNEED: os.POSIX_FADV_DONTNEED,
    abi.Advice.NOREUSE: os.POSIX_FADV_NOREUSE,
}

_WHENCE = {Whence.SET: os.SEEK_SET, Whence.CUR: os.SEEK_CUR, Whence.END: os.SEEK_END}

_STREAM_RIGHTS = Rights.FD_FDSTAT_SET_FLAGS | Rights.FD_FILESTAT_GET | Rights.POLL_FD_READWRITE


class WasiExit(CwasmError):
    """The guest called ``proc_exit``: the program is over with exit status ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(f"WASI program exited with status {code}")
        self.code = code


@dataclass(slots=True)
class DirEntry:
    """One entry of a directory listing, as ``fd_readdir`` reports it."""

    name: bytes
    ino: int
    filetype: Filetype


@dataclass(slots=True)
class Descriptor:
    """An entry of the guest's descriptor table.

    ``host_fd`` is ``None`` for the null streams (an empty stdin, a discarding
    stdout/stderr); ``owned`` says whether closing the entry closes
    ``host_fd``; ``preopen`` is the guest-visible name of a preopened
    directory; ``listing`` caches a directory's entries between ``fd_readdir``
    calls that continue from a cookie.
    """

    host_fd: int | None
    filetype: Filetype
    rights_base: int
    rights_inheriting: int
    owned: bool
    flags: FdFlags = FdFlags(0)
    preopen: str | None = None
    listing: list[DirEntry] | None = field(default=None, repr=False)


def filetype_of(mode: int) -> Filetype:
    if stat.S_ISREG(mode):
        return Filetype.REGULAR_FILE
    if stat.S_ISDIR(mode):
        return Filetype.DIRECTORY
    if stat.S_ISLNK(mode):
        return Filetype.SYMBOLIC_LINK
    if stat.S_ISCHR(mode):
        return Filetype.CHARACTER_DEVICE
    if stat.S_ISBLK(mode):
        return Filetype.BLOCK_DEVICE
    if stat.S_ISSOCK(mode):
        return Filetype.SOCKET_STREAM
    return Filetype.UNKNOWN


def filestat_of(st: os.stat_result) -> FileStat:
    return FileStat(
        dev=st.st_dev,
        ino=st.st_ino,
        filetype=filetype_of(st.st_mode),
        nlink=st.st_nlink,
        size=st.st_size,
        atim=st.st_atime_ns,
        mtim=st.st_mtime_ns,
        ctim=st.st_ctime_ns,
    )


def _signed64(value: int) -> int:
    return value - (1 << 64) if value > _I64_MAX else value


class WasiContext:
    """The WASI state of one program, built from a ``WasiConfig``.

    Opens the configured stdio files and preopened directories immediately;
    ``close()`` (or use as a context manager) releases them.
    """

    def __init__(self, config: WasiConfig | None = None) -> None:
        config = config or WasiConfig()
        self.args = [arg.encode() + b"\0" for arg in config.argv]
        self.environ = [f"{name}={value}".encode() + b"\0" for name, value in config.env]
        self.fds: dict[int, Descriptor] = {}
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
            return Descriptor(
                None, Filetype.CHARACTER_DEVICE, _STREAM_RIGHTS | side, 0, owned=False
            )
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
            rights = _STREAM_RIGHTS | side
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
        count and ``WasiExit`` from ``proc_exit``.
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
        except GuestMemoryFault:
            return int(Errno.FAULT)
        except UnicodeError:
            return int(Errno.ILSEQ)
        except OSError as e:
            return int(errno_from_os(e))
        except (OverflowError, ValueError):
            return int(Errno.INVAL)

    # --- descriptor helpers -----------------------------------------------

    def _get(self, fd: int, rights: int = 0) -> Descriptor:
        descriptor = self.fds.get(fd)
        if descriptor is None:
            raise WasiErrno(Errno.BADF)
        if rights & ~descriptor.rights_base:
            raise WasiErrno(Errno.NOTCAPABLE)
        return descriptor

    def _host(self, fd: int, rights: int = 0) -> tuple[Descriptor, int | None]:
        descriptor = self._get(fd, rights)
        return descriptor, descriptor.host_fd

    def _directory(self, fd: int, rights: int) -> int:
        descriptor = self.fds.get(fd)
        if descriptor is None:
            raise WasiErrno(Errno.BADF)
        if descriptor.filetype is not Filetype.DIRECTORY or descriptor.host_fd is None:
            raise WasiErrno(Errno.NOTDIR)
        if rights & ~descriptor.rights_base:
            raise WasiErrno(Errno.NOTCAPABLE)
        return descriptor.host_fd

    def _allocate(self, descriptor: Descriptor) -> int:
        number = 0
        while number in self.fds:
            number += 1
        self.fds[number] = descriptor
        return number

    def _resolve(
        self, mem: GuestView, dir_fd: int, path_ptr: int, path_len: int, follow: bool
    ) -> ResolvedPath:
        return resolve(dir_fd, mem.string(path_ptr, path_len), follow)

    # --- arguments, environment, clocks, randomness -------------------------

    @staticmethod
    def _sizes(mem: GuestView, items: list[bytes], count_ptr: int, size_ptr: int) -> int:
        mem.set_u32(count_ptr, len(items))
        mem.set_u32(size_ptr, sum(len(item) for item in items))
        return Errno.SUCCESS

    @staticmethod
    def _strings(mem: GuestView, items: list[bytes], array_ptr: int, buf_ptr: int) -> int:
        mem.check(array_ptr, 4 * len(items))
        mem.check(buf_ptr, sum(len(item) for item in items))
        offset = buf_ptr
        for i, item in enumerate(items):
            mem.set_u32(array_ptr + 4 * i, offset)
            mem.write(offset, item)
            offset += len(item)
        return Errno.SUCCESS

    def args_sizes_get(self, mem: GuestView, argc_ptr: int, buf_size_ptr: int) -> int:
        return self._sizes(mem, self.args, argc_ptr, buf_size_ptr)

    def args_get(self, mem: GuestView, argv_ptr: int, buf_ptr: int) -> int:
        return self._strings(mem, self.args, argv_ptr, buf_ptr)

    def environ_sizes_get(self, mem: GuestView, count_ptr: int, buf_size_ptr: int) -> int:
        return self._sizes(mem, self.environ, count_ptr, buf_size_ptr)

    def environ_get(self, mem: GuestView, environ_ptr: int, buf_ptr: int) -> int:
        return self._strings(mem, self.environ, environ_ptr, buf_ptr)

    @staticmethod
    def _clock(clock_id: int) -> int:
        try:
            return _CLOCKS[ClockId(clock_id)]
        except ValueError:
            raise WasiErrno(Errno.INVAL) from None

    def clock_res_get(self, mem: GuestView, clock_id: int, resolution_ptr: int) -> int:
        resolution = time.clock_getres(self._clock(clock_id))
        mem.set_u64(resolution_ptr, max(1, round(resolution * 1e9)))
        return Errno.SUCCESS

    def clock_time_get(self, mem: GuestView, clock_id: int, precision: int, time_ptr: int) -> int:
        mem.set_u64(time_ptr, time.clock_gettime_ns(self._clock(clock_id)))
        return Errno.SUCCESS

    def random_get(self, mem: GuestView, buf: int, buf_len: int) -> int:
        mem.check(buf, buf_len)
        chunk = 1 << 16
        for offset in range(0, buf_len, chunk):
            mem.write(buf + offset, os.urandom(min(chunk, buf_len - offset)))
        return Errno.SUCCESS

    # --- reading and writing ------------------------------------------------

    def fd_read(self, mem: GuestView, fd: int, iovs: int, iovs_len: int, nread_ptr: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_READ)
        if host_fd is None:  # a discarding stream: reads see end of file
            return _read_into(mem, iovs, iovs_len, nread_ptr, lambda n: b"")
        return _read_into(mem, iovs, iovs_len, nread_ptr, lambda n: os.read(host_fd, n))

    def fd_pread(
        self, mem: GuestView, fd: int, iovs: int, iovs_len: int, offset: int, nread_ptr: int
    ) -> int:
        _, host_fd = self._host(fd, Rights.FD_READ | Rights.FD_SEEK)
        if host_fd is None:
            raise WasiErrno(Errno.SPIPE)
        if offset > _I64_MAX:
            raise WasiErrno(Errno.INVAL)
        return _read_into(mem, iovs, iovs_len, nread_ptr, lambda n: os.pread(host_fd, n, offset))

    def fd_write(self, mem: GuestView, fd: int, iovs: int, iovs_len: int, nwritten_ptr: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_WRITE)
        if host_fd is None:  # a discarding stream: everything is written
            return _write_from(mem, iovs, iovs_len, nwritten_ptr, len)
        return _write_from(mem, iovs, iovs_len, nwritten_ptr, lambda data: os.write(host_fd, data))

    def fd_pwrite(
        self, mem: GuestView, fd: int, iovs: int, iovs_len: int, offset: int, nwritten_ptr: int
    ) -> int:
        _, host_fd = self._host(fd, Rights.FD_WRITE | Rights.FD_SEEK)
        if host_fd is None:
            raise WasiErrno(Errno.SPIPE)
        if offset > _I64_MAX:
            raise WasiErrno(Errno.INVAL)
        return _write_from(
            mem, iovs, iovs_len, nwritten_ptr, lambda data: os.pwrite(host_fd, data, offset)
        )

    def fd_seek(self, mem: GuestView, fd: int, offset: int, whence: int, newoffset_ptr: int) -> int:
        delta = _signed64(offset)
        try:
            how = Whence(whence)
        except ValueError:
            raise WasiErrno(Errno.INVAL) from None
        # Asking for the current position needs only the weaker ``fd_tell`` right.
        needed = Rights.FD_TELL if how is Whence.CUR and delta == 0 else Rights.FD_SEEK
        _, host_fd = self._host(fd, needed)
        if host_fd is None:
            raise WasiErrno(Errno.SPIPE)
        mem.check(newoffset_ptr, 8)
        position = os.lseek(host_fd, delta, _WHENCE[how])
        mem.set_u64(newoffset_ptr, position)
        return Errno.SUCCESS

    def fd_tell(self, mem: GuestView, fd: int, offset_ptr: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_TELL)
        if host_fd is None:
            raise WasiErrno(Errno.SPIPE)
        mem.check(offset_ptr, 8)
        mem.set_u64(offset_ptr, os.lseek(host_fd, 0, os.SEEK_CUR))
        return Errno.SUCCESS

    # --- descriptor management ----------------------------------------------

    def fd_close(self, mem: GuestView, fd: int) -> int:
        descriptor = self._get(fd)
        del self.fds[fd]
        if descriptor.owned and descriptor.host_fd is not None:
            os.close(descriptor.host_fd)
        return Errno.SUCCESS

    def fd_renumber(self, mem: GuestView, fd: int, to: int) -> int:
        descriptor = self._get(fd)
        self._get(to)
        if fd != to:
            self.fd_close(mem, to)
            self.fds[to] = descriptor
            del self.fds[fd]
        return Errno.SUCCESS

    def fd_sync(self, mem: GuestView, fd: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_SYNC)
        if host_fd is None:
            raise WasiErrno(Errno.INVAL)
        os.fsync(host_fd)
        return Errno.SUCCESS

    def fd_datasync(self, mem: GuestView, fd: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_DATASYNC)
        if host_fd is None:
            raise WasiErrno(Errno.INVAL)
        os.fdatasync(host_fd)
        return Errno.SUCCESS

    def fd_fdstat_get(self, mem: GuestView, fd: int, stat_ptr: int) -> int:
        descriptor = self._get(fd)
        flags = descriptor.flags
        if descriptor.host_fd is not None:
            flags = _fdflags_of(fcntl.fcntl(descriptor.host_fd, fcntl.F_GETFL))
        record = FdStat(
            descriptor.filetype, flags, descriptor.rights_base, descriptor.rights_inheriting
        )
        mem.write(stat_ptr, record.pack())
        return Errno.SUCCESS

    def fd_fdstat_set_flags(self, mem: GuestView, fd: int, flags: int) -> int:
        descriptor = self._get(fd, Rights.FD_FDSTAT_SET_FLAGS)
        if flags & ~0x1F:
            raise WasiErrno(Errno.INVAL)
        wanted = FdFlags(flags)
        if wanted & (FdFlags.DSYNC | FdFlags.RSYNC | FdFlags.SYNC):
            raise WasiErrno(Errno.NOTSUP)
        if descriptor.host_fd is None:
            descriptor.flags = wanted
            return Errno.SUCCESS
        current = fcntl.fcntl(descriptor.host_fd, fcntl.F_GETFL)
        updated = current & ~(os.O_APPEND | os.O_NONBLOCK)
        if wanted & FdFlags.APPEND:
            updated |= os.O_APPEND
        if wanted & FdFlags.NONBLOCK:
            updated |= os.O_NONBLOCK
        fcntl.fcntl(descriptor.host_fd, fcntl.F_SETFL, updated)
        return Errno.SUCCESS

    def fd_fdstat_set_rights(
        self, mem: GuestView, fd: int, rights_base: int, rights_inheriting: int
    ) -> int:
        descriptor = self._get(fd)
        if rights_base & ~descriptor.rights_base or (
            rights_inheriting & ~descriptor.rights_inheriting
        ):
            raise WasiErrno(Errno.NOTCAPABLE)
        descriptor.rights_base = rights_base
        descriptor.rights_inheriting = rights_inheriting
        return Errno.SUCCESS

    def fd_prestat_get(self, mem: GuestView, fd: int, prestat_ptr: int) -> int:
        name = self._preopen_name(fd)
        mem.write(prestat_ptr, abi.PRESTAT.pack(abi.PreopenType.DIR, len(name)))
        return Errno.SUCCESS

    def fd_prestat_dir_name(self, mem: GuestView, fd: int, path_ptr: int, path_len: int) -> int:
        name = self._preopen_name(fd)
        if path_len < len(name):
            raise WasiErrno(Errno.NAMETOOLONG)
        mem.write(path_ptr, name)
        return Errno.SUCCESS

    def _preopen_name(self, fd: int) -> bytes:
        descriptor = self.fds.get(fd)
        if descriptor is None or descriptor.preopen is None:
            raise WasiErrno(Errno.BADF)
        return descriptor.preopen.encode()

    def fd_advise(self, mem: GuestView, fd: int, offset: int, length: int, advice: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_ADVISE)
        try:
            how = abi.Advice(advice)
        except ValueError:
            raise WasiErrno(Errno.INVAL) from None
        if offset > _I64_MAX or length > _I64_MAX:
            raise WasiErrno(Errno.INVAL)
        if host_fd is not None and filetype_of(os.fstat(host_fd).st_mode) is Filetype.REGULAR_FILE:
            os.posix_fadvise(host_fd, offset, length, _ADVICE[how])
        return Errno.SUCCESS

    def fd_allocate(self, mem: GuestView, fd: int, offset: int, length: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_ALLOCATE)
        if host_fd is None:
            raise WasiErrno(Errno.NOTSUP)
        end = offset + length
        if end > _I64_MAX:
            raise WasiErrno(Errno.FBIG)
        st = os.fstat(host_fd)
        if not stat.S_ISREG(st.st_mode):
            raise WasiErrno(Errno.NOTSUP)
        if end > st.st_size:
            os.ftruncate(host_fd, end)
        return Errno.SUCCESS

    # --- file attributes ----------------------------------------------------

    def fd_filestat_get(self, mem: GuestView, fd: int, buf: int) -> int:
        descriptor, host_fd = self._host(fd, Rights.FD_FILESTAT_GET)
        if host_fd is None:
            record = FileStat(0, 0, descriptor.filetype, 1, 0, 0, 0, 0)
        else:
            record = filestat_of(os.fstat(host_fd))
        mem.write(buf, record.pack())
        return Errno.SUCCESS

    def fd_filestat_set_size(self, mem: GuestView, fd: int, size: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_FILESTAT_SET_SIZE)
        if host_fd is None:
            raise WasiErrno(Errno.INVAL)
        if size > _I64_MAX:
            raise WasiErrno(Errno.FBIG)
        os.ftruncate(host_fd, size)
        return Errno.SUCCESS

    def fd_filestat_set_times(
        self, mem: GuestView, fd: int, atim: int, mtim: int, fst_flags: int
    ) -> int:
        _, host_fd = self._host(fd, Rights.FD_FILESTAT_SET_TIMES)
        if host_fd is None:
            raise WasiErrno(Errno.INVAL)
        times = _new_times(os.fstat(host_fd), atim, mtim, fst_flags)
        os.utime(host_fd, ns=times)
        return Errno.SUCCESS

    def path_filestat_get(
        self, mem: GuestView, fd: int, flags: int, path: int, path_len: int, buf: int
    ) -> int:
        dir_fd = self._directory(fd, Rights.PATH_FILESTAT_GET)
        follow = bool(flags & LookupFlags.SYMLINK_FOLLOW)
        with self._resolve(mem, dir_fd, path, path_len, follow) as target:
            st = os.stat(target.name, dir_fd=target.parent_fd, follow_symlinks=False)
            if target.trailing_slash and not stat.S_ISDIR(st.st_mode):
                raise WasiErrno(Errno.NOTDIR)
        mem.write(buf, filestat_of(st).pack())
        return Errno.SUCCESS

    def path_filestat_set_times(
        self,
        mem: GuestView,
        fd: int,
        flags: int,
        path: int,
        path_len: int,
        atim: int,
        mtim: int,
        fst_flags: int,
    ) -> int:
        dir_fd = self._directory(fd, Rights.PATH_FILESTAT_SET_TIMES)
        follow = bool(flags & LookupFlags.SYMLINK_FOLLOW)
        with self._resolve(mem, dir_fd, path, path_len, follow) as target:
            st = os.stat(target.name, dir_fd=target.parent_fd, follow_symlinks=False)
            times = _new_times(st, atim, mtim, fst_flags)
            os.utime(target.name, ns=times, dir_fd=target.parent_fd, follow_symlinks=False)
        return Errno.SUCCESS

    # --- directories and paths ----------------------------------------------

    def fd_readdir(
        self, mem: GuestView, fd: int, buf: int, buf_len: int, cookie: int, bufused_ptr: int
    ) -> int:
        descriptor = self._get(fd, Rights.FD_READDIR)
        if descriptor.filetype is not Filetype.DIRECTORY or descriptor.host_fd is None:
            raise WasiErrno(Errno.NOTDIR)
        mem.check(buf, buf_len)
        mem.check(bufused_ptr, 4)
        if cookie == 0 or descriptor.listing is None:
            descriptor.listing = _list_directory(descriptor.host_fd)
        out = bytearray()
        for index in range(cookie, len(descriptor.listing)):
            if len(out) >= buf_len:
                break
            entry = descriptor.listing[index]
            out += abi.DIRENT.pack(index + 1, entry.ino, len(entry.name), entry.filetype)
            out += entry.name
        # A full buffer tells the guest there may be more: it reads again from the
        # last whole entry's d_next.
        data = bytes(out[:buf_len])
        mem.write(buf, data)
        mem.set_u32(bufused_ptr, len(data))
        return Errno.SUCCESS

    def path_create_directory(self, mem: GuestView, fd: int, path: int, path_len: int) -> int:
        dir_fd = self._directory(fd, Rights.PATH_CREATE_DIRECTORY)
        with self._resolve(mem, dir_fd, path, path_len, follow=False) as target:
            os.mkdir(target.name, 0o777, dir_fd=target.parent_fd)
        return Errno.SUCCESS

    def path_remove_directory(self, mem: GuestView, fd: int, path: int, path_len: int) -> int:
        dir_fd = self._directory(fd, Rights.PATH_REMOVE_DIRECTORY)
        with self._resolve(mem, dir_fd, path, path_len, follow=False) as target:
            os.rmdir(target.name, dir_fd=target.parent_fd)
        return Errno.SUCCESS

    def path_unlink_file(self, mem: GuestView, fd: int, path: int, path_len: int) -> int:
        dir_fd = self._directory(fd, Rights.PATH_UNLINK_FILE)
        with self._resolve(mem, dir_fd, path, path_len, follow=False) as target:
            if target.trailing_slash:
                st = os.stat(target.name, dir_fd=target.parent_fd, follow_symlinks=False)
                raise WasiErrno(Errno.ISDIR if stat.S_ISDIR(st.st_mode) else Errno.NOTDIR)
            os.unlink(target.name, dir_fd=target.parent_fd)
        return Errno.SUCCESS

    def path_rename(
        self,
        mem: GuestView,
        fd: int,
        old_path: int,
        old_path_len: int,
        new_fd: int,
        new_path: int,
        new_path_len: int,
    ) -> int:
        old_dir = self._directory(fd, Rights.PATH_RENAME_SOURCE)
        new_dir = self._directory(new_fd, Rights.PATH_RENAME_TARGET)
        with (
            self._resolve(mem, old_dir, old_path, old_path_len, follow=False) as source,
            self._resolve(mem, new_dir, new_path, new_path_len, follow=False) as destination,
        ):
            if source.trailing_slash or destination.trailing_slash:
                st = os.stat(source.name, dir_fd=source.parent_fd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    raise WasiErrno(Errno.NOTDIR)
            os.rename(
                source.name,
                destination.name,
                src_dir_fd=source.parent_fd,
                dst_dir_fd=destination.parent_fd,
            )
        return Errno.SUCCESS

    def path_link(
        self,
        mem: GuestView,
        old_fd: int,
        old_flags: int,
        old_path: int,
        old_path_len: int,
        new_fd: int,
        new_path: int,
        new_path_len: int,
    ) -> int:
        old_dir = self._directory(old_fd, Rights.PATH_LINK_SOURCE)
        new_dir = self._directory(new_fd, Rights.PATH_LINK_TARGET)
        follow = bool(old_flags & LookupFlags.SYMLINK_FOLLOW)
        with (
            self._resolve(mem, old_dir, old_path, old_path_len, follow) as source,
            self._resolve(mem, new_dir, new_path, new_path_len, follow=False) as destination,
        ):
            os.link(
                source.name,
                destination.name,
                src_dir_fd=source.parent_fd,
                dst_dir_fd=destination.parent_fd,
                follow_symlinks=False,
            )
        return Errno.SUCCESS

    def path_symlink(
        self,
        mem: GuestView,
        old_path: int,
        old_path_len: int,
        fd: int,
        new_path: int,
        new_path_len: int,
    ) -> int:
        dir_fd = self._directory(fd, Rights.PATH_SYMLINK)
        contents = mem.string(old_path, old_path_len)
        if "\0" in contents:
            raise WasiErrno(Errno.ILSEQ)
        with self._resolve(mem, dir_fd, new_path, new_path_len, follow=False) as link:
            if symlink_target_escapes(contents, link.depth):
                raise WasiErrno(Errno.NOTCAPABLE)
            os.symlink(contents, link.name, dir_fd=link.parent_fd)
        return Errno.SUCCESS

    def path_readlink(
        self,
        mem: GuestView,
        fd: int,
        path: int,
        path_len: int,
        buf: int,
        buf_len: int,
        bufused_ptr: int,
    ) -> int:
        dir_fd = self._directory(fd, Rights.PATH_READLINK)
        mem.check(buf, buf_len)
        mem.check(bufused_ptr, 4)
        with self._resolve(mem, dir_fd, path, path_len, follow=False) as link:
            contents = os.fsencode(os.readlink(link.name, dir_fd=link.parent_fd))
        if contents.startswith(b"/"):
            # An absolute target names a host path, outside every capability: Wasmtime
            # (cap-std) refuses to read such a link, with PERM, rather than reveal it.
            return Errno.PERM
        data = contents[:buf_len]
        mem.write(buf, data)
        mem.set_u32(bufused_ptr, len(data))
        return Errno.SUCCESS

    def path_open(
        self,
        mem: GuestView,
        fd: int,
        dirflags: int,
        path: int,
        path_len: int,
        oflags: int,
        rights_base: int,
        rights_inheriting: int,
        fdflags: int,
        opened_fd_ptr: int,
    ) -> int:
        open_flags = OFlags(oflags & 0xF)
        fd_flags = FdFlags(fdflags & 0x1F)
        needed: int = Rights.PATH_OPEN
        if open_flags & OFlags.CREAT:
            needed |= Rights.PATH_CREATE_FILE
        if open_flags & OFlags.TRUNC:
            needed |= Rights.PATH_FILESTAT_SET_SIZE
        dir_fd = self._directory(fd, needed)
        parent = self.fds[fd]
        mem.check(opened_fd_ptr, 4)

        # Directories are always opened read-only; a file is opened for writing when
        # the rights asked for need it, which the directory's files must allow.
        wants_write = not open_flags & OFlags.DIRECTORY and bool(
            rights_base & FILE_OPEN_WRITE_RIGHTS
            or fd_flags & FdFlags.APPEND
            or open_flags & OFlags.TRUNC
        )
        wants_read = bool(rights_base & FILE_OPEN_READ_RIGHTS)
        if wants_write and not parent.rights_inheriting & Rights.FD_WRITE:
            raise WasiErrno(Errno.NOTCAPABLE)

        flags = os.O_NOFOLLOW | os.O_CLOEXEC
        if open_flags & OFlags.CREAT:
            flags |= os.O_CREAT
        if open_flags & OFlags.EXCL:
            flags |= os.O_EXCL
        if open_flags & OFlags.TRUNC:
            flags |= os.O_TRUNC
        if fd_flags & FdFlags.APPEND:
            flags |= os.O_APPEND
        if fd_flags & FdFlags.NONBLOCK:
            flags |= os.O_NONBLOCK
        if fd_flags & FdFlags.DSYNC:
            flags |= os.O_DSYNC
        if fd_flags & (FdFlags.SYNC | FdFlags.RSYNC):
            flags |= os.O_SYNC

        # An exclusive create must not follow a final symbolic link, whatever dirflags say.
        exclusive = bool(open_flags & OFlags.CREAT and open_flags & OFlags.EXCL)
        follow = bool(dirflags & LookupFlags.SYMLINK_FOLLOW) and not exclusive
        with self._resolve(mem, dir_fd, path, path_len, follow) as target:
            if open_flags & OFlags.DIRECTORY or target.trailing_slash:
                flags |= os.O_DIRECTORY | os.O_RDONLY
            elif wants_write:
                flags |= os.O_RDWR if wants_read else os.O_WRONLY
            else:
                flags |= os.O_RDONLY
            host_fd = os.open(target.name, flags, 0o666, dir_fd=target.parent_fd)
        try:
            filetype = filetype_of(os.fstat(host_fd).st_mode)
            kind_rights = DIRECTORY_RIGHTS if filetype is Filetype.DIRECTORY else FILE_RIGHTS
            descriptor = Descriptor(
                host_fd,
                filetype,
                rights_base & parent.rights_inheriting & kind_rights,
                rights_inheriting & parent.rights_inheriting,
                owned=True,
            )
            number = self._allocate(descriptor)
        except BaseException:
            os.close(host_fd)
            raise
        mem.set_u32(opened_fd_ptr, number)
        return Errno.SUCCESS

    # --- polling ------------------------------------------------------------

    def poll_oneoff(
        self, mem: GuestView, in_ptr: int, out_ptr: int, nsubscriptions: int, nevents_ptr: int
    ) -> int:
        if nsubscriptions == 0:
            raise WasiErrno(Errno.INVAL)
        raw = mem.read(in_ptr, abi.SUBSCRIPTION_SIZE * nsubscriptions)
        mem.check(out_ptr, abi.EVENT.size * nsubscriptions)
        mem.check(nevents_ptr, 4)

        ready: list[bytes] = []
        clocks: list[tuple[int, int]] = []  # (userdata, deadline on the monotonic clock)
        readers: dict[int, list[int]] = {}  # host fd -> userdata waiting to read
        writers: dict[int, list[int]] = {}
        now = time.monotonic_ns()
        for index in range(nsubscriptions):
            base = index * abi.SUBSCRIPTION_SIZE
            userdata, tag = abi.SUBSCRIPTION_HEAD.unpack_from(raw, base)
            contents = base + abi.SUBSCRIPTION_CONTENTS_OFFSET
            if tag == EventType.CLOCK:
                clock_id, timeout, _precision, flags = abi.SUBSCRIPTION_CLOCK.unpack_from(
                    raw, contents
                )
                try:
                    clock = _CLOCKS[ClockId(clock_id)]
                except ValueError:
                    ready.append(_event(userdata, Errno.INVAL, EventType.CLOCK))
                    continue
                delay = timeout
                if flags & SubclockFlags.SUBSCRIPTION_CLOCK_ABSTIME:
                    delay = timeout - time.clock_gettime_ns(clock)
                clocks.append((userdata, now + max(0, delay)))
            elif tag in (EventType.FD_READ, EventType.FD_WRITE):
                kind = EventType(tag)
                (fd,) = abi.SUBSCRIPTION_FD_READWRITE.unpack_from(raw, contents)
                descriptor = self.fds.get(fd)
                if descriptor is None:
                    ready.append(_event(userdata, Errno.BADF, kind))
                elif not descriptor.rights_base & Rights.POLL_FD_READWRITE:
                    ready.append(_event(userdata, Errno.NOTCAPABLE, kind))
                elif descriptor.host_fd is None:
                    ready.append(_event(userdata, Errno.SUCCESS, kind))
                elif descriptor.filetype is Filetype.REGULAR_FILE:
                    ready.append(_event(userdata, Errno.SUCCESS, kind, _readable(descriptor, kind)))
                else:
                    waiting = readers if kind is EventType.FD_READ else writers
                    waiting.setdefault(descriptor.host_fd, []).append(userdata)
            else:
                raise WasiErrno(Errno.INVAL)

        while True:
            now = time.monotonic_ns()
            ready += [_event(u, Errno.SUCCESS, EventType.CLOCK) for u, d in clocks if d <= now]
            if ready:
                break
            deadline = min((d for _, d in clocks), default=None)
            if not (readers or writers):
                assert deadline is not None  # every subscription is a pending clock
                time.sleep(min(deadline - now, _MAX_WAIT_NS) / 1e9)
                continue
            # poll() counts whole milliseconds: round up so a clock is not reported early.
            timeout_ms = None
            if deadline is not None:
                timeout_ms = -(-min(deadline - now, _MAX_WAIT_NS) // 1_000_000)
            ready += _poll_host(readers, writers, timeout_ms)

        mem.write(out_ptr, b"".join(ready))
        mem.set_u32(nevents_ptr, len(ready))
        return Errno.SUCCESS

    # --- process ------------------------------------------------------------

    def proc_exit(self, mem: GuestView, code: int) -> int:
        raise WasiExit(code)

    def proc_raise(self, mem: GuestView, signal: int) -> int:
        return Errno.NOSYS

    def sched_yield(self, mem: GuestView) -> int:
        os.sched_yield()
        return Errno.SUCCESS

    # --- sockets (not supported) --------------------------------------------

    def sock_accept(self, mem: GuestView, fd: int, flags: int, result_fd_ptr: int) -> int:
        return Errno.NOSYS

    def sock_recv(
        self,
        mem: GuestView,
        fd: int,
        ri_data: int,
        ri_data_len: int,
        ri_flags: int,
        ro_datalen_ptr: int,
        ro_flags_ptr: int,
    ) -> int:
        return Errno.NOSYS

    def sock_send(
        self,
        mem: GuestView,
        fd: int,
        si_data: int,
        si_data_len: int,
        si_flags: int,
        so_datalen_ptr: int,
    ) -> int:
        return Errno.NOSYS

    def sock_shutdown(self, mem: GuestView, fd: int, how: int) -> int:
        return Errno.NOSYS


def _event(userdata: int, error: Errno, kind: EventType, nbytes: int = 0) -> bytes:
    return abi.EVENT.pack(userdata, error, kind, nbytes, 0)


def _poll_host(
    readers: dict[int, list[int]], writers: dict[int, list[int]], timeout_ms: int | None
) -> list[bytes]:
    """Waits up to ``timeout_ms`` (forever if ``None``) for host descriptors to become
    readable or writable; returns events for the subscriptions (userdata) on them."""
    poller = select.poll()
    for host_fd in readers.keys() | writers.keys():
        mask = (select.POLLIN if host_fd in readers else 0) | (
            select.POLLOUT if host_fd in writers else 0
        )
        poller.register(host_fd, mask)
    events = []
    for host_fd, revents in poller.poll(timeout_ms):
        # An error or hang-up makes the descriptor ready both ways: the guest learns
        # what happened from its next read or write.
        failed = revents & (select.POLLERR | select.POLLHUP | select.POLLNVAL)
        if revents & select.POLLIN or failed:
            events += [
                _event(u, Errno.SUCCESS, EventType.FD_READ) for u in readers.get(host_fd, [])
            ]
        if revents & select.POLLOUT or failed:
            events += [
                _event(u, Errno.SUCCESS, EventType.FD_WRITE) for u in writers.get(host_fd, [])
            ]
    return events


def _readable(descriptor: Descriptor, kind: EventType) -> int:
    """For a regular file: the bytes left to read after the current position."""
    if kind is not EventType.FD_READ or descriptor.host_fd is None:
        return 0
    size = os.fstat(descriptor.host_fd).st_size
    return max(0, size - os.lseek(descriptor.host_fd, 0, os.SEEK_CUR))


def _fdflags_of(host_flags: int) -> FdFlags:
    flags = FdFlags(0)
    if host_flags & os.O_APPEND:
        flags |= FdFlags.APPEND
    if host_flags & os.O_NONBLOCK:
        flags |= FdFlags.NONBLOCK
    if host_flags & os.O_SYNC == os.O_SYNC:
        flags |= FdFlags.SYNC
    elif host_flags & os.O_DSYNC:
        flags |= FdFlags.DSYNC
    return flags


def _new_times(st: os.stat_result, atim: int, mtim: int, fst_flags: int) -> tuple[int, int]:
    """The (atime, mtime) in nanoseconds that ``*_set_times`` asks for."""
    flags = FstFlags(fst_flags & 0xF)
    if fst_flags & ~0xF:
        raise WasiErrno(Errno.INVAL)
    if flags & FstFlags.ATIM and flags & FstFlags.ATIM_NOW:
        raise WasiErrno(Errno.INVAL)
    if flags & FstFlags.MTIM and flags & FstFlags.MTIM_NOW:
        raise WasiErrno(Errno.INVAL)
    now = time.time_ns()
    atime = st.st_atime_ns
    if flags & FstFlags.ATIM:
        atime = atim
    elif flags & FstFlags.ATIM_NOW:
        atime = now
    mtime = st.st_mtime_ns
    if flags & FstFlags.MTIM:
        mtime = mtim
    elif flags & FstFlags.MTIM_NOW:
        mtime = now
    if atime > _I64_MAX or mtime > _I64_MAX:
        raise WasiErrno(Errno.INVAL)
    return atime, mtime


def _list_directory(host_fd: int) -> list[DirEntry]:
    """The directory's entries: ``.``, ``..``, then the rest sorted by name."""
    entries = [
        DirEntry(b".", os.fstat(host_fd).st_ino, Filetype.DIRECTORY),
        DirEntry(b"..", os.stat("..", dir_fd=host_fd).st_ino, Filetype.DIRECTORY),
    ]
    found: list[DirEntry] = []
    with os.scandir(host_fd) as it:
        for entry in it:
            if entry.is_symlink():
                filetype = Filetype.SYMBOLIC_LINK
            elif entry.is_dir(follow_symlinks=False):
                filetype = Filetype.DIRECTORY
            elif entry.is_file(follow_symlinks=False):
                filetype = Filetype.REGULAR_FILE
            else:
                filetype = filetype_of(entry.stat(follow_symlinks=False).st_mode)
            found.append(DirEntry(os.fsencode(entry.name), entry.inode(), filetype))
    found.sort(key=lambda e: e.name)
    return entries + found


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


def _read_into(
    mem: GuestView, iovs: int, iovs_len: int, nread_ptr: int, read: Callable[[int], bytes]
) -> int:
    """Read up to the iovecs' total size with ``read(n)``, scatter it, store the count."""
    vectors = mem.iovecs(iovs, iovs_len)
    mem.check(nread_ptr, 4)
    wanted = min(sum(n for _, n in vectors), MAX_READ)
    data = read(wanted) if wanted else b""
    mem.scatter(vectors, data)
    mem.set_u32(nread_ptr, len(data))
    return Errno.SUCCESS


def _write_from(
    mem: GuestView, iovs: int, iovs_len: int, nwritten_ptr: int, write: Callable[[bytes], int]
) -> int:
    """Gather the iovecs, ``write`` them, store the count written."""
    data = mem.gather(iovs, iovs_len)
    mem.check(nwritten_ptr, 4)
    mem.set_u32(nwritten_ptr, write(data) if data else 0)
    return Errno.SUCCESS
