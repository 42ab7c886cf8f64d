"""The ``fd_*`` calls: reading, writing, seeking, descriptor flags and rights, preopen
discovery, file attributes and directory listings, on an open descriptor."""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Callable

from cwasm.wasi import abi
from cwasm.wasi.abi import Errno, FdFlags, FdStat, FileStat, Filetype, Rights, Whence
from cwasm.wasi.descriptors import (
    I64_MAX,
    DescriptorTable,
    DirEntry,
    filestat_of,
    filetype_of,
    new_times,
)
from cwasm.wasi.memory import GuestView
from cwasm.wasi.sandbox import WasiErrno

#: The most bytes one read moves; larger requests are short reads, as POSIX allows.
MAX_READ = 64 << 20

_ADVICE = {
    abi.Advice.NORMAL: os.POSIX_FADV_NORMAL,
    abi.Advice.SEQUENTIAL: os.POSIX_FADV_SEQUENTIAL,
    abi.Advice.RANDOM: os.POSIX_FADV_RANDOM,
    abi.Advice.WILLNEED: os.POSIX_FADV_WILLNEED,
    abi.Advice.DONTNEED: os.POSIX_FADV_DONTNEED,
    abi.Advice.NOREUSE: os.POSIX_FADV_NOREUSE,
}

_WHENCE = {Whence.SET: os.SEEK_SET, Whence.CUR: os.SEEK_CUR, Whence.END: os.SEEK_END}


class FdCalls(DescriptorTable):
    """The ``fd_*`` functions of ``wasi_snapshot_preview1``, one method each."""

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
        if offset > I64_MAX:
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
        if offset > I64_MAX:
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
        if offset > I64_MAX or length > I64_MAX:
            raise WasiErrno(Errno.INVAL)
        if host_fd is not None and filetype_of(os.fstat(host_fd).st_mode) is Filetype.REGULAR_FILE:
            os.posix_fadvise(host_fd, offset, length, _ADVICE[how])
        return Errno.SUCCESS

    def fd_allocate(self, mem: GuestView, fd: int, offset: int, length: int) -> int:
        _, host_fd = self._host(fd, Rights.FD_ALLOCATE)
        if host_fd is None:
            raise WasiErrno(Errno.NOTSUP)
        end = offset + length
        if end > I64_MAX:
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
        if size > I64_MAX:
            raise WasiErrno(Errno.FBIG)
        os.ftruncate(host_fd, size)
        return Errno.SUCCESS

    def fd_filestat_set_times(
        self, mem: GuestView, fd: int, atim: int, mtim: int, fst_flags: int
    ) -> int:
        _, host_fd = self._host(fd, Rights.FD_FILESTAT_SET_TIMES)
        if host_fd is None:
            raise WasiErrno(Errno.INVAL)
        times = new_times(os.fstat(host_fd), atim, mtim, fst_flags)
        os.utime(host_fd, ns=times)
        return Errno.SUCCESS

    # --- directories -------------------------------------------------------

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


def _signed64(value: int) -> int:
    return value - (1 << 64) if value > I64_MAX else value


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
