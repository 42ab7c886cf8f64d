"""The guard-page contract between compiled code and the runtime: modes, sizes, symbols
and the x86-64 Linux (glibc) structure layouts the signal handler reads.

Pure data and target logic, shared by ``cwasm.compile`` (which emits the handler) and
``cwasm.runtime.guard`` (which installs it), as ``vmoffsets`` is for the vmctx.
"""

from __future__ import annotations

import os
import sys

from cwasm.errors import CwasmError

EXPLICIT = "explicit"
GUARD_PAGES = "guard-pages"
BOUNDS_CHECKS = (EXPLICIT, GUARD_PAGES)

#: bytes of PROT_NONE address space after the 4 GiB a 32-bit index can reach (Wasmtime's
#: default); accesses whose static offset plus width exceed it keep an explicit check
GUARD_SIZE = 32 << 20
#: address space every guard-mode memory reserves
GUARD_RESERVATION = (4 << 30) + GUARD_SIZE

HANDLER_SYMBOL = "cwasm_guard_handler"
GUARD_TRAP_SYMBOL = "cwasm_guard_trap"
STATE_SYMBOL = "cwasm_guard_state"
#: the SIGINT handler (see ``cwasm.runtime.interrupt``) and the routine it redirects to
INTERRUPT_HANDLER_SYMBOL = "cwasm_interrupt_handler"
INTERRUPT_TRAP_SYMBOL = "cwasm_interrupt_trap"
#: the artifact symbol covering the whole builtin block (handlers .. state slot)
BLOCK_SYMBOL = "cwasm_guard_builtins"

# x86-64 Linux / glibc layouts
SIGINT = 2
SIGBUS = 7
SIGSEGV = 11
SA_SIGINFO = 4
SA_ONSTACK = 0x08000000
SA_NODEFER = 0x40000000
SA_RESTORER = 0x04000000
SIGACTION_SIZE = 152  # handler(8), sa_mask(128), sa_flags(4 + 4 pad), sa_restorer(8)
SIGACTION_FLAGS = 136
SIGINFO_ADDR = 16
UC_MCONTEXT = 40
UC_RDI = UC_MCONTEXT + 8 * 8
UC_RSP = UC_MCONTEXT + 15 * 8
UC_RIP = UC_MCONTEXT + 16 * 8

# the state block
GS_SIGACTION = 0
GS_CODE = 8
GS_MEMORY = 16
GS_PREV_SIGSEGV = 32
GS_PREV_SIGBUS = GS_PREV_SIGSEGV + SIGACTION_SIZE
GS_PREV_SIGINT = GS_PREV_SIGBUS + SIGACTION_SIZE
#: the store contexts ``[count, ctx, ...]``, 0 for a free slot (the SIGINT handler's registry)
GS_STORES = GS_PREV_SIGINT + SIGACTION_SIZE
#: the wasm function code ``[count, lo, hi, ranges, n, ...]``, one record per loaded module:
#: its span and its ``n`` function ranges ``[lo, hi, ...]`` (the SIGINT handler's registry)
GS_FUNCS = GS_STORES + 8
#: ``pthread_self()`` of the thread whose wasm SIGINT stops (Python's main thread), 0: none
GS_INTERRUPT_THREAD = GS_FUNCS + 8
#: the address of ``pthread_self``
GS_PTHREAD_SELF = GS_INTERRUPT_THREAD + 8
#: how many SIGINTs the SIGINT handler has seen
GS_SIGINT_COUNT = GS_PTHREAD_SELF + 8
GS_SIZE = GS_SIGINT_COUNT + 8


def supported(target: str | None = None) -> bool:
    """Whether guard pages can be used on this machine (or for ``target``)."""
    if target is not None:
        return target.startswith("x86_64-") and "-linux" in target
    return sys.platform.startswith("linux") and os.uname().machine == "x86_64"


#: what ``bounds_checks=None`` means where guard pages are supported
DEFAULT_WHERE_SUPPORTED = GUARD_PAGES


def resolve(setting: str | None, target: str) -> str:
    """The bounds-check mode an engine for ``target`` uses for the ``setting`` it was given.

    ``None`` means automatic: ``CWASM_BOUNDS_CHECKS`` if set, else the default, falling
    back to explicit checks where guard pages are not supported. A mode asked for by
    name must be supported.
    """
    if setting is None:
        env = os.environ.get("CWASM_BOUNDS_CHECKS", "").strip()
        if env and env not in BOUNDS_CHECKS:
            raise CwasmError(f"CWASM_BOUNDS_CHECKS must be one of {', '.join(BOUNDS_CHECKS)}")
        mode = env or DEFAULT_WHERE_SUPPORTED
        return mode if mode == EXPLICIT or supported(target) else EXPLICIT
    if setting not in BOUNDS_CHECKS:
        raise CwasmError(
            f"bounds_checks must be one of {', '.join(BOUNDS_CHECKS)}, not {setting!r}"
        )
    if setting == GUARD_PAGES and not supported(target):
        raise CwasmError(
            f"bounds_checks='guard-pages' is only supported on x86_64 Linux, not {target}"
        )
    return setting
