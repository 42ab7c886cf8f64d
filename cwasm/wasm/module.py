"""ModuleRecord: a module's spec-level description, defined once for the whole code base.

It is what Wasmtime calls ``wasmtime_environ::Module`` minus what only an artifact has:
the types and the index spaces (imports first, then definitions), exports, the start
function and the element segments. The decoder builds one (``ModuleTranslation.module``);
an artifact's ``CompiledModuleInfo.module`` is the same record, encoded field by field by
``cwasm.obj.info.codec``; ``cwasm.abi.vmoffsets.VMOffsets.for_module`` lays out the vmctx
from it. Adding a field here means adding its entry to that codec's ``INFO_FIELDS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cwasm.wasm.gc_types import CompositeType, SubType, canonical_gc_types
from cwasm.wasm.types import (
    ConstExpr,
    ElementSegment,
    Export,
    FuncType,
    GlobalType,
    Import,
    MemoryType,
    TableType,
    canonical_types,
)


@dataclass(frozen=True, slots=True)
class ModuleRecord:
    """The types, index spaces, exports, start function and element segments of a module.

    Index spaces follow the spec (and Wasmtime's ``Module``): ``functions``, ``tables``,
    ``memories`` and ``globals`` list imported entities first, then defined ones;
    ``global_inits`` covers defined globals only. The record is immutable (tuples), so the
    translation and the artifact's info can share it as it is.
    """

    types: tuple[CompositeType, ...] = ()
    imports: tuple[Import, ...] = ()
    functions: tuple[int, ...] = ()  # type index per FuncIndex
    tables: tuple[TableType, ...] = ()
    memories: tuple[MemoryType, ...] = ()
    globals: tuple[GlobalType, ...] = ()
    global_inits: tuple[ConstExpr, ...] = ()  # defined globals only
    exports: tuple[Export, ...] = ()
    start: int | None = None
    elements: tuple[ElementSegment, ...] = ()  # every segment, in module order
    num_imported_funcs: int = 0
    num_imported_tables: int = 0
    num_imported_memories: int = 0
    num_imported_globals: int = 0
    # defined tables' initializer expressions (typed tables, Wasm 3.0), None for the
    # null default; empty when no table has one
    table_inits: tuple[ConstExpr | None, ...] = ()
    # exception handling (Wasm 3.0): the function type index of each tag, imports first
    tags: tuple[int, ...] = ()
    num_imported_tags: int = 0
    # GC (Wasm 3.0): each type's supertype, finality and recursion group; empty when
    # every type is a final function type in a group of its own (see ``gc_types``)
    sub_types: tuple[SubType, ...] = ()

    @property
    def num_defined_funcs(self) -> int:
        return len(self.functions) - self.num_imported_funcs

    @property
    def num_defined_tables(self) -> int:
        return len(self.tables) - self.num_imported_tables

    @property
    def num_defined_memories(self) -> int:
        return len(self.memories) - self.num_imported_memories

    @property
    def num_defined_globals(self) -> int:
        return len(self.globals) - self.num_imported_globals

    @property
    def num_defined_tags(self) -> int:
        return len(self.tags) - self.num_imported_tags

    def table_init(self, defined_index: int) -> ConstExpr | None:
        """The initializer expression of defined table ``defined_index``, or None when
        its elements start null."""
        inits = self.table_inits
        return inits[defined_index] if defined_index < len(inits) else None

    def type_canon(self) -> tuple[int, ...]:
        """Per type index, the first index of an equivalent type (see ``canonical_types``
        and, with GC types, ``canonical_gc_types``: then a ``TypeCanon``)."""
        if self.sub_types:
            return canonical_gc_types(self.types, self.sub_types)
        return canonical_types(self.types)  # type: ignore[arg-type]

    def func_type(self, func_index: int) -> FuncType:
        """The signature of function ``func_index`` (imports included; validation found
        each function's type to be a function type)."""
        return self.types[self.functions[func_index]]  # type: ignore[return-value]

    def sig(self, type_index: int) -> FuncType:
        """Type ``type_index``, which validation found to be a function type (that of a
        function, a call, a block or a tag)."""
        ft = self.types[type_index]
        assert type(ft) is FuncType, f"type {type_index} is not a function type"
        return ft

    def defined_func_index(self, func_index: int) -> int | None:
        """``func_index`` as a DefinedFuncIndex, or None for an imported function."""
        d = func_index - self.num_imported_funcs
        return d if d >= 0 else None
