"""Translating host ``OSError`` errno values into WASI ``$errno`` values."""

from __future__ import annotations

import errno

from cwasm.wasi.abi import Errno

# Host errno names paired with the WASI errno of the same meaning. Names a host
# does not define are skipped; EWOULDBLOCK and EOPNOTSUPP alias EAGAIN and
# ENOTSUP on Linux.
_PAIRS = {
    "E2BIG": Errno.TOOBIG,
    "EACCES": Errno.ACCES,
    "EADDRINUSE": Errno.ADDRINUSE,
    "EADDRNOTAVAIL": Errno.ADDRNOTAVAIL,
    "EAFNOSUPPORT": Errno.AFNOSUPPORT,
    "EAGAIN": Errno.AGAIN,
    "EALREADY": Errno.ALREADY,
    "EBADF": Errno.BADF,
    "EBADMSG": Errno.BADMSG,
    "EBUSY": Errno.BUSY,
    "ECANCELED": Errno.CANCELED,
    "ECHILD": Errno.CHILD,
    "ECONNABORTED": Errno.CONNABORTED,
    "ECONNREFUSED": Errno.CONNREFUSED,
    "ECONNRESET": Errno.CONNRESET,
    "EDEADLK": Errno.DEADLK,
    "EDESTADDRREQ": Errno.DESTADDRREQ,
    "EDOM": Errno.DOM,
    "EDQUOT": Errno.DQUOT,
    "EEXIST": Errno.EXIST,
    "EFAULT": Errno.FAULT,
    "EFBIG": Errno.FBIG,
    "EHOSTUNREACH": Errno.HOSTUNREACH,
    "EIDRM": Errno.IDRM,
    "EILSEQ": Errno.ILSEQ,
    "EINPROGRESS": Errno.INPROGRESS,
    "EINTR": Errno.INTR,
    "EINVAL": Errno.INVAL,
    "EIO": Errno.IO,
    "EISCONN": Errno.ISCONN,
    "EISDIR": Errno.ISDIR,
    "ELOOP": Errno.LOOP,
    "EMFILE": Errno.MFILE,
    "EMLINK": Errno.MLINK,
    "EMSGSIZE": Errno.MSGSIZE,
    "EMULTIHOP": Errno.MULTIHOP,
    "ENAMETOOLONG": Errno.NAMETOOLONG,
    "ENETDOWN": Errno.NETDOWN,
    "ENETRESET": Errno.NETRESET,
    "ENETUNREACH": Errno.NETUNREACH,
    "ENFILE": Errno.NFILE,
    "ENOBUFS": Errno.NOBUFS,
    "ENODEV": Errno.NODEV,
    "ENOENT": Errno.NOENT,
    "ENOEXEC": Errno.NOEXEC,
    "ENOLCK": Errno.NOLCK,
    "ENOLINK": Errno.NOLINK,
    "ENOMEM": Errno.NOMEM,
    "ENOMSG": Errno.NOMSG,
    "ENOPROTOOPT": Errno.NOPROTOOPT,
    "ENOSPC": Errno.NOSPC,
    "ENOSYS": Errno.NOSYS,
    "ENOTCONN": Errno.NOTCONN,
    "ENOTDIR": Errno.NOTDIR,
    "ENOTEMPTY": Errno.NOTEMPTY,
    "ENOTRECOVERABLE": Errno.NOTRECOVERABLE,
    "ENOTSOCK": Errno.NOTSOCK,
    "ENOTSUP": Errno.NOTSUP,
    "ENOTTY": Errno.NOTTY,
    "ENXIO": Errno.NXIO,
    "EOVERFLOW": Errno.OVERFLOW,
    "EOWNERDEAD": Errno.OWNERDEAD,
    "EPERM": Errno.PERM,
    "EPIPE": Errno.PIPE,
    "EPROTO": Errno.PROTO,
    "EPROTONOSUPPORT": Errno.PROTONOSUPPORT,
    "EPROTOTYPE": Errno.PROTOTYPE,
    "ERANGE": Errno.RANGE,
    "EROFS": Errno.ROFS,
    "ESPIPE": Errno.SPIPE,
    "ESRCH": Errno.SRCH,
    "ESTALE": Errno.STALE,
    "ETIMEDOUT": Errno.TIMEDOUT,
    "ETXTBSY": Errno.TXTBSY,
    "EXDEV": Errno.XDEV,
}

HOST_TO_WASI: dict[int, Errno] = {
    getattr(errno, name): wasi for name, wasi in _PAIRS.items() if hasattr(errno, name)
}


def errno_from_os(error: OSError) -> Errno:
    """The WASI errno for a host failure (``EIO`` when there is no counterpart)."""
    if error.errno is None:
        return Errno.IO
    return HOST_TO_WASI.get(error.errno, Errno.IO)
