"""``poll_oneoff``: clock timeouts, regular-file readiness, pipes and bad subscriptions."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator

import pytest

from cwasm.wasi.abi import (
    ClockId,
    Errno,
    EventType,
    Filetype,
    Rights,
    SubclockFlags,
)
from cwasm.wasi.descriptors import Descriptor
from cwasm.wasi.memory import GuestMemoryFault
from tests.wasi.conftest import ROOT_FD
from tests.wasi.guest import Guest


def clock_subscription(
    userdata: int, timeout_ns: int, clock: int = ClockId.MONOTONIC, flags: int = 0
) -> bytes:
    return struct.pack("<QBxxxxxxx", userdata, EventType.CLOCK) + struct.pack(
        "<IxxxxQQHxxxxxx", clock, timeout_ns, 0, flags
    )


def fd_subscription(userdata: int, kind: EventType, fd: int) -> bytes:
    return struct.pack("<QBxxxxxxx", userdata, kind) + struct.pack("<I", fd) + bytes(28)


def poll(guest: Guest, *subscriptions: bytes) -> tuple[Errno, list[tuple[int, int, int, int]]]:
    """Returns the errno and the events as (userdata, error, type, nbytes)."""
    for sub in subscriptions:
        assert len(sub) == 48
    in_ptr = guest.put(b"".join(subscriptions))
    out_ptr = guest.alloc(32 * len(subscriptions))
    nevents = guest.alloc(4)
    errno = guest.call("poll_oneoff", in_ptr, out_ptr, len(subscriptions), nevents)
    events = []
    for i in range(guest.u32(nevents) if errno == Errno.SUCCESS else 0):
        userdata, error, kind, nbytes = struct.unpack_from(
            "<QHBxxxxxQ", guest.memory.data, out_ptr + 32 * i
        )
        events.append((userdata, error, kind, nbytes))
    return errno, events


def test_relative_clock_timeout(guest: Guest) -> None:
    start = time.monotonic()
    errno, events = poll(guest, clock_subscription(7, 30_000_000))
    assert time.monotonic() - start >= 0.03
    assert errno == Errno.SUCCESS
    assert events == [(7, 0, EventType.CLOCK, 0)]


def test_earliest_clock_fires_alone(guest: Guest) -> None:
    start = time.monotonic()
    errno, events = poll(
        guest, clock_subscription(1, 5_000_000_000), clock_subscription(2, 20_000_000)
    )
    elapsed = time.monotonic() - start
    assert errno == Errno.SUCCESS
    assert events == [(2, 0, EventType.CLOCK, 0)]
    assert 0.02 <= elapsed < 2


def test_absolute_clock(guest: Guest) -> None:
    deadline = time.clock_gettime_ns(time.CLOCK_REALTIME) + 25_000_000
    flags = SubclockFlags.SUBSCRIPTION_CLOCK_ABSTIME
    start = time.monotonic()
    errno, events = poll(guest, clock_subscription(3, deadline, ClockId.REALTIME, flags))
    assert errno == Errno.SUCCESS
    assert events == [(3, 0, EventType.CLOCK, 0)]
    assert time.monotonic() - start >= 0.02
    past = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - 10**9
    assert poll(guest, clock_subscription(4, past, ClockId.MONOTONIC, flags))[1] == [
        (4, 0, EventType.CLOCK, 0)
    ]


def test_regular_files_are_ready_at_once(guest: Guest) -> None:
    errno, fd = guest.open(ROOT_FD, "f", 1)  # CREAT
    assert errno == Errno.SUCCESS
    guest.write(fd, b"0123456789")
    seek_out = guest.alloc(8)
    assert guest.call("fd_seek", fd, 4, 0, seek_out) == Errno.SUCCESS
    start = time.monotonic()
    errno, events = poll(
        guest,
        clock_subscription(1, 5_000_000_000),
        fd_subscription(2, EventType.FD_READ, fd),
        fd_subscription(3, EventType.FD_WRITE, fd),
    )
    assert time.monotonic() - start < 2
    assert errno == Errno.SUCCESS
    assert sorted(events) == [
        (2, 0, EventType.FD_READ, 6),
        (3, 0, EventType.FD_WRITE, 0),
    ]


def test_bad_subscriptions(guest: Guest) -> None:
    errno, events = poll(guest, fd_subscription(5, EventType.FD_READ, 99))
    assert errno == Errno.SUCCESS
    assert events == [(5, Errno.BADF, EventType.FD_READ, 0)]
    errno, events = poll(guest, clock_subscription(6, 0, clock=17))
    assert events == [(6, Errno.INVAL, EventType.CLOCK, 0)]
    bad_tag = struct.pack("<QB", 1, 9) + bytes(39)
    assert poll(guest, bad_tag)[0] == Errno.INVAL
    assert guest.call("poll_oneoff", 0, 64, 0, 128) == Errno.INVAL
    with pytest.raises(GuestMemoryFault):
        guest.call("poll_oneoff", 65520, 0, 1, 0)


def test_null_streams_are_ready(guest: Guest) -> None:
    errno, events = poll(
        guest, fd_subscription(1, EventType.FD_READ, 0), fd_subscription(2, EventType.FD_WRITE, 1)
    )
    assert errno == Errno.SUCCESS
    assert sorted(events) == [(1, 0, EventType.FD_READ, 0), (2, 0, EventType.FD_WRITE, 0)]


@pytest.fixture
def pipe_fd(guest: Guest) -> Iterator[tuple[int, int]]:
    """A guest descriptor reading from a host pipe, and the pipe's write end."""
    read_end, write_end = os.pipe()
    rights = Rights.FD_READ | Rights.POLL_FD_READWRITE
    guest.context.fds[9] = Descriptor(read_end, Filetype.UNKNOWN, rights, 0, owned=True)
    yield 9, write_end
    os.close(write_end)


def test_pipe_waits_for_data(guest: Guest, pipe_fd: tuple[int, int]) -> None:
    fd, write_end = pipe_fd
    start = time.monotonic()
    errno, events = poll(
        guest, fd_subscription(1, EventType.FD_READ, fd), clock_subscription(2, 30_000_000)
    )
    assert time.monotonic() - start >= 0.03
    assert (errno, events) == (Errno.SUCCESS, [(2, 0, EventType.CLOCK, 0)])
    os.write(write_end, b"ping")
    errno, events = poll(
        guest, fd_subscription(1, EventType.FD_READ, fd), clock_subscription(2, 5_000_000_000)
    )
    assert (errno, events) == (Errno.SUCCESS, [(1, 0, EventType.FD_READ, 0)])
    assert guest.read_fd(fd, 16) == (Errno.SUCCESS, b"ping")


def test_endless_clock_does_not_delay_ready_descriptors(guest: Guest) -> None:
    start = time.monotonic()
    errno, events = poll(
        guest, clock_subscription(1, (1 << 64) - 1), fd_subscription(2, EventType.FD_WRITE, 1)
    )
    assert time.monotonic() - start < 2
    assert (errno, events) == (Errno.SUCCESS, [(2, 0, EventType.FD_WRITE, 0)])
