"""The guest-memory protocol: bounds, typed access, and out-of-bounds pointers failing\nthe call (as in Wasmtime, not ``EFAULT``)."""

from __future__ import annotations

import ctypes

import pytest

from cwasm.wasi import BytearrayMemory, GuestMemoryFault, RawMemory, WasiConfig, WasiContext
from cwasm.wasi.abi import IOVEC, Errno
from cwasm.wasi.memory import GuestView
from tests.wasi.guest import Guest


def test_bytearray_memory_bounds() -> None:
    memory = BytearrayMemory(16)
    memory.write(12, b"abcd")
    assert memory.read(12, 4) == b"abcd"
    assert memory.read(16, 0) == b""
    with pytest.raises(GuestMemoryFault):
        memory.read(13, 4)
    with pytest.raises(GuestMemoryFault):
        memory.write(15, b"xy")
    with pytest.raises(GuestMemoryFault):
        memory.read(-1, 1)
    assert memory.read(12, 4) == b"abcd"


def test_raw_memory_over_native_buffer() -> None:
    buffer = ctypes.create_string_buffer(b"0123456789", 10)
    memory = RawMemory(ctypes.addressof(buffer), 10)
    assert memory.size() == 10
    assert memory.read(2, 3) == b"234"
    memory.write(8, b"XY")
    assert buffer.raw == b"01234567XY"
    with pytest.raises(GuestMemoryFault):
        memory.write(9, b"ab")
    assert buffer.raw == b"01234567XY"


def test_guest_view_typed_access() -> None:
    view = GuestView(BytearrayMemory(64))
    view.set_u32(0, 0xDEADBEEF)
    view.set_u64(8, 0x0102030405060708)
    view.set_u8(20, 0x1FF)
    assert view.u32(0) == 0xDEADBEEF
    assert view.u64(8) == 0x0102030405060708
    assert view.read(8, 2) == b"\x08\x07"
    assert view.u16(20) == 0xFF


def test_gather_and_scatter() -> None:
    view = GuestView(BytearrayMemory(64))
    view.write(32, b"hello")
    view.write(40, b"world")
    view.write(0, IOVEC.pack(32, 5) + IOVEC.pack(40, 3))
    assert view.gather(0, 2) == b"hellowor"
    view.scatter([(48, 2), (56, 4)], b"ABCDE")
    assert view.read(48, 2) == b"AB"
    assert view.read(56, 4) == b"CDE\0"
    view.write(16, IOVEC.pack(60, 8))
    with pytest.raises(GuestMemoryFault):
        view.iovecs(16, 1)


def _fault(guest: Guest, name: str, *args: int) -> tuple[int, int]:
    """The region of the ``GuestMemoryFault`` that the call ``name(*args)`` fails with."""
    with pytest.raises(GuestMemoryFault) as info:
        guest.call(name, *args)
    fault = info.value
    assert (
        str(fault) == f"Pointer out of bounds: Region {{ start: {fault.ptr}, len: {fault.length} }}"
    )
    return fault.ptr, fault.length


def test_out_of_bounds_pointers_fail_the_call() -> None:
    config = WasiConfig()
    config.argv = ["prog", "arg"]
    with WasiContext(config) as context:
        guest = Guest(context, size=256)
        assert _fault(guest, "args_sizes_get", 0, 300) == (300, 4)
        assert _fault(guest, "args_get", 250, 0)[0] == 250  # the pointer array overruns
        assert _fault(guest, "args_get", 0, 254)[0] == 254  # the strings overrun
        bad_iovec = guest.put(IOVEC.pack(200, 100))
        assert _fault(guest, "fd_write", 1, bad_iovec, 1, 0) == (200, 100)
        assert _fault(guest, "fd_write", 1, 1000, 1, 0)[0] == 1000
        assert _fault(guest, "clock_time_get", 0, 0, 252) == (252, 8)
        assert _fault(guest, "random_get", 200, 100) == (200, 100)
        assert _fault(guest, "fd_fdstat_get", 1, 250)[0] == 250
        # Pointers are u32: a negative i32 is a huge address, not a negative one.
        assert _fault(guest, "clock_time_get", 0, 0, -8) == (2**32 - 8, 8)
        assert guest.call("clock_time_get", 0, 0, 8) == Errno.SUCCESS
