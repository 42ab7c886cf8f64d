"""Native plumbing through ctypes: libc routines, executable code memory and reserved regions.

* ``CodeMemory``: maps pre-linked code RW, copies it in, then flips it to R+X — the
  mapping is never writable and executable at the same time (W^X).
* ``Reservation``: a PROT_NONE span of address space whose prefix is made RW on
  demand; linear memories grow inside it, so their base never moves.
* the addresses of ``_setjmp``, ``longjmp``, ``memmove`` and ``memset``, which
  compiled code reaches through the store context and the vmctx.
"""

from __future__ import annotations

import array
import ctypes
import mmap
import os
import sys
import threading
from collections.abc import Callable
from typing import Protocol, cast

from cwasm.errors import CwasmError
from cwasm.runtime import unwind

PAGE_SIZE = mmap.PAGESIZE

_libc = ctypes.CDLL(None, use_errno=True)

_mmap = _libc.mmap
_mmap.restype = ctypes.c_void_p
_mmap.argtypes = (
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
)
_mprotect = _libc.mprotect
_mprotect.restype = ctypes.c_int
_mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_munmap = _libc.munmap
_munmap.restype = ctypes.c_int
_munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_madvise = _libc.madvise
_madvise.restype = ctypes.c_int
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_mincore = _libc.mincore
_mincore.restype = ctypes.c_int
_mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)

PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20
MAP_NORESERVE = 0x4000
MAP_FAILED = ctypes.c_void_p(-1).value


class NativeError(CwasmError):
    """A system call the runtime depends on failed."""


def _address_of(symbol: str) -> int:
    fn = getattr(_libc, symbol)
    addr = ctypes.cast(fn, ctypes.c_void_p).value
    if not addr:
        raise NativeError(f"libc has no {symbol}")
    return addr


SETJMP_ADDRESS = _address_of("_setjmp")
LONGJMP_ADDRESS = _address_of("longjmp")
MEMMOVE_ADDRESS = _address_of("memmove")
MEMSET_ADDRESS = _address_of("memset")


def round_up_to_page(n: int) -> int:
    return (n + PAGE_SIZE - 1) & -PAGE_SIZE


def map_anonymous(size: int, prot: int, *, noreserve: bool = False) -> int:
    flags = MAP_PRIVATE | MAP_ANONYMOUS | (MAP_NORESERVE if noreserve else 0)
    addr = _mmap(None, size, prot, flags, -1, 0)
    if addr is None or addr == MAP_FAILED:
        err = ctypes.get_errno()
        raise NativeError(f"mmap of {size} bytes failed: {os.strerror(err)}")
    return int(addr)


def protect(addr: int, size: int, prot: int) -> None:
    if size and _mprotect(addr, size, prot) != 0:
        err = ctypes.get_errno()
        raise NativeError(f"mprotect({addr:#x}, {size:#x}) failed: {os.strerror(err)}")


def unmap(addr: int, size: int) -> None:
    _munmap(addr, size)


#: ``uint32_t f(void)``: CPUID leaf 1's ECX (push rbx; mov eax, 1; xor ecx, ecx; cpuid;
#: mov eax, ecx; pop rbx; ret), x86-64 machine code
_CPUID1_ECX_CODE = bytes.fromhex("53b80100000031c90fa289c85bc3")


#: glibc's ``__x86_get_cpuid_feature_leaf`` (``<sys/platform/x86.h>``, glibc 2.33+): the
#: CPUID words glibc read at start-up, per leaf; leaf index 0 is CPUID leaf 1, whose
#: ``struct cpuid_feature`` starts with the raw EAX, EBX, ECX and EDX (u32 each)
_CPUID_INDEX_1 = 0
_CPUID_ECX_OFFSET = 8


def x86_cpuid1_ecx() -> int:
    """CPUID leaf 1's ECX feature bits of this x86-64 CPU: the word glibc recorded when
    the process started (``__x86_get_cpuid_feature_leaf``), else read by running the
    instruction (``x86_cpuid1_ecx_instruction``)."""
    leaf = getattr(_libc, "__x86_get_cpuid_feature_leaf", None)
    if leaf is not None:
        leaf.restype = ctypes.c_void_p
        leaf.argtypes = (ctypes.c_uint,)
        address = leaf(_CPUID_INDEX_1)
        if address:
            return int(ctypes.c_uint32.from_address(address + _CPUID_ECX_OFFSET).value)
    return x86_cpuid1_ecx_instruction()


def x86_cpuid1_ecx_instruction() -> int:
    """CPUID leaf 1's ECX, read by running the instruction from a scratch executable page
    (a few syscalls; ``/proc/cpuinfo`` costs 0.3-5 ms to generate)."""
    base = map_anonymous(PAGE_SIZE, PROT_READ | PROT_WRITE)
    try:
        ctypes.memmove(base, _CPUID1_ECX_CODE, len(_CPUID1_ECX_CODE))
        protect(base, PAGE_SIZE, PROT_READ | PROT_EXEC)
        return int(ctypes.CFUNCTYPE(ctypes.c_uint32)(base)())
    finally:
        unmap(base, PAGE_SIZE)


_pthread_self = _libc.pthread_self
_pthread_self.restype = ctypes.c_ulong
_pthread_self.argtypes = ()
_getattr_np = getattr(_libc, "pthread_getattr_np", None)
_attr_getstack = _libc.pthread_attr_getstack
_attr_getstack.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_attr_destroy = _libc.pthread_attr_destroy
_attr_destroy.argtypes = (ctypes.c_void_p,)


_stacks = threading.local()


def thread_stack_bounds() -> tuple[int, int] | None:
    """(lowest address, size) of the calling thread's stack, or None if unknown.

    Asked of libc once per thread (for the main thread glibc reads ``/proc/self/maps``,
    which costs more than the rest of a store's creation); the answer is kept in a
    thread-local, which dies with its thread, so a later thread that reuses the
    thread id asks again."""
    try:
        bounds: tuple[int, int] | None = _stacks.bounds
    except AttributeError:
        bounds = _stacks.bounds = _query_stack_bounds()
    return bounds


def _query_stack_bounds() -> tuple[int, int] | None:
    if _getattr_np is None:
        return None
    attr = ctypes.create_string_buffer(256)
    _getattr_np.argtypes = (ctypes.c_ulong, ctypes.c_void_p)
    if _getattr_np(_pthread_self(), attr) != 0:
        return None
    try:
        addr = ctypes.c_void_p()
        size = ctypes.c_size_t()
        if _attr_getstack(attr, ctypes.byref(addr), ctypes.byref(size)) != 0:
            return None
        return int(addr.value or 0), int(size.value)
    finally:
        _attr_destroy(attr)


#: whether freshly written code needs the instruction cache cleared (aarch64 Linux)
_CLEAR_ICACHE = sys.platform.startswith("linux") and os.uname().machine in ("aarch64", "arm64")
#: how many bytes of freed code mappings ``CodeMemory`` keeps for reuse (their pages stay
#: resident: that is the point)
CODE_POOL_BYTES = 8 << 20


class _MappingPool:
    """Released mappings kept by size for reuse, up to ``capacity`` (counted in
    ``_weight`` units); what does not fit is unmapped by the subclass's ``give``.

    Mappings are given back from ``__del__`` methods, which the garbage collector may run
    on any allocation of a tracked object (a tuple, a list): so nothing is allocated
    while the (non-reentrant) lock is held, or a collection there could deadlock."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._free: dict[int, list[int]] = {}
        #: what was kept with a mapping (``_keep``'s ``kept``), by its base
        self._kept: dict[int, object] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _weight(size: int) -> int:
        """What a mapping of ``size`` bytes counts against the capacity."""
        return size

    def take(self, size: int) -> int | None:
        """A kept mapping of ``size`` bytes, or None."""
        found = self._take(size)
        return None if found is None else found[0]

    def _take(self, size: int) -> tuple[int, object] | None:
        """A kept mapping of ``size`` bytes and what was kept with it, or None."""
        with self._lock:
            bases = self._free.get(size)
            if not bases:
                return None
            self.held -= self._weight(size)
            base = bases.pop()
            kept = self._kept.pop(base, None)
        return base, kept  # made after the lock: see the class

    def _keep(self, base: int, size: int, kept: object = None) -> bool:
        """Keep the (reset) mapping at ``base``, with ``kept`` if not None; False if the
        pool is full (the caller unmaps it)."""
        weight = self._weight(size)
        fresh: list[int] = []  # made before the lock: see the class
        with self._lock:
            if self.held + weight > self.capacity:
                return False
            self._free.setdefault(size, fresh).append(base)
            if kept is not None:
                self._kept[base] = kept
            self.held += weight
            return True


class _CodePool(_MappingPool):
    """Mappings of modules whose code is gone, kept (``PROT_NONE``: nothing can run or
    read them) for the next module of the same size, up to ``capacity`` bytes. A reused
    mapping's pages are already backed, so loading skips the page faults a fresh mapping
    takes on its first write, which cost more than the copy itself."""

    def give(self, base: int, size: int) -> None:
        """Keep the mapping at ``base`` for reuse, or unmap it if the pool is full."""
        protect(base, size, PROT_NONE)
        if not self._keep(base, size):
            unmap(base, size)


_code_pool = _CodePool(CODE_POOL_BYTES)


class CodeMemory:
    """Executable pages holding one module's pre-linked ``.text``, followed by its
    ``.eh_frame`` (read-only, registered with the unwinder while the code exists).

    When it goes, the unwinder forgets its frames and its ``release_hooks`` run (whatever
    registered its addresses, e.g. with the signal handlers, removes them), then its pages
    go back to the code pool they came from. That is ``__del__``'s work, not a
    ``weakref.finalize``'s: loading makes no finalizer object."""

    release_hooks: list[Callable[[], None]]

    def __init__(self, text: bytes | memoryview, eh_frame: bytes | memoryview = b"") -> None:
        end = len(text) + len(eh_frame)
        self.size = size = max(round_up_to_page(end), PAGE_SIZE)
        self.release_hooks = []
        self._pool = pool = _code_pool
        self._frames = 0  # set once the unwinder holds them: deregistering others aborts
        base = pool.take(size)
        if base is None:
            base = map_anonymous(size, PROT_READ | PROT_WRITE)
        else:
            protect(base, size, PROT_READ | PROT_WRITE)
        self.base = base
        # bytes(), not a ctypes array: a ctypes array type per length costs far more
        ctypes.memmove(base, text if isinstance(text, bytes) else bytes(text), len(text))
        if eh_frame:
            ctypes.memmove(base + len(text), bytes(eh_frame), len(eh_frame))
        if end < size:  # nothing of a previous module's code stays behind
            ctypes.memset(base + end, 0, size - end)
        if _CLEAR_ICACHE:
            _clear_cache(base, base + len(text))
        code = round_up_to_page(len(text))
        protect(base, code, PROT_READ | PROT_EXEC)
        if size > code:
            protect(base + code, size - code, PROT_READ)
        if eh_frame:
            unwind.register_frames(base + len(text))
            self._frames = base + len(text)

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        base = getattr(self, "base", 0)  # nothing mapped: another target's, or a failed map
        # (``_finalizing`` is bound here: module globals may be gone while the process ends)
        if not base or _finalizing():  # the process is ending: nothing to give back
            return
        if self._frames:
            unwind.deregister_frames(self._frames)
        for hook in self.release_hooks:
            hook()
        self._pool.give(base, self.size)


def _clear_cache(start: int, end: int) -> None:
    fn = getattr(_libc, "__clear_cache", None)
    if fn is not None:
        fn.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
        fn(start, end)


#: how many released linear-memory reservations are kept for reuse (address space only:
#: their pages are given back to the kernel when they are released)
RESERVATION_POOL_SIZE = 16


class ReservationRecord(Protocol):
    """What registered a reservation's addresses elsewhere and stays with it in the pool
    (``guard.MemoryGuard``)."""

    def deactivate(self) -> None:
        """The reservation goes to the pool: its addresses mean nothing meanwhile."""

    def release(self) -> None:
        """The reservation is unmapped: forget its addresses."""


#: how many bytes at the start of a released memory are zeroed in place where resident,
#: rather than discarded: the next memory's first writes (its data image) then find
#: them mapped (Wasmtime's pooling allocator keeps memory resident so too)
KEEP_RESIDENT = 64 << 10


def _reset_pages(base: int, committed: int) -> bool:
    """Make the first ``committed`` bytes at ``base`` (read-write) read as zeros: the
    resident pages among the first ``KEEP_RESIDENT`` bytes zeroed in place, every other
    page discarded (``MADV_DONTNEED``: a page swapped out counts as not resident, and
    is discarded too). False if that fails."""
    keep = min(committed, KEEP_RESIDENT) // PAGE_SIZE
    resident = array.array("B", bytes(keep))
    if not keep or _mincore(base, keep * PAGE_SIZE, resident.buffer_info()[0]) != 0:
        return _madvise(base, committed, mmap.MADV_DONTNEED) == 0
    page = 0
    while page < keep:
        end = page + 1
        if resident[page] & 1:
            while end < keep and resident[end] & 1:
                end += 1
            ctypes.memset(base + page * PAGE_SIZE, 0, (end - page) * PAGE_SIZE)
        else:
            while end < keep and not resident[end] & 1:
                end += 1
            # the run of pages not resident, with the rest past the kept ones
            stop = committed if end == keep else end * PAGE_SIZE
            at = page * PAGE_SIZE
            if _madvise(base + at, stop - at, mmap.MADV_DONTNEED) != 0:
                return False
        page = end
    if keep * PAGE_SIZE < committed and resident[keep - 1] & 1:
        at = keep * PAGE_SIZE
        return _madvise(base + at, committed - at, mmap.MADV_DONTNEED) == 0
    return True


class _ReservationPool(_MappingPool):
    """Reservations of memories that are gone, kept for the next memory of the same size.

    A released reservation's committed pages are reset to zeros before it is kept
    (``_reset_pages``: the resident ones among the first ``KEEP_RESIDENT`` bytes zeroed in
    place, so at most that much per kept reservation stays resident; the others
    discarded with ``MADV_DONTNEED``, after which a private anonymous page reads as
    zeros again); they stay read-write, and the pool remembers how many bytes are (``committed``), so the next
    memory only changes the protection of the difference to its own size
    (``Reservation.commit_exactly``): a reused memory reads as zeros and keeps its guard
    region past its length. Reuse saves the ``mmap`` and ``munmap`` of a reservation of
    4 GiB and more, and, for a memory of the same size, every ``mprotect``."""

    @staticmethod
    def _weight(size: int) -> int:
        return 1  # the capacity counts reservations, whatever their size

    def give(
        self, base: int, size: int, committed: int, guard: ReservationRecord | None = None
    ) -> None:
        """Discard the pages of the reservation at ``base`` (its first ``committed`` bytes
        were usable) and keep it with ``guard`` (its inactive record with the signal
        handler, if any), or unmap it (and release ``guard``) if the pool is full or the
        reset fails."""
        if (not committed or _reset_pages(base, committed)) and self._keep(
            base, size, (committed, guard)
        ):
            return
        if guard is not None:
            guard.release()
        unmap(base, size)

    def take_committed(self, size: int) -> tuple[int, int, ReservationRecord | None] | None:
        """A kept reservation of ``size`` bytes, how many bytes at its start are
        read-write (reading as zeros), and its inactive guard record (or None); or None."""
        found = self._take(size)
        if found is None:
            return None
        base, kept = found
        committed, guard = cast(tuple[int, "ReservationRecord | None"], kept)
        return base, committed, guard


_reservation_pool = _ReservationPool(RESERVATION_POOL_SIZE)


class Reservation:
    """``size`` bytes of reserved address space; ``commit(n)`` makes the first n bytes RW.

    A ``pooled`` reservation comes from, and goes back to, the pool of released ones
    (``_ReservationPool``), with its record with the signal handler (``guard``), which is
    inactive while the reservation is pooled and forgotten when it is unmapped.
    Releasing is ``__del__``'s work (no ``weakref.finalize`` per memory)."""

    def __init__(self, size: int, *, pooled: bool = False) -> None:
        self.size = size = round_up_to_page(size) or PAGE_SIZE
        self._pooled = pooled
        self.committed = 0
        #: a pooled reservation's record with the signal handler (``guard.MemoryGuard``),
        #: made by its first guarded memory and kept with it (inactive) in the pool
        self.guard: ReservationRecord | None = None
        kept = _reservation_pool.take_committed(size) if pooled else None
        if kept is None:
            self.base = map_anonymous(size, PROT_NONE, noreserve=True)
        else:
            self.base, self.committed, self.guard = kept

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        base = getattr(self, "base", 0)  # nothing mapped if the map failed
        # (``_finalizing`` is bound here: module globals may be gone while the process ends)
        if not base or _finalizing():  # the process is ending: nothing to give back
            return
        guard = self.guard
        if self._pooled:
            if guard is not None:
                guard.deactivate()
            _reservation_pool.give(base, self.size, self.committed, guard)
        else:
            if guard is not None:
                guard.release()
            unmap(base, self.size)

    def commit_exactly(self, nbytes: int) -> None:
        """Make exactly the first ``nbytes`` (rounded up to a page) read-write, the rest
        ``PROT_NONE`` (a pooled reservation may come with more committed)."""
        want = round_up_to_page(nbytes)
        if want < self.committed:
            protect(self.base + want, self.committed - want, PROT_NONE)
            self.committed = want
        else:
            self.commit(nbytes)

    def commit(self, nbytes: int) -> None:
        want = round_up_to_page(nbytes)
        if want > self.size:
            raise NativeError("reservation exhausted")
        if want > self.committed:
            protect(self.base + self.committed, want - self.committed, PROT_READ | PROT_WRITE)
            self.committed = want
