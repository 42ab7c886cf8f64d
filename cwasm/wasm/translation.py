"""ModuleTranslation: everything decoded from one wasm module, ready for the compiler."""

from __future__ import annotations

from dataclasses import dataclass, field

from cwasm.wasm.types import (
    ConstExpr,
    DataSegment,
    ElementSegment,
    Export,
    FunctionBody,
    FuncType,
    GlobalType,
    Import,
    MemoryType,
    NameSection,
    TableType,
)


@dataclass(slots=True)
class ModuleTranslation:
    """A decoded and validated module.

    Index spaces follow the spec (and Wasmtime's ``Module``): ``functions``,
    ``tables``, ``memories`` and ``globals`` list imported entities first, then
    defined ones. ``bodies`` and ``global_inits`` cover defined entities only.
    """

    wasm: bytes
    types: list[FuncType] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    functions: list[int] = field(default_factory=list)  # type index per FuncIndex
    tables: list[TableType] = field(default_factory=list)
    memories: list[MemoryType] = field(default_factory=list)
    globals: list[GlobalType] = field(default_factory=list)
    global_inits: list[ConstExpr] = field(default_factory=list)  # defined globals
    exports: list[Export] = field(default_factory=list)
    start: int | None = None
    elements: list[ElementSegment] = field(default_factory=list)
    data: list[DataSegment] = field(default_factory=list)
    data_count: int | None = None
    bodies: list[FunctionBody] = field(default_factory=list)  # DefinedFuncIndex order
    names: NameSection = field(default_factory=NameSection)
    # every custom section: (name, payload start, payload end)
    custom_sections: list[tuple[str, int, int]] = field(default_factory=list)
    # DWARF custom sections (".debug_info"...): name -> (payload start, payload end)
    dwarf: dict[str, tuple[int, int]] = field(default_factory=dict)
    code_section_offset: int = 0  # start of the code section payload (after id and size)
    # functions referenced outside function bodies or by ref.func (the spec's C.refs)
    declared_refs: set[int] = field(default_factory=set)

    num_imported_funcs: int = 0
    num_imported_tables: int = 0
    num_imported_memories: int = 0
    num_imported_globals: int = 0

    def func_type(self, func_index: int) -> FuncType:
        return self.types[self.functions[func_index]]

    def defined_func_index(self, func_index: int) -> int | None:
        d = func_index - self.num_imported_funcs
        return d if d >= 0 else None

    def func_name(self, func_index: int) -> str | None:
        return self.names.functions.get(func_index)

    def body_bytes(self, defined_index: int) -> memoryview:
        b = self.bodies[defined_index]
        return memoryview(self.wasm)[b.offset : b.end]
