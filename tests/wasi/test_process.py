"""Arguments, environment, clocks, randomness, process control and unsupported calls."""

from __future__ import annotations

import time

import pytest

from cwasm.wasi import WasiConfig, WasiContext, WasiExit
from cwasm.wasi.abi import ClockId, Errno
from tests.wasi.guest import Guest


def make_guest(argv: list[str], env: list[tuple[str, str]]) -> Guest:
    config = WasiConfig()
    config.argv = argv
    config.env = env
    return Guest(WasiContext(config))


def read_strings(guest: Guest, sizes: str, get: str) -> list[bytes]:
    count_ptr, size_ptr = guest.alloc(4), guest.alloc(4)
    assert guest.call(sizes, count_ptr, size_ptr) == Errno.SUCCESS
    count, size = guest.u32(count_ptr), guest.u32(size_ptr)
    array, buf = guest.alloc(4 * count), guest.alloc(size)
    assert guest.call(get, array, buf) == Errno.SUCCESS
    strings = []
    for i in range(count):
        start = guest.u32(array + 4 * i)
        assert buf <= start < buf + size
        end = guest.memory.data.index(b"\0", start)
        strings.append(bytes(guest.memory.data[start:end]))
    if count:
        assert guest.read(buf + size - 1, 1) == b"\0"
    else:
        assert size == 0
    return strings


def test_args() -> None:
    guest = make_guest(["prog", "x y", "ünï"], [])
    assert read_strings(guest, "args_sizes_get", "args_get") == [
        b"prog",
        b"x y",
        "ünï".encode(),
    ]


def test_environ() -> None:
    guest = make_guest([], [("HOME", "/home/guest"), ("EMPTY", "")])
    assert read_strings(guest, "environ_sizes_get", "environ_get") == [
        b"HOME=/home/guest",
        b"EMPTY=",
    ]


def test_empty_args_and_environ() -> None:
    guest = make_guest([], [])
    assert read_strings(guest, "args_sizes_get", "args_get") == []
    assert read_strings(guest, "environ_sizes_get", "environ_get") == []


def clock(guest: Guest, clock_id: int) -> tuple[Errno, int]:
    out = guest.alloc(8)
    return guest.call("clock_time_get", clock_id, 1, out), guest.u64(out)


def test_clocks() -> None:
    guest = make_guest([], [])
    errno, realtime = clock(guest, ClockId.REALTIME)
    assert errno == Errno.SUCCESS
    assert abs(realtime - time.time_ns()) < 5 * 10**9
    readings = [clock(guest, ClockId.MONOTONIC)[1] for _ in range(50)]
    assert readings == sorted(readings)
    before = clock(guest, ClockId.MONOTONIC)[1]
    time.sleep(0.01)
    assert clock(guest, ClockId.MONOTONIC)[1] - before >= 10_000_000
    for clock_id in ClockId:
        assert clock(guest, clock_id)[0] == Errno.SUCCESS
        out = guest.alloc(8)
        assert guest.call("clock_res_get", clock_id, out) == Errno.SUCCESS
        assert 1 <= guest.u64(out) <= 10**9
    assert clock(guest, 4)[0] == Errno.INVAL
    assert guest.call("clock_res_get", 99, guest.alloc(8)) == Errno.INVAL


def test_random_bytes_change() -> None:
    guest = make_guest([], [])
    buf = guest.alloc(256)
    samples = []
    for _ in range(3):
        assert guest.call("random_get", buf, 256) == Errno.SUCCESS
        samples.append(guest.read(buf, 256))
    assert len(set(samples)) == 3
    assert samples[0] != bytes(256)
    assert guest.call("random_get", buf, 0) == Errno.SUCCESS


@pytest.mark.parametrize("code", [0, 1, 3, 255, 0xFFFF_FFFF])
def test_proc_exit_raises_with_its_code(code: int) -> None:
    guest = make_guest([], [])
    with pytest.raises(WasiExit) as raised:
        guest.call("proc_exit", code)
    assert raised.value.code == code


def test_proc_exit_code_from_a_negative_i32() -> None:
    guest = make_guest([], [])
    with pytest.raises(WasiExit) as raised:
        guest.call("proc_exit", -1)
    assert raised.value.code == 0xFFFF_FFFF


def test_unsupported_calls_return_enosys() -> None:
    guest = make_guest([], [])
    out = guest.alloc(8)
    assert guest.call("proc_raise", 9) == Errno.NOSYS
    assert guest.call("sock_accept", 3, 0, out) == Errno.NOSYS
    assert guest.call("sock_recv", 3, 0, 0, 0, out, out) == Errno.NOSYS
    assert guest.call("sock_send", 3, 0, 0, 0, out) == Errno.NOSYS
    assert guest.call("sock_shutdown", 3, 0) == Errno.NOSYS
    assert guest.call("sched_yield") == Errno.SUCCESS


def test_dispatcher_rejects_unknown_names_and_wrong_arity() -> None:
    guest = make_guest([], [])
    with pytest.raises(KeyError):
        guest.call("fd_explode", 1)
    with pytest.raises(TypeError):
        guest.call("fd_close")
