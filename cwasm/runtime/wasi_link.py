"""WASI preview1 as host functions of a store: ``Store.set_wasi`` and ``Linker.define_wasi``.

A store's WASI state is a ``WasiContext`` built from the ``WasiConfig`` given to
``Store.set_wasi``. Each ``wasi_snapshot_preview1`` import becomes a host function
that, at call time, looks up that context and the *calling* instance's exported
``memory`` and forwards to ``WasiContext.call``. ``proc_exit`` raises ``WasiExit``,
which travels out of the compiled frames like any host exception and reaches the
Python caller of ``_start`` unchanged (it is also importable as ``ExitTrap``, with
``.code``). As in Wasmtime, a call fails as a whole (a ``WasiCallError`` with the wasm
backtrace) when a pointer is out of bounds or the caller exports no ``memory``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cwasm.errors import CwasmError
from cwasm.runtime.func import Caller, Func, HostFuncTemplate
from cwasm.runtime.memory import Memory
from cwasm.runtime.shared_memory import SharedMemory
from cwasm.runtime.types import FuncType
from cwasm.wasi import RawMemory, WasiConfig, WasiContext, WasiExit, WasiFunction
from cwasm.wasi.errors import MissingMemoryExport

if TYPE_CHECKING:
    from cwasm.runtime.store import Store

#: wasmtime-py's name for the exception ``proc_exit`` raises (it carries ``.code``)
ExitTrap = WasiExit


def set_wasi(store: Store, config: WasiConfig) -> WasiContext:
    """Give ``store`` a fresh WASI context for ``config`` (closing any previous one)."""
    config._check_open()
    old = store.wasi
    context = WasiContext(config)
    store.wasi = context
    weakref.finalize(store, context.close)
    if old is not None:
        old.close()
    return context


def guest_memory(caller: Caller) -> RawMemory:
    """The calling instance's exported ``memory`` as WASI sees it, a ``Memory`` or (as in
    Wasmtime) a ``SharedMemory``; every WASI call fails without one, as in Wasmtime."""
    memory = caller.get("memory")
    if not isinstance(memory, (Memory, SharedMemory)):
        raise MissingMemoryExport
    return RawMemory(memory.base, memory.data_len())


def wasi_host(function: WasiFunction) -> Callable[..., Any]:
    """The host callable (``access_caller``) implementing the WASI import ``function`` in
    any store: it serves the calling store's WASI context (``Store.set_wasi``)."""
    name = function.name
    returns = bool(function.type.results)

    def call(caller: Caller, *args: int) -> Any:
        context = caller.store.wasi
        if context is None:
            raise CwasmError(
                f"WASI function `{name}` called, but the store has no WASI configuration "
                "(call Store.set_wasi first)"
            )
        errno = context.call(name, guest_memory(caller), *args)
        return errno if returns else None

    return call


def wasi_func(
    store: Store, function: WasiFunction, template: HostFuncTemplate | None = None
) -> Func:
    """The host function implementing the WASI import ``function`` in ``store``
    (``template``: its signature's, when the caller holds it already)."""
    call = wasi_host(function)
    if template is None:
        return Func(store, FuncType.from_wasm(function.type), call, access_caller=True)
    store._check_open()
    return template.make(store, call, access_caller=True)


__all__ = ["ExitTrap", "guest_memory", "set_wasi", "wasi_func", "wasi_host"]
