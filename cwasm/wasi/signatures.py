"""The wasm-level signature of every ``wasi_snapshot_preview1`` function.

A linker registers each entry of ``WASI_FUNCTIONS`` as a host function
importable as ``(import "wasi_snapshot_preview1" NAME ...)`` with the given
``FuncType``; calls go to ``WasiContext.call(NAME, memory, *args)``, which runs
the ``WasiContext`` method of the same name. Pointers, lengths, descriptors and
flags are ``i32``; 64-bit quantities (offsets, sizes, timestamps, rights,
cookies) are ``i64``; every function but ``proc_exit`` returns its ``$errno``
as an ``i32``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cwasm.wasm.types import FuncType, ValType


@dataclass(frozen=True, slots=True)
class WasiFunction:
    """One WASI import: its name, wasm type and the ``WasiContext`` method implementing it."""

    name: str
    type: FuncType
    method: str


_LETTERS = {"i": ValType.I32, "I": ValType.I64}

# name: parameters ">" results, one letter per value: i = i32, I = i64.
_SIGNATURES = {
    "args_get": "ii>i",
    "args_sizes_get": "ii>i",
    "environ_get": "ii>i",
    "environ_sizes_get": "ii>i",
    "clock_res_get": "ii>i",
    "clock_time_get": "iIi>i",
    "fd_advise": "iIIi>i",
    "fd_allocate": "iII>i",
    "fd_close": "i>i",
    "fd_datasync": "i>i",
    "fd_fdstat_get": "ii>i",
    "fd_fdstat_set_flags": "ii>i",
    "fd_fdstat_set_rights": "iII>i",
    "fd_filestat_get": "ii>i",
    "fd_filestat_set_size": "iI>i",
    "fd_filestat_set_times": "iIIi>i",
    "fd_pread": "iiiIi>i",
    "fd_prestat_get": "ii>i",
    "fd_prestat_dir_name": "iii>i",
    "fd_pwrite": "iiiIi>i",
    "fd_read": "iiii>i",
    "fd_readdir": "iiiIi>i",
    "fd_renumber": "ii>i",
    "fd_seek": "iIii>i",
    "fd_sync": "i>i",
    "fd_tell": "ii>i",
    "fd_write": "iiii>i",
    "path_create_directory": "iii>i",
    "path_filestat_get": "iiiii>i",
    "path_filestat_set_times": "iiiiIIi>i",
    "path_link": "iiiiiii>i",
    "path_open": "iiiiiIIii>i",
    "path_readlink": "iiiiii>i",
    "path_remove_directory": "iii>i",
    "path_rename": "iiiiii>i",
    "path_symlink": "iiiii>i",
    "path_unlink_file": "iii>i",
    "poll_oneoff": "iiii>i",
    "proc_exit": "i>",
    "proc_raise": "i>i",
    "sched_yield": ">i",
    "random_get": "ii>i",
    "sock_accept": "iii>i",
    "sock_recv": "iiiiii>i",
    "sock_send": "iiiii>i",
    "sock_shutdown": "ii>i",
}


def _function(name: str, signature: str) -> WasiFunction:
    params, results = signature.split(">")
    return WasiFunction(
        name,
        FuncType(tuple(_LETTERS[c] for c in params), tuple(_LETTERS[c] for c in results)),
        name,
    )


WASI_FUNCTIONS: dict[str, WasiFunction] = {
    name: _function(name, signature) for name, signature in _SIGNATURES.items()
}
