"""Guard-page bounds checks: the signal handler's state, its registries and its installation.

In ``bounds_checks="guard-pages"`` mode (x86-64 Linux) compiled code accesses linear
memory without checks; every memory reserves 4 GiB plus ``GUARD_SIZE`` so that any
32-bit address plus a static offset below the guard stays inside its PROT_NONE
reservation, and an access past the memory's length faults. The handler that turns
such a fault into a MemoryOutOfBounds trap is native code from the artifact (see
``cwasm.compile.signals``); this module copies it once into a persistent executable
mapping and installs it for SIGSEGV and SIGBUS, keeping the previous actions for
chaining.

The handler reads a state block at a fixed address without the GIL: the ``sigaction``
address, the previous actions, and registries of records ``(lo, hi, ...)`` that it
scans for ``lo <= x < hi`` (``_Registry``: a record is written whole before the count
shows it, zeroed ``hi`` first when removed; a full array is replaced by a new one, its
address stored in one aligned word, so a reader never sees a half-written record):

* code ranges ``[count, lo, hi, ...]`` of loaded guard-mode modules;
* memory reservations ``[count, lo, hi, ctx, ...]``, where ``ctx`` is a small cell
  laid out like a vmctx whose store pointer is the owning store's context; a pooled
  reservation keeps its record, inactive, while no memory uses it (``MemoryGuard``).
"""

from __future__ import annotations

import array
import ctypes
import functools
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from cwasm.abi import vmoffsets as vo
from cwasm.abi.guard_layout import (
    BLOCK_SYMBOL,
    GS_CODE,
    GS_FUNCS,
    GS_MEMORY,
    GS_PREV_SIGBUS,
    GS_PREV_SIGSEGV,
    GS_PTHREAD_SELF,
    GS_SIGACTION,
    GS_SIZE,
    GS_STORES,
    HANDLER_SYMBOL,
    INTERRUPT_HANDLER_SYMBOL,
    SA_NODEFER,
    SA_ONSTACK,
    SA_SIGINFO,
    SIGACTION_FLAGS,
    SIGACTION_SIZE,
    SIGBUS,
    SIGSEGV,
    STATE_SYMBOL,
)
from cwasm.errors import CwasmError
from cwasm.obj.constants import ELF_TEXT
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.integrity import SEAL_SIZE
from cwasm.runtime.native import (
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    map_anonymous,
    protect,
    round_up_to_page,
)

if TYPE_CHECKING:
    from cwasm.obj.artifact import Artifact

#: words of the cell the handler reads as a vmctx header: up to its store pointer
_CTX_WORDS = vo.CTX_STORE // 8 + 1


_libc = ctypes.CDLL(None, use_errno=True)
_sigaction = _libc.sigaction
_sigaction.restype = ctypes.c_int
_sigaction.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
#: libc's ``sigaction(sig, act, oldact)`` (addresses or None)
sigaction = _sigaction
_SIGACTION_ADDRESS = ctypes.cast(_sigaction, ctypes.c_void_p).value or 0
_PTHREAD_SELF_ADDRESS = ctypes.cast(_libc.pthread_self, ctypes.c_void_p).value or 0


class _Registry:
    """A set of fixed-width records ``(lo, hi, ...)`` published to the handler as one
    array ``[count, record...]``, which it scans for the record with ``lo <= x < hi``.

    Changes cost O(1): a record is written past the count, then the count raised to
    show it; a removed one is zeroed in place, ``hi`` first (a zero record matches
    nothing); a new array, the live records packed, is published only when the current
    one is full. A handler reading the array meanwhile sees every live record whole.

    A removal or replacement may run inside an addition, from a finalizer the garbage
    collector runs on this thread (the lock is reentrant): ``_publish`` works on a copy
    of the records and applies such changes once the new array is published."""

    def __init__(self, state_word: int, width: int) -> None:
        self._word = ctypes.c_uint64.from_address(state_word)
        self._width = width
        #: the live records by key, and each one's slot in the published array
        self._records: dict[int, tuple[int, ...]] = {}
        self._slots: dict[int, int] = {}
        self._used = 0  # the slots in use or zeroed: the published count
        self._next = 0
        # arrays (and cells) a handler on another thread may still be reading
        self.retired: deque[object] = deque(maxlen=32)
        self._arr = array.array("Q", bytes(8))
        self._publish(16)

    def add(self, record: tuple[int, ...]) -> int:
        key = self._next
        self._next += 1
        self._records[key] = record
        w = self._width
        if 1 + (self._used + 1) * w > len(self._arr):
            self._publish(max(16, 2 * len(self._records)))
        else:
            slot = self._used
            self._write(slot, record)
            self._slots[key] = slot
            self._used = slot + 1
            self._arr[0] = self._used  # after the record: it is whole when seen
        return key

    def set_hi(self, key: int, hi: int) -> None:
        """Make ``hi`` the end of the record of ``key`` (one aligned word written in place:
        0 makes it match nothing)."""
        record = self._records.get(key)
        if record is None:
            return
        self._records[key] = (record[0], hi, *record[2:])
        slot = self._slots.get(key)
        if slot is not None:
            self._arr[2 + slot * self._width] = hi

    def _write(self, slot: int, record: tuple[int, ...]) -> None:
        # ``hi`` zero first and last written: a handler reading meanwhile (maybe with a
        # count from before a removal that freed this slot) sees no match until the
        # record is whole
        arr = self._arr
        at = 1 + slot * self._width
        arr[at + 1] = 0
        for i in range(2, self._width):
            arr[at + i] = record[i]
        arr[at] = record[0]
        arr[at + 1] = record[1]

    def remove(self, key: int) -> None:
        if self._records.pop(key, None) is None:
            return
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._zero(slot)

    def _zero(self, slot: int) -> None:
        arr = self._arr
        at = 1 + slot * self._width
        arr[at + 1] = 0  # ``hi`` first: from now on the record matches nothing
        arr[at : at + self._width] = array.array("Q", bytes(8 * self._width))
        if slot == self._used - 1:
            self._used = slot
            arr[0] = slot

    def _publish(self, capacity: int) -> None:
        """Publish a new array of ``capacity`` records holding the live ones, packed."""
        w = self._width
        # an array.array (never resized, so it never moves), not a ctypes array: no
        # ctypes array type made per capacity
        arr = array.array("Q", bytes(8 * (1 + capacity * w)))
        records = self._records.copy()  # no finalizer runs while it is copied
        slots: dict[int, int] = {}
        for slot, (key, rec) in enumerate(records.items()):
            arr[1 + slot * w : 1 + (slot + 1) * w] = array.array("Q", rec)
            slots[key] = slot
        arr[0] = len(records)
        # from here on removals change the new array
        self._slots = slots
        self._arr = arr
        self._used = len(records)
        self.retired.append(arr)
        self._word.value = arr.buffer_info()[0]
        for key in list(slots):  # removed or replaced while the array was filled
            now = self._records.get(key)
            if now is None:
                gone = slots.pop(key, None)
                if gone is not None:
                    self._zero(gone)
            elif now is not records[key]:
                self._write(slots[key], now)


class _SlotRegistry:
    """One-word records (non-zero) in slots, updated in place: ``[slots in use, slot,
    ...]`` where a free slot holds 0. Adding fills a free slot, or the next one and then
    the count; removing zeroes the slot; only growing publishes a new array. So a store
    costs O(1) to register however many are alive."""

    def __init__(self, state_word: int) -> None:
        self._word = ctypes.c_uint64.from_address(state_word)
        self._free: list[int] = []
        self._count = 0
        # arrays a handler on another thread may still be reading
        self.retired: deque[object] = deque(maxlen=32)
        self._arr = self._publish(16)

    def _publish(self, capacity: int) -> array.array[int]:
        # an array.array (never resized, so it never moves), not a ctypes array: no
        # ctypes type made per capacity
        arr = array.array("Q", bytes(8 * (capacity + 1)))
        if self._count:
            arr[: self._count + 1] = self._arr[: self._count + 1]
        self.retired.append(arr)
        self._word.value = arr.buffer_info()[0]
        return arr

    def add(self, record: tuple[int, ...]) -> int:
        (value,) = record
        if self._free:
            key = self._free.pop()
            self._arr[1 + key] = value
            return key
        if self._count + 1 >= len(self._arr):
            self._arr = self._publish(2 * (len(self._arr) - 1))
        key = self._count
        self._arr[1 + key] = value  # before the count that makes it visible
        self._count += 1
        self._arr[0] = self._count
        return key

    def remove(self, key: int) -> None:
        self._arr[1 + key] = 0
        self._free.append(key)


class _State:
    """The block the handlers read: ``sigaction``, registries, previous actions."""

    def __init__(self) -> None:
        # an array.array (never resized, so its words never move): no ctypes type made
        self.words = array.array("Q", bytes(GS_SIZE))
        self.address = self.words.buffer_info()[0]
        self.words[GS_SIGACTION // 8] = _SIGACTION_ADDRESS
        self.words[GS_PTHREAD_SELF // 8] = _PTHREAD_SELF_ADDRESS
        self.code = _Registry(self.address + GS_CODE, 2)
        self.memories = _Registry(self.address + GS_MEMORY, 3)
        self.cells: dict[int, array.array[int]] = {}
        #: the SIGINT handler's: store contexts, and the wasm function ranges of modules
        self.stores = _SlotRegistry(self.address + GS_STORES)
        self.funcs = _Registry(self.address + GS_FUNCS, 4)
        #: what the records of ``stores`` and ``funcs`` point to, by key
        self.keep: dict[tuple[str, int], object] = {}


#: a ``struct sigaction`` in memory: an array.array of its words (no ctypes type is made
#: for it), whose address is ``address_of(action)``
SigAction = array.array


def address_of(action: SigAction) -> int:
    """Where a ``SigAction``'s bytes are (they never move: it is never resized)."""
    address: int = action.buffer_info()[0]
    return address


def _zeroed_sigaction() -> SigAction:
    return array.array("Q", _ZERO_SIGACTION)


_ZERO_SIGACTION = bytes(SIGACTION_SIZE)


def sigaction_for(entry: int) -> SigAction:
    """A ``struct sigaction`` installing the handler at ``entry`` (SA_SIGINFO | SA_ONSTACK |
    SA_NODEFER: a previous handler it calls may leave by longjmp, as Wasmtime's does,
    which would otherwise leave the signal blocked for good)."""
    action = _zeroed_sigaction()
    action[0] = entry  # sa_sigaction, the first word
    ctypes.c_int32.from_address(address_of(action) + SIGACTION_FLAGS).value = (
        SA_SIGINFO | SA_ONSTACK | SA_NODEFER
    )
    return action


class _Handler:
    """The handlers: a private, never-freed R+X copy of the artifact's signal builtins."""

    def __init__(self, state: _State, block: BuiltinBlock) -> None:
        data, handler_offset, state_offset, interrupt_offset = block
        self.state = state
        self.size = max(round_up_to_page(len(data)), PAGE_SIZE)
        self.base = map_anonymous(self.size, PROT_READ | PROT_WRITE)
        ctypes.memmove(self.base, data, len(data))
        ctypes.c_uint64.from_address(self.base + state_offset).value = state.address
        protect(self.base, self.size, PROT_READ | PROT_EXEC)
        self.entry = self.base + handler_offset
        #: the SIGINT handler, if the block has one (``cwasm.runtime.interrupt``)
        self.interrupt_entry = None if interrupt_offset is None else self.base + interrupt_offset
        self.action = sigaction_for(self.entry)

    def install(self) -> None:
        """Make this the handler of SIGSEGV and SIGBUS unless it already is."""
        for sig, off in ((SIGSEGV, GS_PREV_SIGSEGV), (SIGBUS, GS_PREV_SIGBUS)):
            if current_handler(sig) == self.entry:
                continue
            # the previous action goes straight into the state block
            if _sigaction(sig, address_of(self.action), self.state.address + off) != 0:
                err = ctypes.get_errno()
                raise CwasmError(f"sigaction({sig}) failed: {os.strerror(err)}")


def current_handler(sig: int) -> int:
    """The address of the handler (or SIG_DFL 0 / SIG_IGN 1) now installed for ``sig``."""
    cur = _zeroed_sigaction()
    if _sigaction(sig, None, cur.buffer_info()[0]) != 0:
        raise CwasmError(f"sigaction({sig}) failed: {os.strerror(ctypes.get_errno())}")
    return int(cur[0])


_lock = threading.RLock()  # finalizers may run while it is held
_state: _State | None = None
_handler: _Handler | None = None


def _get_state() -> _State:
    global _state
    if _state is None:
        _state = _State()
    return _state


#: the handlers' code, and the offsets of the guard handler, of the state slot and of
#: the SIGINT handler (None in an artifact compiled before it existed) in that code
BuiltinBlock = tuple[bytes, int, int, int | None]


def has_builtin_block(artifact: Artifact) -> bool:
    """Whether the artifact names a signal-builtin block (checked by ``builtin_block``)."""
    return bool(artifact.elf.find_symbols((BLOCK_SYMBOL,)))


def builtin_block(artifact: Artifact) -> BuiltinBlock:
    """The artifact's signal-handler builtins, checked: the runtime copies this block into
    executable memory and writes the state block's address into its state slot, so every
    symbol value involved must lie where that is safe (``CorruptArtifactError`` if not).
    The checked block is remembered with the reader (``Artifact.derived``), which a
    second load of the same bytes shares; a failure is not remembered."""
    block = artifact.derived.get("builtin_block")
    if block is None:
        block = artifact.derived["builtin_block"] = _checked_builtin_block(artifact)
    return block  # type: ignore[return-value]


def _checked_builtin_block(artifact: Artifact) -> BuiltinBlock:
    text = artifact.elf.section(ELF_TEXT)
    syms = artifact.elf.find_symbols(
        (BLOCK_SYMBOL, HANDLER_SYMBOL, STATE_SYMBOL, INTERRUPT_HANDLER_SYMBOL)
    )
    missing = [n for n in (BLOCK_SYMBOL, HANDLER_SYMBOL, STATE_SYMBOL) if n not in syms]
    if missing:
        raise CorruptArtifactError(f"guard-page artifact lacks the builtin {missing[0]}")
    block, handler, state = syms[BLOCK_SYMBOL], syms[HANDLER_SYMBOL], syms[STATE_SYMBOL]
    if text is None or any(s.shndx != text.index for s in (block, handler, state)):
        raise CorruptArtifactError("guard-page builtins are not defined in `.text`")
    if block.size < 8 or block.value + block.size > artifact.text_size - SEAL_SIZE:
        raise CorruptArtifactError(
            f"guard-page builtins at {block.value:#x}+{block.size:#x} lie outside the code"
        )
    if not block.value <= handler.value < state.value <= block.value + block.size - 8:
        raise CorruptArtifactError("guard-page builtins are laid out unexpectedly")
    if state.value % 8:
        raise CorruptArtifactError(f"guard-page state slot at {state.value:#x} is misaligned")
    interrupt = syms.get(INTERRUPT_HANDLER_SYMBOL)
    interrupt_offset = None
    if interrupt is not None:
        if interrupt.shndx != text.index or not block.value <= interrupt.value < state.value:
            raise CorruptArtifactError("the SIGINT handler lies outside the builtin block")
        interrupt_offset = interrupt.value - block.value
    data = bytes(artifact.text[block.value : block.value + block.size])
    return data, handler.value - block.value, state.value - block.value, interrupt_offset


def load_handlers(block: BuiltinBlock) -> None:
    """Copy the handlers from ``block`` (``builtin_block``) the first time (no later block
    replaces them: the copy is never freed, and its state is the process's)."""
    global _handler
    with _lock:
        if _handler is None:
            _handler = _Handler(_get_state(), block)


def ensure_installed(block: BuiltinBlock) -> None:
    """Install the guard handler from ``block`` once, or re-assert it is."""
    load_handlers(block)
    with _lock:
        assert _handler is not None
        _handler.install()


def interrupt_handler_address() -> int | None:
    """Where the loaded SIGINT handler's code starts, or None (none loaded)."""
    return None if _handler is None else _handler.interrupt_entry


def register_interrupt_records(
    kind: str,
    owner: object,
    record: tuple[int, ...],
    keep: object,
    release_hooks: list[Callable[[], None]] | None = None,
) -> None:
    """Publish ``record`` in the SIGINT handler's registry ``kind`` (``stores`` or
    ``funcs``) while ``owner`` lives (with ``release_hooks``, the owner's: until they
    run); ``keep`` (what the record points to) lives until the record is retired."""
    with _lock:
        st = _get_state()
        key = getattr(st, kind).add(record)
        st.keep[kind, key] = keep
    if release_hooks is not None:
        release_hooks.append(functools.partial(_unregister_interrupt, kind, key))
    else:
        weakref.finalize(owner, _unregister_interrupt, kind, key)


def _unregister_interrupt(kind: str, key: int) -> None:
    with _lock:
        if _state is not None:
            reg: _Registry | _SlotRegistry = getattr(_state, kind)
            reg.remove(key)
            # it must outlive the arrays that may still mention it
            reg.retired.append(_state.keep.pop((kind, key), None))


def state_word(offset: int) -> ctypes.c_uint64:
    """A word of the state block (``GS_*`` offset)."""
    return ctypes.c_uint64.from_address(_get_state().address + offset)


def handler_address() -> int | None:
    """Where the installed handler's code starts, or None before the first guard module."""
    return None if _handler is None else _handler.entry


def register_code(
    owner: object, start: int, end: int, release_hooks: list[Callable[[], None]] | None = None
) -> None:
    """Let faults at pcs in ``[start, end)`` become traps while ``owner`` lives (with
    ``release_hooks``, the owner's: until they run)."""
    with _lock:
        reg = _get_state().code
        key = reg.add((start, end))
    if release_hooks is not None:
        release_hooks.append(functools.partial(_unregister_code, key))
    else:
        weakref.finalize(owner, _unregister_code, key)


class MemoryGuard:
    """The guard registry's record of one pooled memory reservation ``[start, end)``, which
    stays with the reservation: active while a memory uses it (faults in it trap in that
    memory's store), inactive in the pool (``hi`` zero: it matches nothing). So a memory
    made from a pooled reservation is not registered anew."""

    __slots__ = ("key", "start", "end", "cell", "_cell_address")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        # an array.array (never resized), not a ctypes array: no ctypes array type to make
        self.cell = array.array("Q", bytes(8 * _CTX_WORDS))
        self._cell_address: int = self.cell.buffer_info()[0]
        with _lock:
            st = _get_state()
            self.key = st.memories.add((start, 0, self._cell_address))
            st.cells[self.key] = self.cell

    def activate(self, store_context: int) -> None:
        """Let faults in the reservation trap in the store whose context is at
        ``store_context`` (the record is inactive until then: no handler reads the cell)."""
        self.cell[vo.CTX_STORE // 8] = store_context
        with _lock:
            _get_state().memories.set_hi(self.key, self.end)

    def deactivate(self) -> None:
        """Let faults in the reservation match nothing (it goes back to the pool)."""
        with _lock:
            if _state is not None:
                _state.memories.set_hi(self.key, 0)

    def release(self) -> None:
        """Forget the reservation (it is unmapped)."""
        _unregister_memory(self.key)


def _unregister_code(key: int) -> None:
    with _lock:
        if _state is not None:
            _state.code.remove(key)


def _unregister_memory(key: int) -> None:
    with _lock:
        if _state is not None:
            _state.memories.remove(key)
            # the cell must outlive the arrays that may still mention it
            _state.memories.retired.append(_state.cells.pop(key, None))
