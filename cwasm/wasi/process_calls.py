"""The calls about the program rather than its files: arguments, environment, clocks,
randomness, ``proc_exit``, ``proc_raise`` and ``sched_yield``."""

from __future__ import annotations

import os
import time

from cwasm.wasi.abi import ClockId, Errno
from cwasm.wasi.errors import WasiCallError
from cwasm.wasi.memory import GuestView
from cwasm.wasi.sandbox import WasiErrno

#: The host clock behind each WASI clock.
HOST_CLOCKS = {
    ClockId.REALTIME: time.CLOCK_REALTIME,
    ClockId.MONOTONIC: time.CLOCK_MONOTONIC,
    ClockId.PROCESS_CPUTIME_ID: time.CLOCK_PROCESS_CPUTIME_ID,
    ClockId.THREAD_CPUTIME_ID: time.CLOCK_THREAD_CPUTIME_ID,
}


class WasiExit(WasiCallError):
    """The guest called ``proc_exit``: the program is over with exit status ``code``.

    Its text is Wasmtime's (``Exited with i32 exit status <code>``); the runtime adds the
    wasm backtrace of the call as its context, as Wasmtime does.
    """

    def __init__(self, code: int) -> None:
        super().__init__(f"Exited with i32 exit status {code}")
        self.code = code


class ProcessCalls:
    """The ``args_*``, ``environ_*``, ``clock_*``, ``random_get``, ``proc_*`` and
    ``sched_yield`` functions of ``wasi_snapshot_preview1``, one method each.

    ``args`` and ``environ`` are the guest's strings, each ending in a NUL byte.
    """

    args: list[bytes]
    environ: list[bytes]

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
            return HOST_CLOCKS[ClockId(clock_id)]
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

    # --- process ------------------------------------------------------------

    def proc_exit(self, mem: GuestView, code: int) -> int:
        raise WasiExit(code)

    def proc_raise(self, mem: GuestView, signal: int) -> int:
        return Errno.NOSYS

    def sched_yield(self, mem: GuestView) -> int:
        os.sched_yield()
        return Errno.SUCCESS
