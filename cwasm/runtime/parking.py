"""``memory.atomic.wait32/64`` and ``memory.atomic.notify``: the waiters of every shared
memory, by native address.

A waiter parks on the address of the cell it waits on (the memory's base plus the wasm
address): the address names the cell in every store and instance that shares the
memory, and two live memories never share an address. Checking the cell's value and
enqueueing the waiter happen under one lock, which ``notify`` takes too: a store that
precedes a notify either is seen by the check (the waiter returns 1, "not-equal") or
comes after the waiter is queued (the notify wakes it). Waiting blocks on a
``threading.Lock`` with the GIL released, so other threads run wasm meanwhile.

As in Wasmtime 28, nothing but a notify or the timeout ends a wait: epochs are checked
at function entries and loop headers, not while parked, and fuel counts instructions,
so a wait costs the fuel of its instruction however long it lasts
(``tests/runtime/test_wait_interruption.py``).
"""

from __future__ import annotations

import ctypes
import threading
from collections import deque

#: the results of a wait, as the proposal numbers them
WOKEN, NOT_EQUAL, TIMED_OUT = 0, 1, 2

_lock = threading.Lock()
#: native address -> the waiters parked on it, oldest first
_queues: dict[int, deque[_Waiter]] = {}


class _Waiter:
    """One parked thread: ``gate`` is held until a notify releases it."""

    __slots__ = ("gate", "woken")

    def __init__(self) -> None:
        self.gate = threading.Lock()
        self.gate.acquire()
        self.woken = False


def wait(address: int, expected: int, width: int, timeout_ns: int) -> int:
    """Park until notified at ``address`` if the ``width``-byte cell there (4 or 8)
    holds ``expected``; ``timeout_ns`` < 0 waits without a timeout. Returns ``WOKEN``,
    ``NOT_EQUAL`` or ``TIMED_OUT``."""
    cell = ctypes.c_uint32 if width == 4 else ctypes.c_uint64
    waiter = _Waiter()
    with _lock:
        if cell.from_address(address).value != expected:
            return NOT_EQUAL
        _queues.setdefault(address, deque()).append(waiter)
    seconds = timeout_ns / 1e9
    if timeout_ns < 0 or seconds > threading.TIMEOUT_MAX:
        woken = waiter.gate.acquire()
    else:
        woken = waiter.gate.acquire(timeout=seconds)
    if woken:
        return WOKEN
    with _lock:
        if waiter.woken:  # notified between the timeout and the lock
            return WOKEN
        queue = _queues[address]
        queue.remove(waiter)
        if not queue:
            del _queues[address]
    return TIMED_OUT


def notify(address: int, count: int) -> int:
    """Wake up to ``count`` waiters parked at ``address``, oldest first; returns how many
    were woken."""
    woken = 0
    with _lock:
        queue = _queues.get(address)
        while queue and woken < count:
            waiter = queue.popleft()
            waiter.woken = True
            waiter.gate.release()
            woken += 1
        if queue is not None and not queue:
            del _queues[address]
    return woken


def waiters(address: int) -> int:
    """How many threads are parked at ``address`` now."""
    with _lock:
        return len(_queues.get(address, ()))
