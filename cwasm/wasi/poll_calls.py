"""``poll_oneoff`` (clock timeouts and descriptor readiness) and the ``sock_*`` calls,
which cwasm does not support: they return ``NOSYS``."""

from __future__ import annotations

import os
import select
import time

from cwasm.wasi import abi
from cwasm.wasi.abi import ClockId, Errno, EventType, Filetype, Rights, SubclockFlags
from cwasm.wasi.descriptors import Descriptor, DescriptorTable
from cwasm.wasi.memory import GuestView
from cwasm.wasi.process_calls import HOST_CLOCKS
from cwasm.wasi.sandbox import WasiErrno

#: The longest single wait of ``poll_oneoff``; longer timeouts wait again.
_MAX_WAIT_NS = 3600 * 10**9


class PollCalls(DescriptorTable):
    """``poll_oneoff`` and the ``sock_*`` functions of ``wasi_snapshot_preview1``."""

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
                    clock = HOST_CLOCKS[ClockId(clock_id)]
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
