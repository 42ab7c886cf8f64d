"""What of the module a function body is validated against, and the body's local types.

``BodyContext`` holds references into the ``ModuleRecord`` (and the translation's data
count and declared references) plus the module's signatures converted to plain-int
lists, which outlive one body: they are cached for the module being validated.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Final

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm.gc_types import CompositeType
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.operators import BLOCK_EMPTY, I32, I64, MEMARG_HAS_MEMORY
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import CONCRETE_HEAP, REF_BASE, FuncType, ValueType
from cwasm.wasm.validator.immediates import read_u32, read_u64


@dataclass(slots=True)
class BodyContext:
    """The parts of a module a body is checked against (references, not copies)."""

    module: ModuleRecord
    func_types: tuple[int, ...]  # the module's type index per function index
    num_types: int
    num_memories: int
    multi_memory: bool  # memory indices beyond reserved zero bytes (Wasm 3.0)
    data_count: int | None
    declared_refs: set[int]
    sigs: dict[int, tuple[list[int], list[int]]]  # see _sigs_for
    canon: tuple[int, ...]  # type equivalence (``canonical_types``)
    memory64: bool = True  # memarg offsets are u64s (Wasm 3.0), else u32s (2.0)
    # the index type (I32 or I64) of each memory, and whether any is I64
    memory_index_types: tuple[int, ...] = ()
    any_memory64: bool = False

    def memory_index_type(self, memory: int) -> int:
        """I32 or I64: the address type of memory ``memory`` (which exists)."""
        return self.memory_index_types[memory]

    def table_index_type(self, index: int) -> int:
        """I32 or I64: the index type of table ``index`` (which exists)."""
        return I64 if self.module.tables[index].is_64 else I32

    def sig(self, type_index: int) -> tuple[list[int], list[int]]:
        """(params, results) of a type, as lists of plain ints."""
        s = self.sigs.get(type_index)
        if s is None:
            ft = self.module.types[type_index]
            if type(ft) is not FuncType:
                raise InvalidError(f"type mismatch: non-function type {type_index}", 0)
            s = ([int(t) for t in ft.params], [int(t) for t in ft.results])
            self.sigs[type_index] = s
        return s

    def global_type(self, index: int, at: int) -> tuple[int, bool]:
        """(content type, mutable) of global ``index``."""
        if index >= len(self.module.globals):
            raise InvalidError(f"unknown global {index}", at)
        g = self.module.globals[index]
        return int(g.content), g.mutable

    def table_type(self, index: int, at: int) -> int:
        """The element type of table ``index``."""
        if index >= len(self.module.tables):
            raise InvalidError(f"unknown table {index}", at)
        return int(self.module.tables[index].element)

    def elem_type(self, index: int, at: int) -> int:
        """The element type of element segment ``index``."""
        if index >= len(self.module.elements):
            raise InvalidError(f"unknown elem segment {index}", at)
        return int(self.module.elements[index].element)


# Converted signatures outlive one call: the bodies of a module are validated one by
# one, and share the module's (immutable) type tuple. Keyed by that tuple's identity.
_Sigs = dict[int, tuple[list[int], list[int]]]
_sig_cache: tuple[tuple[CompositeType, ...], _Sigs, tuple[int, ...]] | None = None


def _sigs_for(m: ModuleRecord) -> tuple[_Sigs, tuple[int, ...]]:
    """The converted-signature cache and the type-equivalence map of ``m``'s types."""
    global _sig_cache
    types = m.types
    cache = _sig_cache
    if cache is not None and cache[0] is types:
        return cache[1], cache[2]
    sigs: _Sigs = {}
    canon = m.type_canon()
    _sig_cache = (types, sigs, canon)
    return sigs, canon


def body_context(
    translation: ModuleTranslation, multi_memory: bool = True, memory64: bool = True
) -> BodyContext:
    """The context the bodies of ``translation`` are validated against (without
    ``multi_memory``, memory indices are Wasm 2.0's reserved zero bytes; without
    ``memory64``, memarg offsets are u32s)."""
    m = translation.module
    sigs, canon = _sigs_for(m)
    index_types = tuple(I64 if t.is_64 else I32 for t in m.memories)
    return BodyContext(
        module=m,
        func_types=m.functions,
        num_types=len(m.types),
        num_memories=len(m.memories),
        multi_memory=multi_memory,
        data_count=translation.data_count,
        declared_refs=translation.declared_refs,
        sigs=sigs,
        canon=canon,
        memory64=memory64,
        memory_index_types=index_types,
        any_memory64=I64 in index_types,
    )


#: bodies declaring more locals than this keep them as runs (``SparseLocals``)
MAX_EXPANDED_LOCALS: Final = 1 << 16


class SparseLocals:
    """The local types of a body declaring very many locals, without expanding them."""

    def __init__(self, params: list[int], declared: tuple[tuple[int, ValueType], ...]) -> None:
        self.ends: list[int] = []  # one past the last index of each run
        self.types: list[int] = []
        n = 0
        for t in params:
            n += 1
            self.ends.append(n)
            self.types.append(t)
        for count, ty in declared:
            if count:
                n += count
                self.ends.append(n)
                self.types.append(int(ty))
        self.count = n

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> int:
        return self.types[bisect.bisect_right(self.ends, index)]


def block_sig(ctx: BodyContext, bt: int, at: int) -> tuple[list[int], list[int]]:
    """(params, results) of a block type: empty, one value type or a type index."""
    if bt == BLOCK_EMPTY:
        return [], []
    if bt < 0:
        check_type(ctx, -bt, at)
        return [], [-bt]
    if bt >= ctx.num_types:
        raise InvalidError(f"unknown type {bt}", at)
    return ctx.sig(bt)


def check_type(ctx: BodyContext, t: int, at: int) -> None:
    """A reference type (code) naming a type index must name one of the module's."""
    if t >= REF_BASE:
        heap = (t - REF_BASE) >> 1
        if heap >= CONCRETE_HEAP and heap - CONCRETE_HEAP >= ctx.num_types:
            raise InvalidError(f"unknown type {heap - CONCRETE_HEAP}", at)


def check_memarg(
    ctx: BodyContext, flags: int, natural: int, code: bytes, pos: int, base: int, at: int
) -> tuple[int, int]:
    """The slow path of a memory access's flags (read, up to ``pos``): a memory index
    following them (read here), an alignment of at most the natural one, and a memory
    that exists. Returns the position after them and the memory's address type."""
    memory = 0
    if flags >= MEMARG_HAS_MEMORY:
        if flags >= 2 * MEMARG_HAS_MEMORY:
            raise MalformedError("malformed memop flags", base + pos - 1)
        memory, pos = read_u32(code, pos, base)
        flags -= MEMARG_HAS_MEMORY
    if flags > 32:
        raise MalformedError("malformed memop flags", base + pos - 1)
    check_memory(ctx, memory, at)
    check_align(flags, natural, at)
    return pos, ctx.memory_index_types[memory]


#: the largest offset a memarg of a 32-bit memory may carry
MAX_OFFSET_32: Final = 0xFFFF_FFFF


def read_offset(
    ctx: BodyContext, index_type: int, code: bytes, pos: int, base: int, at: int
) -> int:
    """The slow path of a memarg's offset at ``pos``: a u64 (Wasm 3.0; at most 2^32-1
    for a 32-bit memory) or, without memory64, a u32. Returns the position after it."""
    if not ctx.memory64:
        return read_u32(code, pos, base)[1]
    offset, pos = read_u64(code, pos, base)
    if index_type == I32 and offset > MAX_OFFSET_32:
        raise InvalidError("offset out of range", at)
    return pos


def check_memory(ctx: BodyContext, memory: int, at: int) -> None:
    """The memory must exist."""
    if memory >= ctx.num_memories:
        raise InvalidError(f"unknown memory {memory}", at)


def check_align(align: int, natural: int, at: int) -> None:
    """An alignment (log2) must not exceed the access's natural one."""
    if align > natural:
        raise InvalidError("alignment must not be larger than natural", at)
