"""Linker: resolves a module's imports by (module, name) and instantiates it (wasmtime-py's shape).

An item is either bound to a store (``define``, ``define_instance``, a reactor's
exports from ``define_module``) or store-independent: a host function described once
(``define_func``, ``define_wasi``, a command's exports) that becomes a ``Func`` in
whichever store needs it, one per store (kept in ``Store.linker_funcs``). A
``define_func`` or ``define_wasi`` function (``HostFuncDef``) needs no ``Func`` to be
imported: an instantiation links it through the store's host context of it
(``cwasm.runtime.host_defs``), and its ``Func`` is made when Python first asks for it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cwasm.closable import Closable
from cwasm.errors import LinkError
from cwasm.runtime.engine import Engine
from cwasm.runtime.func import Func, HostFuncTemplate
from cwasm.runtime.global_ import Global
from cwasm.runtime.host_defs import HostFuncDef, HostImports, linker_func, plan_host_imports
from cwasm.runtime.instance import Instance
from cwasm.runtime.memory import Memory
from cwasm.runtime.module import ArtifactModule
from cwasm.runtime.shared_memory import SharedMemory
from cwasm.runtime.store import Store
from cwasm.runtime.table import Table
from cwasm.runtime.tag import Tag
from cwasm.runtime.types import FuncType

if TYPE_CHECKING:
    from cwasm.runtime.module import CompiledModule

Extern = Func | Table | Memory | SharedMemory | Global | Tag
#: the most ``HostImports`` plans a linker keeps
_PLANS_KEPT = 64


@dataclass(frozen=True, eq=False)
class _FuncDef:
    """A host function not yet bound to a store."""

    ty: FuncType
    make: Callable[[Store], Func]


def _check_name(name: str) -> None:
    # wasmtime-py encodes names to UTF-8 first, so a non-str is an AttributeError there
    if not isinstance(name, str):
        raise AttributeError(f"a linker name must be a str, not {type(name).__name__}")


class Linker(Closable):
    """Name → item table used to satisfy imports (wasmtime-py's ``Linker``)."""

    def __init__(self, engine: Engine) -> None:
        """Creates a new linker ready to instantiate modules for ``engine``."""
        engine._check_open()
        self._closed = False  # set, so that ``_check_open`` finds it without a miss
        self.engine = engine
        self._items: dict[tuple[str, str], Extern | _FuncDef | HostFuncDef] = {}
        self._allow_shadowing = False
        #: how the imports of each module it instantiated resolve, when all are linker
        #: host functions (``HostImports``), by the compiled module's identity (held
        #: weakly: the linker does not keep modules); forgotten at every definition
        self._plans: dict[int, tuple[weakref.ref[CompiledModule], HostImports]] = {}

    @property
    def allow_shadowing(self) -> bool:
        """Configures whether definitions are allowed to shadow one another within this
        linker (a bool)."""
        return self._allow_shadowing

    @allow_shadowing.setter
    def allow_shadowing(self, allow: bool) -> None:
        self._check_open()
        if not isinstance(allow, bool):
            raise TypeError("expected a boolean")
        self._allow_shadowing = allow

    # --- defining ---

    def _insert(self, module: str, name: str, item: Extern | _FuncDef | HostFuncDef) -> None:
        self._check_open()
        _check_name(module)
        _check_name(name)
        key = (module, name)
        if key in self._items and not self._allow_shadowing:
            raise LinkError(f"import of `{module}::{name}` defined twice")
        self._items[key] = item
        self._plans.clear()

    def _check_store(self, store: Store, item: Extern, what: str) -> None:
        if isinstance(item, SharedMemory):  # in no store: any store may import it
            return
        if item.store is not store:
            raise LinkError(f"{what} belongs to another store")

    def define(self, store: Store, module: str, name: str, item: Extern) -> None:
        """Defines a new item, by name, in this linker.

        Raises an error if ``item`` comes from the wrong store or if shadowing is
        disallowed and the module/name pair has already been defined."""
        if not isinstance(item, (Func, Table, Memory, SharedMemory, Global, Tag)):
            raise TypeError(f"cannot define a {type(item).__name__} in a linker")
        self._check_store(store, item, f"`{module}::{name}`")
        self._insert(module, name, item)

    def define_func(
        self,
        module: str,
        name: str,
        ty: FuncType,
        func: Callable[..., Any],
        access_caller: bool = False,
    ) -> None:
        """Defines a new function, by name, in this linker.

        This method is similar to ``define`` except that you can directly define a
        function without creating a ``Func`` itself. This enables ``Store``-independent
        functions to be inserted into this linker, meaning the linker can be used to
        instantiate modules in multiple stores."""
        if not isinstance(ty, FuncType):
            raise TypeError("expected a FuncType")
        engine = self.engine
        template = HostFuncTemplate.of(engine, ty.wasm, ty.type_id_in(engine))
        self._insert(module, name, HostFuncDef(template, func, access_caller))

    def define_instance(self, store: Store, name: str, instance: Instance) -> None:
        """Convenience wrapper to define an entire instance in this linker: each of its
        exports under ``name`` as the module name and the export's own name.

        Raises an error if ``instance`` comes from the wrong store or if shadowing is
        disallowed and a name was previously defined."""
        if not isinstance(instance, Instance):
            raise TypeError("expected an `Instance`")
        if instance.store is not store:
            raise LinkError(f"instance defined as `{name}` belongs to another store")
        for export, item in instance.exports(store).items():
            self._insert(name, export, item)

    def define_module(self, store: Store, name: str, module: ArtifactModule) -> None:
        """Define a module's exports under ``name``: a *command* (it exports ``_start``)
        gets a fresh instance for every call of an export; a *reactor* is instantiated
        once, its ``_initialize`` (if any) called, and its exports defined."""
        if not isinstance(module, ArtifactModule):
            raise TypeError("expected a `Module`")
        self._check_open()
        exports = {e.name: e.type for e in module.exports}
        if "_start" in exports:
            for export, ty in exports.items():
                if isinstance(ty, FuncType):
                    self._insert(name, export, self._command_export(module, export, ty))
            return
        instance = self.instantiate(store, module)
        init = instance.exports(store).get("_initialize")
        if isinstance(init, Func):
            init(store)
        self.define_instance(store, name, instance)

    def _command_export(self, module: ArtifactModule, export: str, ty: FuncType) -> _FuncDef:
        def make(store: Store) -> Func:
            def call(*args: Any) -> Any:
                fresh = self.instantiate(store, module)
                target = fresh.exports(store)[export]
                assert isinstance(target, Func)
                return target(store, *args)

            return Func(store, ty, call)

        return _FuncDef(ty, make)

    def define_wasi(self) -> None:
        """Define every ``wasi_snapshot_preview1`` function (served by ``Store.set_wasi``)."""
        from cwasm.runtime.wasi_link import wasi_host
        from cwasm.wasi import WASI_FUNCTIONS, WASI_MODULE

        engine = self.engine
        for name, function in WASI_FUNCTIONS.items():
            template = HostFuncTemplate.of(engine, function.type)
            self._insert(WASI_MODULE, name, HostFuncDef(template, wasi_host(function), True))

    # --- resolving ---

    def _resolve(
        self, store: Store, module: str, name: str, item: Extern | _FuncDef | HostFuncDef
    ) -> Extern:
        if isinstance(item, HostFuncDef):
            return linker_func(store, item)
        if isinstance(item, _FuncDef):
            f = store.linker_funcs.get(item)
            if f is None:
                f = item.make(store)
                store.linker_funcs[item] = f
            return f
        self._check_store(store, item, f"`{module}::{name}`")
        return item

    def get(self, store: Store, module: str, name: str) -> Extern:
        """Gets a singular item defined in this linker (an error if it is not defined)."""
        self._check_open()
        item = self._items.get((module, name))
        if item is None:
            raise LinkError(f"no item named `{module}::{name}` in the linker")
        return self._resolve(store, module, name, item)

    def get_default(self, store: Store, name: str) -> Func:
        """``name``'s default export (the function named ``""``, else ``_start``), or a
        function that does nothing if it has neither."""
        self._check_open()
        for export in ("", "_start"):
            item = self._items.get((name, export))
            if item is not None:
                f = self._resolve(store, name, export, item)
                if isinstance(f, Func):
                    return f
        return Func(store, FuncType([], []), lambda: None)

    def instantiate(self, store: Store, module: ArtifactModule) -> Instance:
        """Instantiates a module using this linker's defined set of names.

        Raises an error if an import of ``module`` hasn't been defined in this linker or
        if a trap happens while instantiating the instance."""
        self._check_open()
        if module.engine is not self.engine or store.engine is not self.engine:
            raise LinkError("the module, the store and the linker belong to different engines")
        module._check_open()
        cm = module.compiled
        planned = self._plans.get(id(cm))
        if planned is not None and planned[0]() is cm:  # as the last time
            return Instance._linked(store, module, planned[1])
        imports: list[Extern | HostFuncDef] = []
        items = self._items
        for imp in cm.m.imports:  # the names only: no ImportType objects
            item = items.get((imp.module, imp.name))
            if item is None:
                raise LinkError(f"unknown import: `{imp.module}::{imp.name}` has not been defined")
            if type(item) is HostFuncDef:  # linked through the store's host context of it
                imports.append(item)
            else:
                imports.append(self._resolve(store, imp.module, imp.name, item))
        if imports and all(type(item) is HostFuncDef for item in imports):
            m = cm.m
            plan = plan_host_imports(
                tuple(imports),  # type: ignore[arg-type]
                cm.wasm_to_array,
                m.functions[: len(imports)],
                cm.type_ids,
                self.engine.types.is_subtype,
            )
            if plan is not None:
                plans = self._plans
                if len(plans) >= _PLANS_KEPT:  # of modules that may be gone: start afresh
                    plans.clear()
                plans[id(cm)] = (weakref.ref(cm), plan)
                return Instance._linked(store, module, plan)
        return Instance._linked(store, module, imports)
