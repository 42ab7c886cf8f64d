"""The schema of cwasm's ``.wasmtime.info``: ``CompiledModuleInfo`` and the records inside it.

It follows the shape of Wasmtime's ``CompiledModuleInfo`` (``module``, ``funcs``,
``func_names``, ``wasm_to_array_trampolines``, ``meta``) but is cwasm's own: it holds
everything the runtime needs to instantiate a module without the original wasm bytes.
The per-function tables decode as packed tables (``FunctionTable``, ``NameTable``,
``TrampolineTable``; see ``packed``) that build their records on demand.
Its ``module`` is ``cwasm.wasm.module.ModuleRecord``, the record the decoder builds.
``codec`` encodes and decodes it; ``checks`` validates a decoded one.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress

from cwasm.obj.info.packed import PackedTable
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


class FunctionTable(PackedTable[CompiledFunctionInfo]):
    """``CompiledModuleInfo.funcs``: per defined function, the row ``start_srcloc, code
    start, code length, trampoline start, trampoline length`` (a trampoline of length 0
    stands for none, and its start is then 0)."""

    __slots__ = ()
    WIDTH = 5

    @staticmethod
    def _row(f: CompiledFunctionInfo) -> tuple[int, ...]:
        loc, tramp = f.wasm_func_loc, f.array_to_wasm_trampoline
        if tramp is None:
            return (f.start_srcloc, loc.start, loc.length, 0, 0)
        if not tramp.length:
            raise ValueError("an array-to-wasm trampoline of length 0 cannot be encoded")
        return (f.start_srcloc, loc.start, loc.length, tramp.start, tramp.length)

    def _record(self, i: int) -> CompiledFunctionInfo:
        w = self._words
        k = 5 * i
        tramp = FunctionLoc(w[k + 3], w[k + 4]) if w[k + 4] else None
        return CompiledFunctionInfo(w[k], FunctionLoc(w[k + 1], w[k + 2]), tramp)

    def _validate(self) -> None:
        if any(compress(self.column(3), map(operator.not_, self.column(4)))):
            raise ValueError("a function's absent trampoline has a start offset")

    def index_at(self, text_offset: int) -> int | None:
        """The index of the function whose code contains ``text_offset`` (functions are in
        ascending, disjoint order, as the loader checks), or None."""
        i = bisect.bisect_right(self.column(1), text_offset) - 1
        if i < 0:
            return None
        w = self._words
        return i if text_offset < w[5 * i + 1] + w[5 * i + 2] else None


class NameTable(PackedTable[FunctionName]):
    """``CompiledModuleInfo.func_names``: rows ``function index, offset, length`` (the name's
    bytes in ``.name.wasm``), sorted by function index."""

    __slots__ = ()
    WIDTH = 3

    @staticmethod
    def _row(n: FunctionName) -> tuple[int, ...]:
        return (n.idx, n.offset, n.len)

    def _record(self, i: int) -> FunctionName:
        w = self._words
        return FunctionName(w[3 * i], w[3 * i + 1], w[3 * i + 2])

    def find(self, func_index: int) -> FunctionName | None:
        """The name entry of ``func_index`` (binary search over the sorted indices), or None."""
        indices = self.column(0)
        i = bisect.bisect_left(indices, func_index)
        if i < len(indices) and indices[i] == func_index:
            return self._record(i)
        return None


class TrampolineTable(PackedTable[tuple[int, FunctionLoc]]):
    """``CompiledModuleInfo.wasm_to_array_trampolines``: rows ``type index, start, length``,
    sorted by type index."""

    __slots__ = ()
    WIDTH = 3

    @staticmethod
    def _row(item: tuple[int, FunctionLoc]) -> tuple[int, ...]:
        return (item[0], item[1].start, item[1].length)

    def _record(self, i: int) -> tuple[int, FunctionLoc]:
        w = self._words
        return w[3 * i], FunctionLoc(w[3 * i + 1], w[3 * i + 2])


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
    # the per-function tables: any sequence when built, packed tables when decoded
    funcs: Sequence[CompiledFunctionInfo] = ()  # DefinedFuncIndex order
    func_names: Sequence[FunctionName] = ()  # sorted by idx
    wasm_to_array_trampolines: Sequence[tuple[int, FunctionLoc]] = ()  # sorted by type index
    meta: Metadata = field(default_factory=Metadata)

    def passive_data_range(self, data_index: int) -> DataRange | None:
        """The ``.rodata.wasm`` range of a passive data segment (None: not passive)."""
        i = bisect.bisect_left(self.passive_data, data_index, key=lambda item: item[0])
        if i < len(self.passive_data) and self.passive_data[i][0] == data_index:
            return self.passive_data[i][1]
        return None
