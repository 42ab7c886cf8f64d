"""The WASI preview1 ABI: enumerations, flag sets and byte layouts of its records.

Values and offsets follow the ``wasi_snapshot_preview1`` witx definitions (as
generated into wasi-libc's ``wasi/api.h``). Every record is little-endian; the
``struct`` formats below spell out each record's padding so that their sizes
equal the witx sizes.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

WASI_MODULE = "wasi_snapshot_preview1"


class Errno(enum.IntEnum):
    """``$errno``: the result of every WASI call that can fail."""

    SUCCESS = 0
    TOOBIG = 1  # E2BIG
    ACCES = 2
    ADDRINUSE = 3
    ADDRNOTAVAIL = 4
    AFNOSUPPORT = 5
    AGAIN = 6
    ALREADY = 7
    BADF = 8
    BADMSG = 9
    BUSY = 10
    CANCELED = 11
    CHILD = 12
    CONNABORTED = 13
    CONNREFUSED = 14
    CONNRESET = 15
    DEADLK = 16
    DESTADDRREQ = 17
    DOM = 18
    DQUOT = 19
    EXIST = 20
    FAULT = 21
    FBIG = 22
    HOSTUNREACH = 23
    IDRM = 24
    ILSEQ = 25
    INPROGRESS = 26
    INTR = 27
    INVAL = 28
    IO = 29
    ISCONN = 30
    ISDIR = 31
    LOOP = 32
    MFILE = 33
    MLINK = 34
    MSGSIZE = 35
    MULTIHOP = 36
    NAMETOOLONG = 37
    NETDOWN = 38
    NETRESET = 39
    NETUNREACH = 40
    NFILE = 41
    NOBUFS = 42
    NODEV = 43
    NOENT = 44
    NOEXEC = 45
    NOLCK = 46
    NOLINK = 47
    NOMEM = 48
    NOMSG = 49
    NOPROTOOPT = 50
    NOSPC = 51
    NOSYS = 52
    NOTCONN = 53
    NOTDIR = 54
    NOTEMPTY = 55
    NOTRECOVERABLE = 56
    NOTSOCK = 57
    NOTSUP = 58
    NOTTY = 59
    NXIO = 60
    OVERFLOW = 61
    OWNERDEAD = 62
    PERM = 63
    PIPE = 64
    PROTO = 65
    PROTONOSUPPORT = 66
    PROTOTYPE = 67
    RANGE = 68
    ROFS = 69
    SPIPE = 70
    SRCH = 71
    STALE = 72
    TIMEDOUT = 73
    TXTBSY = 74
    XDEV = 75
    NOTCAPABLE = 76


class Filetype(enum.IntEnum):
    """``$filetype`` (u8)."""

    UNKNOWN = 0
    BLOCK_DEVICE = 1
    CHARACTER_DEVICE = 2
    DIRECTORY = 3
    REGULAR_FILE = 4
    SOCKET_DGRAM = 5
    SOCKET_STREAM = 6
    SYMBOLIC_LINK = 7


class Whence(enum.IntEnum):
    """``$whence`` (u8)."""

    SET = 0
    CUR = 1
    END = 2


class ClockId(enum.IntEnum):
    """``$clockid`` (u32)."""

    REALTIME = 0
    MONOTONIC = 1
    PROCESS_CPUTIME_ID = 2
    THREAD_CPUTIME_ID = 3


class Advice(enum.IntEnum):
    """``$advice`` (u8)."""

    NORMAL = 0
    SEQUENTIAL = 1
    RANDOM = 2
    WILLNEED = 3
    DONTNEED = 4
    NOREUSE = 5


class EventType(enum.IntEnum):
    """``$eventtype`` (u8): the tag of a subscription's union."""

    CLOCK = 0
    FD_READ = 1
    FD_WRITE = 2


class PreopenType(enum.IntEnum):
    """``$preopentype`` (u8)."""

    DIR = 0


class OFlags(enum.IntFlag):
    """``$oflags`` (u16): how ``path_open`` creates or truncates."""

    CREAT = 1 << 0
    DIRECTORY = 1 << 1
    EXCL = 1 << 2
    TRUNC = 1 << 3


class FdFlags(enum.IntFlag):
    """``$fdflags`` (u16)."""

    APPEND = 1 << 0
    DSYNC = 1 << 1
    NONBLOCK = 1 << 2
    RSYNC = 1 << 3
    SYNC = 1 << 4


class LookupFlags(enum.IntFlag):
    """``$lookupflags`` (u32)."""

    SYMLINK_FOLLOW = 1 << 0


class FstFlags(enum.IntFlag):
    """``$fstflags`` (u16): which timestamps ``*_set_times`` changes."""

    ATIM = 1 << 0
    ATIM_NOW = 1 << 1
    MTIM = 1 << 2
    MTIM_NOW = 1 << 3


class SubclockFlags(enum.IntFlag):
    """``$subclockflags`` (u16)."""

    SUBSCRIPTION_CLOCK_ABSTIME = 1 << 0


class EventRwFlags(enum.IntFlag):
    """``$eventrwflags`` (u16)."""

    FD_READWRITE_HANGUP = 1 << 0


class Rights(enum.IntFlag):
    """``$rights`` (u64): the operations a descriptor permits."""

    FD_DATASYNC = 1 << 0
    FD_READ = 1 << 1
    FD_SEEK = 1 << 2
    FD_FDSTAT_SET_FLAGS = 1 << 3
    FD_SYNC = 1 << 4
    FD_TELL = 1 << 5
    FD_WRITE = 1 << 6
    FD_ADVISE = 1 << 7
    FD_ALLOCATE = 1 << 8
    PATH_CREATE_DIRECTORY = 1 << 9
    PATH_CREATE_FILE = 1 << 10
    PATH_LINK_SOURCE = 1 << 11
    PATH_LINK_TARGET = 1 << 12
    PATH_OPEN = 1 << 13
    FD_READDIR = 1 << 14
    PATH_READLINK = 1 << 15
    PATH_RENAME_SOURCE = 1 << 16
    PATH_RENAME_TARGET = 1 << 17
    PATH_FILESTAT_GET = 1 << 18
    PATH_FILESTAT_SET_SIZE = 1 << 19
    PATH_FILESTAT_SET_TIMES = 1 << 20
    FD_FILESTAT_GET = 1 << 21
    FD_FILESTAT_SET_SIZE = 1 << 22
    FD_FILESTAT_SET_TIMES = 1 << 23
    PATH_SYMLINK = 1 << 24
    PATH_REMOVE_DIRECTORY = 1 << 25
    PATH_UNLINK_FILE = 1 << 26
    POLL_FD_READWRITE = 1 << 27
    SOCK_SHUTDOWN = 1 << 28
    SOCK_ACCEPT = 1 << 29


R = Rights

#: Everything a regular file descriptor may do.
FILE_RIGHTS = (
    R.FD_DATASYNC
    | R.FD_READ
    | R.FD_SEEK
    | R.FD_FDSTAT_SET_FLAGS
    | R.FD_SYNC
    | R.FD_TELL
    | R.FD_WRITE
    | R.FD_ADVISE
    | R.FD_ALLOCATE
    | R.FD_FILESTAT_GET
    | R.FD_FILESTAT_SET_SIZE
    | R.FD_FILESTAT_SET_TIMES
    | R.POLL_FD_READWRITE
)

#: Everything a directory descriptor may do itself.
DIRECTORY_RIGHTS = (
    R.FD_FDSTAT_SET_FLAGS
    | R.FD_SYNC
    | R.FD_ADVISE
    | R.PATH_CREATE_DIRECTORY
    | R.PATH_CREATE_FILE
    | R.PATH_LINK_SOURCE
    | R.PATH_LINK_TARGET
    | R.PATH_OPEN
    | R.FD_READDIR
    | R.PATH_READLINK
    | R.PATH_RENAME_SOURCE
    | R.PATH_RENAME_TARGET
    | R.PATH_FILESTAT_GET
    | R.PATH_FILESTAT_SET_SIZE
    | R.PATH_FILESTAT_SET_TIMES
    | R.FD_FILESTAT_GET
    | R.FD_FILESTAT_SET_TIMES
    | R.PATH_SYMLINK
    | R.PATH_REMOVE_DIRECTORY
    | R.PATH_UNLINK_FILE
)

#: The rights of a stdio descriptor that is not a regular file (a pipe, a terminal, a
#: null stream), besides ``FD_READ`` or ``FD_WRITE`` for its side.
STREAM_RIGHTS = R.FD_FDSTAT_SET_FLAGS | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE

#: The rights that modify a directory's contents (absent from read-only preopens).
DIRECTORY_WRITE_RIGHTS = (
    R.PATH_CREATE_DIRECTORY
    | R.PATH_CREATE_FILE
    | R.PATH_LINK_TARGET
    | R.PATH_RENAME_SOURCE
    | R.PATH_RENAME_TARGET
    | R.PATH_FILESTAT_SET_SIZE
    | R.PATH_FILESTAT_SET_TIMES
    | R.FD_FILESTAT_SET_TIMES
    | R.PATH_SYMLINK
    | R.PATH_REMOVE_DIRECTORY
    | R.PATH_UNLINK_FILE
)

#: The rights that modify a file's contents or metadata.
FILE_WRITE_RIGHTS = (
    R.FD_DATASYNC | R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE | R.FD_FILESTAT_SET_TIMES
)

#: The rights that need the host file opened for writing.
FILE_OPEN_WRITE_RIGHTS = R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE

#: The rights that need the host file opened for reading.
FILE_OPEN_READ_RIGHTS = R.FD_READ | R.FD_READDIR

ALL_RIGHTS = (1 << 30) - 1

# --- Record layouts -------------------------------------------------------

#: ``$iovec`` / ``$ciovec``: buf (u32 pointer) @0, buf_len (u32) @4; size 8.
IOVEC = struct.Struct("<II")
#: ``$fdstat``: fs_filetype u8 @0, fs_flags u16 @2, fs_rights_base u64 @8,
#: fs_rights_inheriting u64 @16; size 24.
FDSTAT = struct.Struct("<BxHxxxxQQ")
#: ``$filestat``: dev u64 @0, ino u64 @8, filetype u8 @16, nlink u64 @24, size u64 @32,
#: atim u64 @40, mtim u64 @48, ctim u64 @56; size 64.
FILESTAT = struct.Struct("<QQBxxxxxxxQQQQQ")
#: ``$prestat``: tag u8 @0, then the ``dir`` variant's pr_name_len u32 @4; size 8.
PRESTAT = struct.Struct("<BxxxI")
#: ``$dirent`` header: d_next u64 @0, d_ino u64 @8, d_namlen u32 @16, d_type u8 @20;
#: size 24, followed by the name's bytes.
DIRENT = struct.Struct("<QQIBxxx")
#: ``$subscription``: userdata u64 @0, tag u8 @8, variant contents @16; size 48.
SUBSCRIPTION_HEAD = struct.Struct("<QB")
SUBSCRIPTION_SIZE = 48
SUBSCRIPTION_CONTENTS_OFFSET = 16
#: ``$subscription_clock`` (at offset 16): id u32 @0, timeout u64 @8, precision u64 @16,
#: flags u16 @24.
SUBSCRIPTION_CLOCK = struct.Struct("<IxxxxQQH")
#: ``$subscription_fd_readwrite`` (at offset 16): file_descriptor u32 @0.
SUBSCRIPTION_FD_READWRITE = struct.Struct("<I")
#: ``$event``: userdata u64 @0, error u16 @8, type u8 @10, fd_readwrite.nbytes u64 @16,
#: fd_readwrite.flags u16 @24; size 32.
EVENT = struct.Struct("<QHBxxxxxQHxxxxxx")

assert IOVEC.size == 8
assert FDSTAT.size == 24
assert FILESTAT.size == 64
assert PRESTAT.size == 8
assert DIRENT.size == 24
assert SUBSCRIPTION_CONTENTS_OFFSET + SUBSCRIPTION_CLOCK.size <= SUBSCRIPTION_SIZE
assert EVENT.size == 32


@dataclass(frozen=True, slots=True)
class FileStat:
    """A ``$filestat`` record."""

    dev: int
    ino: int
    filetype: Filetype
    nlink: int
    size: int
    atim: int
    mtim: int
    ctim: int

    def pack(self) -> bytes:
        return FILESTAT.pack(
            self.dev,
            self.ino,
            self.filetype,
            self.nlink,
            self.size,
            self.atim,
            self.mtim,
            self.ctim,
        )


@dataclass(frozen=True, slots=True)
class FdStat:
    """A ``$fdstat`` record."""

    filetype: Filetype
    flags: FdFlags
    rights_base: int
    rights_inheriting: int

    def pack(self) -> bytes:
        return FDSTAT.pack(self.filetype, self.flags, self.rights_base, self.rights_inheriting)
