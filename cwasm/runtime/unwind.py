"""The system unwinder (libgcc's ``_Unwind_*``), which carries wasm exceptions across
wasm frames (docs/exceptions.md).

* ``register_frames`` / ``deregister_frames``: hand a module's ``.eh_frame`` (mapped
  right after its code, checked by ``cwasm.obj.eh_frame.check`` when the artifact was
  read) to the unwinder, and take it back before the code mapping goes.
* ``UNWIND_FUNCTIONS``: the addresses compiled code reaches through the store
  context's unwind record (``cwasm.abi.vmoffsets.UNWIND_*``): the throw routine calls
  ``_Unwind_RaiseException``, the personality routine the context accessors.

The unwinder and the frame registry must be one library's: both come from the
``libgcc_s`` loaded here.
"""

from __future__ import annotations

import ctypes

from cwasm.errors import CwasmError

__all__ = ["UNWIND_FUNCTIONS", "UnwindError", "deregister_frames", "register_frames"]


class UnwindError(CwasmError):
    """The system unwinder (libgcc_s) is not available."""


def _load() -> ctypes.CDLL:
    try:
        return ctypes.CDLL("libgcc_s.so.1")
    except OSError:
        pass
    # only then the search (``ldconfig -p`` in a subprocess: milliseconds on every import)
    from ctypes.util import find_library

    name = find_library("gcc_s")
    if name:
        try:
            return ctypes.CDLL(name)
        except OSError:
            pass
    raise UnwindError("libgcc_s (the system unwinder) could not be loaded")


_libgcc = _load()
_register = _libgcc.__register_frame
_register.restype = None
_register.argtypes = (ctypes.c_void_p,)
_deregister = _libgcc.__deregister_frame
_deregister.restype = ctypes.c_void_p
_deregister.argtypes = (ctypes.c_void_p,)


def _address(symbol: str) -> int:
    addr = ctypes.cast(getattr(_libgcc, symbol), ctypes.c_void_p).value
    if not addr:
        raise UnwindError(f"libgcc_s has no {symbol}")
    return addr


#: in the order of the unwind record's function slots (``UNWIND_RAISE`` onwards)
UNWIND_FUNCTIONS: tuple[int, ...] = tuple(
    _address(name)
    for name in (
        "_Unwind_RaiseException",
        "_Unwind_GetIP",
        "_Unwind_GetLanguageSpecificData",
        "_Unwind_GetRegionStart",
        "_Unwind_SetGR",
        "_Unwind_SetIP",
    )
)


def register_frames(address: int) -> None:
    """Make the ``.eh_frame`` at ``address`` (checked, terminated) known to the unwinder."""
    _register(address)


def deregister_frames(address: int) -> None:
    """Forget the ``.eh_frame`` at ``address`` (before its memory goes)."""
    _deregister(address)
