"""Host functions a ``Linker`` defines once for every store (``define_func``, ``define_wasi``).

Such a definition is store-independent: a callable and its signature. Compiled code of
a store enters it through a *host context* of that store (``HOSTCTX_*`` in
``cwasm.abi.vmoffsets``), and that is all an instantiation needs: the contexts of a
store's definitions live side by side in blocks (``_HostBlock``), each context's
``HOSTCTX_FUNC`` word naming its block, whose ``_on_call`` finds the definition by the
context's place in it and runs the callable with the block's store (``run_host``, as a
host ``Func`` runs its own). No ``Func`` is made per store until Python asks for one
(``Linker.get``, an export of a re-exported import, a funcref read from wasm, the
start function): ``linker_func`` makes it then, entered through the same context, and
the store keeps it, so every later request returns that same object.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cwasm.abi import vmoffsets as vo
from cwasm.runtime.func import (
    HOST_CALLBACK_ADDRESS,
    Func,
    HostFuncTemplate,
    run_host,
    set_completion,
)

if TYPE_CHECKING:
    from cwasm.runtime.store import Store

#: host contexts per block (a block is one allocation, made when a store needs it)
BLOCK_CONTEXTS = 16
_CTX_WORDS = vo.HOSTCTX_SIZE // 8


class HostFuncDef:
    """A host function not bound to a store: ``func`` of signature ``template`` (an
    engine's ``HostFuncTemplate``), given a ``Caller`` first if ``access_caller``."""

    __slots__ = (
        "template",
        "type_id",
        "_host",
        "_access_caller",
        "_nres",
        "_host_args",
        "_host_results",
        "_view_t",
    )

    def __init__(
        self, template: HostFuncTemplate, func: Callable[..., Any], access_caller: bool
    ) -> None:
        self.template = template
        shared = template.shared
        #: the engine type id of its signature
        self.type_id: int = shared["type_id"]
        self._host: Callable[..., Any] | None = func
        self._access_caller = access_caller
        # what ``run_host`` reads, as a host ``Func`` has it
        self._nres: int = shared["_nres"]
        self._host_args = shared["_host_args"]
        self._host_results = shared["_host_results"]
        self._view_t = shared["_view_t"]


class _HostBlock:
    """Up to ``capacity`` host contexts of one store's linker definitions, in one buffer
    that never moves (an ``array.array`` never resized); the store keeps it. Every
    context of a block has the same words (its ``HOSTCTX_FUNC`` names the block, which
    finds the definition by the context's place). Made for the definitions ``defs`` (all
    of its contexts in use), or empty, to be filled as definitions are bound
    (``BLOCK_CONTEXTS`` of them)."""

    __slots__ = ("store", "words", "base", "defs", "capacity")

    def __init__(
        self,
        store: Store,
        defs: tuple[HostFuncDef, ...] | None = None,
        capacity: int = BLOCK_CONTEXTS,
    ) -> None:
        self.store = store
        if defs is not None:
            capacity = len(defs)
        self.capacity = capacity
        context = array.array("Q", bytes(vo.HOSTCTX_SIZE))
        context[vo.CTX_MAGIC // 8] = vo.HOSTCTX_MAGIC
        context[vo.CTX_STORE // 8] = store.ctx_address
        context[vo.HOSTCTX_CALLBACK // 8] = HOST_CALLBACK_ADDRESS
        context[vo.HOSTCTX_FUNC // 8] = id(self)  # borrowed: the store keeps the block
        self.words = words = context * capacity
        self.base: int = words.buffer_info()[0]
        #: the definition of each context in use, in order
        self.defs: list[HostFuncDef] | tuple[HostFuncDef, ...] = [] if defs is None else defs

    def _on_call(self, hostctx: int, caller_vmctx: int | None, values: int, count: int) -> int:
        """The host callback's entry (``cwasm.runtime.func._call_host``) for a context of
        this block."""
        f = self.defs[(hostctx - self.base) // vo.HOSTCTX_SIZE]
        status = run_host(f, self.store, f._view_t.from_address(values), caller_vmctx)
        if status == 0 or status == vo.HOST_RETHROW:
            set_completion(values, count, status)
        return status


def host_context(store: Store, d: HostFuncDef) -> int:
    """The address of ``store``'s host context of ``d`` (made on first use)."""
    address = store.host_contexts.get(d)
    if address is None:
        address = _bind(store, d)
    return address


def _bind(store: Store, d: HostFuncDef) -> int:
    block: _HostBlock | None = store.host_block
    if block is None or len(block.defs) == block.capacity:
        block = store.host_block = _HostBlock(store)
        store.keep(block)
    defs = block.defs
    assert isinstance(defs, list)  # the store's open block
    k = len(defs)
    defs.append(d)  # the context at ``k`` is complete from now on
    address: int = block.base + k * vo.HOSTCTX_SIZE
    store.host_contexts[d] = address
    return address


def linker_func(store: Store, d: HostFuncDef) -> Func:
    """``store``'s ``Func`` of definition ``d``: made once, entered through the store's
    host context of ``d``, so that wasm and Python see one function."""
    f = store.linker_funcs.get(d)
    if f is None:
        f = d.template.make(store, d._host, d._access_caller, host_context(store, d))  # type: ignore[arg-type]
        store.linker_funcs[d] = f
    return f


class HostImports:
    """How a module's imports resolve in one state of a ``Linker`` when every one of them is
    a linker host function (``HostFuncDef``), worked out once (``plan_host_imports``):
    each imported function's ``VMFuncRef`` but its host context, per column."""

    __slots__ = ("defs", "unique", "slots", "by_index", "wasm_calls", "type_ids")

    def __init__(self, defs: tuple[HostFuncDef, ...], wasm_calls: list[int]) -> None:
        #: the definition of each import, in order
        self.defs = defs
        #: each definition once, in order of first import, and each import's place there
        self.unique = tuple(dict.fromkeys(defs))
        self.slots = tuple(self.unique.index(d) for d in defs)
        #: ``Instance._host_defs`` of every instance linked so (shared: never changed)
        self.by_index: dict[int, HostFuncDef] = dict(enumerate(defs))
        #: the ``wasm_call`` and ``type_id`` columns of the imports' ``VMFuncRef``s
        self.wasm_calls = array.array("Q", wasm_calls)
        self.type_ids = array.array("Q", [d.type_id for d in defs])

    def contexts(self, store: Store) -> array.array[int]:
        """The address of ``store``'s host context of each import's definition: the
        contexts of one block made for the plan in that store (a definition's ``Func``,
        made when asked for, has a context of its own: ``linker_func``; both run the
        definition in the store)."""
        addresses = store.host_plans.get(self)
        if addresses is None:
            block = _HostBlock(store, self.unique)
            store.keep(block)
            base = block.base
            if len(self.unique) == len(self.defs):
                at = range(base, base + vo.HOSTCTX_SIZE * len(self.defs), vo.HOSTCTX_SIZE)
                addresses = array.array("Q", at)
            else:
                addresses = array.array("Q", [base + vo.HOSTCTX_SIZE * k for k in self.slots])
            store.host_plans[self] = addresses
        return addresses


def plan_host_imports(
    defs: tuple[HostFuncDef, ...],
    wasm_to_array: Mapping[int, int],
    func_types: Sequence[int],
    type_ids: Sequence[int],
    is_subtype: Callable[[int, int], bool],
) -> HostImports | None:
    """The ``HostImports`` of a module whose imports are the functions ``defs`` (of the
    module's types ``func_types``, whose engine ids are ``type_ids``), or None if one
    does not link (the general path then reports it, in import order)."""
    wasm_calls = []
    for d, ti in zip(defs, func_types, strict=True):
        if d.type_id != type_ids[ti] and not is_subtype(d.type_id, type_ids[ti]):
            return None
        tramp = wasm_to_array.get(d.type_id)
        if tramp is None:
            return None
        wasm_calls.append(tramp)
    return HostImports(defs, wasm_calls)
