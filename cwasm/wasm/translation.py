"""ModuleTranslation: everything decoded from one wasm module, ready for the compiler."""

from __future__ import annotations

from dataclasses import dataclass, field

from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.types import DataSegment, FunctionBody, NameSection


@dataclass(slots=True)
class ModuleTranslation:
    """A decoded and validated module: its ``ModuleRecord`` plus what only the wasm has.

    ``module`` is the spec-level record an artifact keeps too; the rest (bytes, bodies,
    data segments, names, custom sections) is what compiling and laying out the artifact
    need from the original binary. ``bodies`` covers defined functions only.
    """

    wasm: bytes
    module: ModuleRecord = field(default_factory=ModuleRecord)
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

    def func_name(self, func_index: int) -> str | None:
        """The name section's name of function ``func_index``, if it has one."""
        return self.names.functions.get(func_index)

    def body_bytes(self, defined_index: int) -> memoryview:
        """The bytes of a defined function's body (locals and instructions)."""
        b = self.bodies[defined_index]
        return memoryview(self.wasm)[b.offset : b.end]
