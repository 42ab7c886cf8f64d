"""The ``path_*`` calls: opening, creating, removing, renaming and linking files and
directories, and their attributes, by a path relative to a directory descriptor.

Every path is resolved by ``cwasm.wasi.sandbox`` so that it stays inside the
directory it is relative to.
"""

from __future__ import annotations

import os
import stat

from cwasm.wasi.abi import (
    DIRECTORY_RIGHTS,
    FILE_OPEN_READ_RIGHTS,
    FILE_OPEN_WRITE_RIGHTS,
    FILE_RIGHTS,
    Errno,
    FdFlags,
    Filetype,
    LookupFlags,
    OFlags,
    Rights,
)
from cwasm.wasi.descriptors import (
    Descriptor,
    DescriptorTable,
    filestat_of,
    filetype_of,
    new_times,
)
from cwasm.wasi.memory import GuestView
from cwasm.wasi.sandbox import WasiErrno, symlink_target_escapes


class PathCalls(DescriptorTable):
    """The ``path_*`` functions of ``wasi_snapshot_preview1``, one method each."""

    # --- attributes -----------------------------------------------------------

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
            times = new_times(st, atim, mtim, fst_flags)
            os.utime(target.name, ns=times, dir_fd=target.parent_fd, follow_symlinks=False)
        return Errno.SUCCESS

    # --- files, directories and links ---------------------------------------

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
