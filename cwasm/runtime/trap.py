"""Traps as Python sees them: the ``Trap`` exception and its ``Frame``s.

When compiled code traps, the trap routine leaves the trap code and the return
addresses of the frame-pointer chain in the store context. ``Trap`` keeps those raw
addresses and resolves them lazily into frames — function index and name from the
module's info and name section, module offset from its address map — using the
registry of loaded code (``registry.CODE``), which maps any native address back to
its ``CompiledModule``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from cwasm.errors import CwasmError, error_chain
from cwasm.obj.traps import Trap as TrapKind
from cwasm.runtime.registry import CODE


class TrapCode(enum.IntEnum):
    """Why wasm trapped: wasmtime-py's names, valued as the artifact's trap bytes."""

    STACK_OVERFLOW = TrapKind.StackOverflow.value
    MEMORY_OUT_OF_BOUNDS = TrapKind.MemoryOutOfBounds.value
    HEAP_MISALIGNED = TrapKind.HeapMisaligned.value
    TABLE_OUT_OF_BOUNDS = TrapKind.TableOutOfBounds.value
    INDIRECT_CALL_TO_NULL = TrapKind.IndirectCallToNull.value
    BAD_SIGNATURE = TrapKind.BadSignature.value
    INTEGER_OVERFLOW = TrapKind.IntegerOverflow.value
    INTEGER_DIVISION_BY_ZERO = TrapKind.IntegerDivisionByZero.value
    BAD_CONVERSION_TO_INTEGER = TrapKind.BadConversionToInteger.value
    UNREACHABLE = TrapKind.UnreachableCodeReached.value
    UNREACHABLE_CODE_REACHED = UNREACHABLE  # an alias, after Wasmtime's own variant name
    INTERRUPT = TrapKind.Interrupt.value
    ALWAYS_TRAP_ADAPTER = TrapKind.AlwaysTrapAdapter.value
    OUT_OF_FUEL = TrapKind.OutOfFuel.value
    ATOMIC_WAIT_NON_SHARED_MEMORY = TrapKind.AtomicWaitNonSharedMemory.value
    NULL_REFERENCE = TrapKind.NullReference.value
    ARRAY_OUT_OF_BOUNDS = TrapKind.ArrayOutOfBounds.value
    ALLOCATION_TOO_LARGE = TrapKind.AllocationTooLarge.value
    CAST_FAILURE = TrapKind.CastFailure.value
    CANNOT_ENTER_COMPONENT = TrapKind.CannotEnterComponent.value


_KNOWN_CODES = frozenset(TrapCode)


@dataclass(frozen=True, slots=True)
class Frame:
    """One wasm frame of a trap's backtrace (innermost first)."""

    func_index: int
    func_name: str | None
    module_name: str | None
    func_offset: int | None  # offset of the position within the function's body
    module_offset: int | None  # offset of the position within the wasm module

    def __str__(self) -> str:
        """``0x2d - module!name`` as in Wasmtime's backtraces (without a position when the
        frame has none)."""
        name = (
            self.func_name if self.func_name is not None else f"<wasm function {self.func_index}>"
        )
        mod = self.module_name if self.module_name is not None else "<unknown>"
        at = f"{self.module_offset:#6x} - " if self.module_offset is not None else ""
        return f"{at}{mod}!{name}"


def backtrace_text(frames: Sequence[Frame]) -> str:
    """Wasmtime's ``WasmBacktrace`` text: the context it adds to an error raised in wasm."""
    lines = ["error while executing at wasm backtrace:"]
    lines.extend(f"  {i:>3}: {f}" for i, f in enumerate(frames))
    return "\n".join(lines)


class Trap(CwasmError):
    """A WebAssembly trap: ``trap_code``, ``message`` and a wasm backtrace in ``frames``.

    ``Trap(message)`` creates a new trap with the given ``message`` (wasmtime-py's
    constructor); the runtime raises the ones compiled code reports, with their code and
    the return addresses of the frames it unwound.
    """

    def __init__(self, code: int | str, return_addresses: tuple[int, ...] = ()) -> None:
        if isinstance(code, str):
            self._code: TrapCode | None = None
            self._text = code
        elif code in _KNOWN_CODES:
            self._code = TrapCode(code)
            self._text = f"wasm trap: {TrapKind(code).message}"
        else:  # compiled code is trusted, but an unknown code is still reported, not raised
            self._code = None
            self._text = f"wasm trap: unknown trap code {code}"
        self._ras = return_addresses
        self._frames: list[Frame] | None = None
        super().__init__(self._text)

    @property
    def trap_code(self) -> TrapCode | None:
        """An optional ``TrapCode`` that corresponds to why this trap happened.

        ``None`` for traps created with ``Trap(message)``, which have no code."""
        return self._code

    @property
    def description(self) -> str:
        """Why wasm trapped, alone: ``wasm trap: <what happened>`` (Wasmtime's wording), or
        the message a ``Trap(message)`` was created with."""
        return self._text

    @property
    def message(self) -> str:
        """The message for this trap: Wasmtime's error text, the description with the wasm
        backtrace as its context (``error while executing at wasm backtrace:`` ...
        ``Caused by:`` ...) when there are wasm frames."""
        return error_chain(self.chain)

    @property
    def chain(self) -> list[str]:
        """The messages of the error chain ``message`` shows, outermost first."""
        frames = self.frames
        return [backtrace_text(frames), self._text] if frames else [self._text]

    @property
    def frames(self) -> list[Frame]:
        """The wasm frames of the backtrace, innermost first."""
        if self._frames is None:
            self._frames = resolve_frames(self._ras)
        return self._frames

    @property
    def trace(self) -> list[str]:
        """Each frame of ``frames`` as Wasmtime's backtrace shows it."""
        return [str(f) for f in self.frames]

    def __str__(self) -> str:
        return self.message


def resolve_frames(return_addresses: tuple[int, ...]) -> list[Frame]:
    """Wasm frames for the recorded return addresses (the first one is the trap site's)."""
    frames: list[Frame] = []
    for i, ra in enumerate(return_addresses):
        m = CODE.lookup(ra)
        if m is None:
            continue
        # the trap site is the call instruction itself; a return address is one past a call
        pc = ra - m.call_size if i == 0 else ra - 1
        f = m.frame_at(pc - m.code.base)
        if f is not None:
            frames.append(f)
    return frames
