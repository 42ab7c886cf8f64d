"""The guest's descriptor table: its entries, the lookups every WASI call makes on it,
and the host-metadata conversions the ``fd_*`` and ``path_*`` calls share.

``DescriptorTable`` is the base of each group of calls (``fd_calls``, ``path_calls``,
``poll_calls``); ``WasiContext`` fills the table from a ``WasiConfig``.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field

from cwasm.wasi.abi import Errno, FdFlags, FileStat, Filetype, FstFlags
from cwasm.wasi.memory import GuestView
from cwasm.wasi.sandbox import ResolvedPath, WasiErrno, resolve

#: The largest signed 64-bit value: the host's offsets, sizes and nanosecond timestamps
#: are signed, so WASI's u64 values above it are refused.
I64_MAX = (1 << 63) - 1


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


class DescriptorTable:
    """The descriptor numbers a guest sees, each mapped to a ``Descriptor``.

    The lookups raise ``WasiErrno`` (``BADF``, ``NOTDIR``, ``NOTCAPABLE``) for the
    dispatcher to return.
    """

    fds: dict[int, Descriptor]

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


def filetype_of(mode: int) -> Filetype:
    """The WASI file type of a host ``st_mode``."""
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
    """The ``$filestat`` record of a host ``stat`` result."""
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


def new_times(st: os.stat_result, atim: int, mtim: int, fst_flags: int) -> tuple[int, int]:
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
    if atime > I64_MAX or mtime > I64_MAX:
        raise WasiErrno(Errno.INVAL)
    return atime, mtime
