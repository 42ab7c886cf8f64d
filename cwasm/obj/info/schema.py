"""The schema of cwasm's ``.wasmtime.info``: ``CompiledModuleInfo`` and the records inside it.

It follows the shape of Wasmtime's ``CompiledModuleInfo`` (``module``, ``funcs``,
``func_names``, ``wasm_to_array_trampolines``, ``meta``) but is cwasm's own: it holds
everything the runtime needs to instantiate a module without the original wasm bytes.
Its ``module`` is ``cwasm.wasm.module.ModuleRecord``, the record the decoder builds.
``codec`` encodes and decodes it; ``checks`` validates a decoded one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.types import ConstExpr


@dataclass(frozen=True, slots=True)
class DataRange:
    """A byte range ``[start, end)`` (into ``.rodata.wasm`` or another section)."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class FunctionLoc:
    """Where a function's code lies in ``.text``: ``start`` offset and ``length`` in bytes."""

    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True, slots=True)
class CompiledFunctionInfo:
    """Per defined function: its wasm body offset and code locations."""

    start_srcloc: int  # module offset of the body, just after its size LEB
    wasm_func_loc: FunctionLoc
    array_to_wasm_trampoline: FunctionLoc | None = None  # present for escaping functions


@dataclass(frozen=True, slots=True)
class FunctionName:
    """A function's name: ``len`` bytes at ``offset`` of ``.name.wasm``."""

    idx: int  # FuncIndex (imports included)
    offset: int
    len: int


@dataclass(frozen=True, slots=True)
class MemoryInitializer:
    """One active data segment applied at instantiation (Segmented initialization)."""

    memory_index: int
    offset: ConstExpr
    data: DataRange  # into .rodata.wasm


@dataclass(frozen=True, slots=True)
class SegmentedMemoryInitialization:
    """Active data segments copied one by one at instantiation, in module order."""

    segments: tuple[MemoryInitializer, ...] = ()


@dataclass(frozen=True, slots=True)
class StaticMemoryInitializer:
    """A page-aligned memory image: ``data`` is copied (or mapped) at memory ``offset``."""

    offset: int  # multiple of the page alignment
    data: DataRange  # into .rodata.wasm; length is a multiple of the page alignment


@dataclass(frozen=True, slots=True)
class StaticMemoryInitialization:
    """One optional image per memory (``MemoryIndex`` order, imports included)."""

    map: tuple[StaticMemoryInitializer | None, ...] = ()


MemoryInitialization = SegmentedMemoryInitialization | StaticMemoryInitialization


@dataclass(frozen=True, slots=True)
class Metadata:
    """Facts about the compilation that backtraces and debuggers need."""

    has_unparsed_debuginfo: bool = False
    code_section_offset: int = 0
    has_wasm_debuginfo: bool = False
    is_pulley: bool = False
    dwarf: tuple[tuple[int, DataRange], ...] = ()  # (gimli SectionId, range in .wasmtime.dwarf)


@dataclass(frozen=True, slots=True)
class CompiledModuleInfo:
    """Everything ``.wasmtime.info`` records about one compiled core module.

    ``module`` is the decoder's ``ModuleRecord`` as it is; ``name``,
    ``memory_initialization``, ``passive_data`` and ``num_data`` are what Wasmtime's
    ``Module`` adds to it and only an artifact has (its data segments, placed in
    ``.rodata.wasm``); the rest locates the compiled code.
    """

    module: ModuleRecord = field(default_factory=ModuleRecord)
    name: str | None = None  # the name section's module name
    memory_initialization: MemoryInitialization = field(
        default_factory=SegmentedMemoryInitialization
    )
    passive_data: tuple[tuple[int, DataRange], ...] = ()  # (DataIndex, range), ascending
    num_data: int = 0  # number of data segments (active and passive)
    funcs: tuple[CompiledFunctionInfo, ...] = ()  # DefinedFuncIndex order
    func_names: tuple[FunctionName, ...] = ()  # sorted by idx
    wasm_to_array_trampolines: tuple[tuple[int, FunctionLoc], ...] = ()  # sorted by type index
    meta: Metadata = field(default_factory=Metadata)

    def passive_data_range(self, data_index: int) -> DataRange | None:
        """The ``.rodata.wasm`` range of a passive data segment (None: not passive)."""
        i = bisect.bisect_left(self.passive_data, data_index, key=lambda item: item[0])
        if i < len(self.passive_data) and self.passive_data[i][0] == data_index:
            return self.passive_data[i][1]
        return None
