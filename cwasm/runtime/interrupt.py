"""Ctrl-C while wasm runs: SIGINT stops the wasm of Python's main thread.

Wasm runs without the GIL, so Python's own SIGINT handler can only record the signal:
``KeyboardInterrupt`` would wait for the wasm to return, maybe forever. Every x86-64
Linux artifact carries a native SIGINT handler next to the guard-page one
(``cwasm.compile.signals``); the runtime copies it once with the other signal builtins
(``cwasm.runtime.guard``) and installs it in front of Python's. On SIGINT it

1. calls the previous handler (Python's), which records the signal as usual;
2. if it runs on Python's main thread with the pc in a wasm function of a loaded
   module, it redirects that thread into a trap routine of the innermost store entered
   from it (the store registry: every store's context, its entry depth, thread and
   innermost entry frame), which unwinds to that entry like any trap with the status
   ``TRAP_KEYBOARD_INTERRUPT``; ``Store.raise_trap`` turns it into ``KeyboardInterrupt``
   (Python's pending handler usually raises it first, at the call's return).

Anywhere else (a host function or runtime routine in Python: Python's flag raises
``KeyboardInterrupt`` there at its next bytecode, and it propagates out of the wasm,
see ``interrupted_since_last_look`` for one at a callback's very entry; a trampoline
or libc's memmove/memset: the wasm goes on until its next host call or return, and a
second Ctrl-C stops it) the thread is left alone.

The handler is installed (``arm``) when a module is instantiated, on condition that
Python's SIGINT handler is ``signal.default_int_handler`` (the one that raises
``KeyboardInterrupt``): a program that set its own handler (or SIG_IGN, SIG_DFL) keeps
it, and its wasm is not stopped. ``signal.signal`` replaces the native handler too, so
setting a handler later takes effect at once; setting the default one back re-arms at
the next instantiation. See docs/interruption.md.
"""

from __future__ import annotations

import _signal
import array
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from cwasm.abi import guard_layout
from cwasm.errors import CwasmError
from cwasm.runtime import guard

#: whether this machine can stop wasm on SIGINT at all
SUPPORTED = guard_layout.supported()

_action: guard.SigAction | None = None
#: the SIGINT count ``interrupted_since_last_look`` last saw
_seen = 0


def interrupted_since_last_look() -> bool:
    """Whether the SIGINT handler has seen a signal since the last time this was asked.

    A SIGINT that lands as a host function or runtime routine is being entered raises
    ``KeyboardInterrupt`` before the callback's own ``try``: ctypes can only report it as
    "ignored", and the call traps with ``TRAP_HOST_EXCEPTION``. ``Store.raise_trap`` asks
    this then, to raise the ``KeyboardInterrupt`` instead of a ``HostCallError``."""
    global _seen
    if guard.interrupt_handler_address() is None:
        return False
    count = guard.state_word(guard_layout.GS_SIGINT_COUNT).value
    seen, _seen = _seen, count
    return count != seen


def _is_runtime_callback(obj: Any) -> bool:
    """Whether ``obj`` is a ctypes callback of the runtime (a host function's or a
    runtime routine's)."""
    func = getattr(obj, "__func__", obj)
    return getattr(func, "__module__", None) in _CALLBACK_MODULES


_CALLBACK_MODULES = ("cwasm.runtime.func", "cwasm.runtime.builtins")


class _QuietInterrupts:
    """A ``sys.unraisablehook`` that drops the ``KeyboardInterrupt`` ctypes reports as
    ignored when it hit the entry of a runtime callback: the call traps, and
    ``Store.raise_trap`` raises it (``interrupted_since_last_look``). Anything else goes
    to the hook that was there before."""

    def __init__(self, previous: Callable[[Any], object]) -> None:
        self.previous = previous

    def __call__(self, unraisable: Any) -> None:
        if unraisable.exc_type is KeyboardInterrupt and _is_runtime_callback(unraisable.object):
            return
        self.previous(unraisable)


_getsignal: Callable[[int], Any] = getattr(_signal, "getsignal", signal.getsignal)
_SIGINT = int(signal.SIGINT)
_default_int_handler = signal.default_int_handler


def _quiet_ignored_interrupts() -> None:
    if not isinstance(sys.unraisablehook, _QuietInterrupts):
        sys.unraisablehook = _QuietInterrupts(sys.unraisablehook)


class Registration:
    """Runs its ``release_hooks`` when it goes (with its owner, which holds it): what a
    ``weakref.finalize`` on the owner does, for less."""

    __slots__ = ("release_hooks",)

    def __init__(self) -> None:
        self.release_hooks: list[Callable[[], None]] = []

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        if not _finalizing():  # the process is ending: nothing to give back
            for hook in self.release_hooks:
                hook()


def register_store(ctx: ctypes.Array[ctypes.c_uint64]) -> Registration:
    """Let SIGINT stop wasm of the store whose context is ``ctx`` until the registration
    returned goes (the store holds it)."""
    registration = Registration()
    if SUPPORTED:
        guard.register_interrupt_records(
            "stores", None, (ctypes.addressof(ctx),), ctx, registration.release_hooks
        )
    return registration


def register_module(
    owner: object,
    base: int,
    spans: Sequence[int],
    release_hooks: list[Callable[[], None]] | None = None,
) -> None:
    """Let SIGINT stop wasm running in a module's wasm functions while ``owner`` (which
    keeps them mapped) lives (with ``release_hooks``, the owner's: until they run):
    ``spans`` holds each function's start and end offset in its code, in ascending order
    (as the loader checks), and the code starts at ``base``."""
    n = len(spans) // 2
    if not SUPPORTED or not n:
        return
    # an array.array, not a ctypes array: no ctypes type made per length
    flat = array.array("Q", [base + offset for offset in spans])
    record = (flat[0], flat[2 * n - 1], flat.buffer_info()[0], n)
    guard.register_interrupt_records("funcs", owner, record, flat, release_hooks)


def arm() -> None:
    """Install the SIGINT handler in front of Python's, if the signal builtins are loaded,
    Python's handler is the default one and the native handler is not ours already."""
    global _action
    entry = guard.interrupt_handler_address()
    # ``_signal.getsignal``: ``signal.getsignal`` without its enum conversion
    if entry is None or _getsignal(_SIGINT) is not _default_int_handler:
        return
    if not isinstance(sys.unraisablehook, _QuietInterrupts):
        # again: something (pytest) may have replaced the hook
        _quiet_ignored_interrupts()
    current = guard.current_handler(_SIGINT)
    if current == entry or current < 2:  # ours, or SIG_DFL/SIG_IGN set behind Python's back
        return
    if _action is None:
        _action = guard.sigaction_for(entry)
    main = threading.main_thread().ident or 0
    guard.state_word(guard_layout.GS_INTERRUPT_THREAD).value = main
    # the previous action is in place before ours can run and chain to it
    prev = ctypes.addressof(guard.state_word(guard_layout.GS_PREV_SIGINT))
    if guard.sigaction(signal.SIGINT, None, prev) or guard.sigaction(
        signal.SIGINT, guard.address_of(_action), None
    ):
        err = ctypes.get_errno()
        raise CwasmError(f"sigaction(SIGINT) failed: {os.strerror(err)}")
