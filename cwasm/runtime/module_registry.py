"""ModuleRegistry: the modules of one store, kept alive, and their host trampolines by type.

Wasmtime's per-store ``ModuleRegistry``. Instantiation registers the instance's module
in its store before any of its code can run; the store then holds the module, and so
its mapped code, as long as the store lives. That is what makes it sound to point a
host function's ``VMFuncRef.wasm_call`` at a wasm-to-array trampoline of some module of
the store: the code cannot be unmapped while the store, and so the funcref, lives.

A host function's funcref whose type no registered module has yet gets its
``wasm_call`` when the first such module registers (Wasmtime's ``fill_func_refs``).
Until then it is never called from wasm: compiled code calls a funcref of type T only
through ``call_indirect`` / ``call_ref`` of type T, in a module whose type section has
T, and so a trampoline for it (``cwasm.compile.compiler.trampoline_types``), which was
registered when that module was instantiated, before its code ran.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from cwasm.abi import vmoffsets as vo

if TYPE_CHECKING:
    from cwasm.runtime.module import CompiledModule

_WASM_CALL = vo.FUNCREF_WASM_CALL // 8

#: the words of a host function's ``VMFuncRef`` (``cwasm.runtime.func.Func``)
FuncRefWords = ctypes.Array[ctypes.c_uint64]


class ModuleRegistry:
    """The modules instantiated in one store, and the wasm-to-array trampoline of every
    engine type id any of them has."""

    def __init__(self) -> None:
        #: every module registered, by identity, held for the store's lifetime
        self._modules: dict[int, CompiledModule] = {}
        #: engine type id -> address of a registered module's wasm-to-array trampoline
        self._trampolines: dict[int, int] = {}
        #: engine type id -> the host funcrefs waiting for a trampoline of that type, by
        #: their address
        self._unfilled: dict[int, dict[int, FuncRefWords]] = {}

    def register(self, module: CompiledModule) -> None:
        """Keep ``module`` alive with the store; fill the funcrefs waiting for its types."""
        if id(module) in self._modules:
            return
        self._modules[id(module)] = module
        if not self._trampolines and not self._unfilled:  # the store's first module
            self._trampolines = dict(module.wasm_to_array)
            return
        trampolines = self._trampolines
        for type_id, address in module.wasm_to_array.items():
            if type_id in trampolines:
                continue
            trampolines[type_id] = address
            waiting = self._unfilled.pop(type_id, None)
            if waiting:
                for words in waiting.values():
                    words[_WASM_CALL] = address

    def wasm_to_array_trampoline(self, type_id: int) -> int | None:
        """The address of a registered module's wasm-to-array trampoline for ``type_id``."""
        return self._trampolines.get(type_id)

    def fill_func_ref(self, words: FuncRefWords, type_id: int) -> None:
        """Set the ``wasm_call`` of the host funcref ``words`` (of type ``type_id``) now if
        a registered module has the trampoline, else when the first such module registers."""
        address = self._trampolines.get(type_id)
        if address is not None:
            words[_WASM_CALL] = address
        else:
            self._unfilled.setdefault(type_id, {})[ctypes.addressof(words)] = words

    def __len__(self) -> int:
        return len(self._modules)

    def __contains__(self, module: object) -> bool:
        return self._modules.get(id(module)) is module
