"""Hypothesis strategies for the artifact tests: random module translations and compiled code."""

from __future__ import annotations

from hypothesis import strategies as st

from cwasm.obj.builder import CompiledCode
from cwasm.obj.info import CompiledFunctionInfo, FunctionLoc
from cwasm.obj.traps import Trap
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import (
    ConstExpr,
    ConstOp,
    ConstOpKind,
    DataSegment,
    ElementSegment,
    Export,
    ExternKind,
    FuncType,
    GlobalType,
    Import,
    Limits,
    MemoryType,
    SegmentMode,
    TableType,
    ValType,
)

NUM_VALTYPES = st.sampled_from(list(ValType))
NAMES = st.text(max_size=12)


def limits(max_min: int) -> st.SearchStrategy[Limits]:
    return st.integers(0, max_min).flatmap(
        lambda lo: st.builds(Limits, st.just(lo), st.none() | st.integers(lo, max_min))
    )


FUNC_TYPES = st.builds(
    FuncType,
    st.lists(NUM_VALTYPES, max_size=4).map(tuple),
    st.lists(NUM_VALTYPES, max_size=3).map(tuple),
)
TABLE_TYPES = st.builds(
    TableType, st.sampled_from([ValType.FUNCREF, ValType.EXTERNREF]), limits(100)
)
MEMORY_TYPES = limits(4).flatmap(
    # a shared memory needs a maximum
    lambda lim: st.builds(
        MemoryType, st.just(lim), st.booleans() if lim.max is not None else st.just(False)
    )
)
GLOBAL_TYPES = st.builds(GlobalType, NUM_VALTYPES, st.booleans())

_TYPED_CONSTS: dict[ValType, st.SearchStrategy[ConstOp]] = {
    ValType.I32: st.builds(
        ConstOp, st.just(ConstOpKind.I32_CONST), st.integers(-(2**31), 2**31 - 1)
    ),
    ValType.I64: st.builds(
        ConstOp, st.just(ConstOpKind.I64_CONST), st.integers(-(2**63), 2**63 - 1)
    ),
    ValType.F32: st.builds(ConstOp, st.just(ConstOpKind.F32_CONST), st.integers(0, 2**32 - 1)),
    ValType.F64: st.builds(ConstOp, st.just(ConstOpKind.F64_CONST), st.integers(0, 2**64 - 1)),
    ValType.V128: st.builds(ConstOp, st.just(ConstOpKind.V128_CONST), st.integers(0, 2**128 - 1)),
    ValType.FUNCREF: st.just(ConstOp(ConstOpKind.REF_NULL, int(ValType.FUNCREF))),
    ValType.EXTERNREF: st.just(ConstOp(ConstOpKind.REF_NULL, int(ValType.EXTERNREF))),
}


def const_expr(
    nfuncs: int, imported_globals: list[GlobalType], want: ValType
) -> st.SearchStrategy[ConstExpr]:
    """A one-operator constant expression producing ``want`` (reading imported globals)."""
    ops = [_TYPED_CONSTS[want]]
    readable = [i for i, g in enumerate(imported_globals) if g.content == want]
    if readable:
        ops.append(st.builds(ConstOp, st.just(ConstOpKind.GLOBAL_GET), st.sampled_from(readable)))
    if nfuncs and want == ValType.FUNCREF:
        ops.append(st.builds(ConstOp, st.just(ConstOpKind.REF_FUNC), st.integers(0, nfuncs - 1)))
    return st.builds(ConstExpr, st.tuples(st.one_of(ops)), st.integers(0, 2**20))


def i32_offset(imported_globals: list[GlobalType]) -> st.SearchStrategy[ConstExpr]:
    """A data/element offset: usually a small constant, sometimes a ``global.get``."""
    const = st.builds(
        ConstExpr,
        st.tuples(st.builds(ConstOp, st.just(ConstOpKind.I32_CONST), st.integers(0, 0x30000))),
        st.integers(0, 1000),
    )
    readable = [i for i, g in enumerate(imported_globals) if g.content == ValType.I32]
    if not readable:
        return const
    get = st.builds(
        ConstExpr,
        st.tuples(st.builds(ConstOp, st.just(ConstOpKind.GLOBAL_GET), st.sampled_from(readable))),
    )
    return st.one_of(const, const, const, get)


@st.composite
def module_records(draw: st.DrawFn, max_funcs: int = 8) -> ModuleRecord:
    """A ModuleRecord whose index spaces are consistent (not a validated module)."""
    types = draw(st.lists(FUNC_TYPES, min_size=1, max_size=4))
    ntypes = len(types)
    # tag types: function types without results
    tag_types = [i for i, ft in enumerate(types) if not ft.results]
    kinds = draw(
        st.lists(
            st.sampled_from([k for k in ExternKind if k != ExternKind.TAG or tag_types]),
            max_size=6,
        )
    )
    imports: list[Import] = []
    tags: list[int] = []
    functions: list[int] = []
    tables: list[TableType] = []
    memories: list[MemoryType] = []
    globals_: list[GlobalType] = []
    for kind in kinds:
        module, name = draw(NAMES), draw(NAMES)
        desc: int | TableType | MemoryType | GlobalType
        if kind == ExternKind.FUNC:
            desc = draw(st.integers(0, ntypes - 1))
            functions.append(desc)
        elif kind == ExternKind.TABLE:
            desc = draw(TABLE_TYPES)
            tables.append(desc)
        elif kind == ExternKind.MEMORY:
            desc = draw(MEMORY_TYPES)
            memories.append(desc)
        elif kind == ExternKind.TAG:
            desc = draw(st.sampled_from(tag_types))
            tags.append(desc)
        else:
            desc = draw(GLOBAL_TYPES)
            globals_.append(desc)
        imports.append(Import(module, name, kind, desc))
    imported_globals = list(globals_)
    num_imported = (len(functions), len(tables), len(memories), len(globals_), len(tags))
    if tag_types:
        tags += draw(st.lists(st.sampled_from(tag_types), max_size=2))
    functions += draw(st.lists(st.integers(0, ntypes - 1), max_size=max_funcs))
    tables += draw(st.lists(TABLE_TYPES, max_size=2))
    memories += draw(st.lists(MEMORY_TYPES, max_size=2))
    defined_globals = draw(st.lists(GLOBAL_TYPES, max_size=3))
    globals_ += defined_globals
    nfuncs, nglobals = len(functions), len(globals_)
    global_inits = [draw(const_expr(nfuncs, imported_globals, g.content)) for g in defined_globals]
    spaces = {
        ExternKind.FUNC: nfuncs,
        ExternKind.TABLE: len(tables),
        ExternKind.MEMORY: len(memories),
        ExternKind.GLOBAL: nglobals,
        ExternKind.TAG: len(tags),
    }
    exports: list[Export] = []
    export_names = draw(st.lists(NAMES, unique=True, max_size=5))
    for name in export_names:
        kind = draw(st.sampled_from([k for k, n in spaces.items() if n] or [None]))
        if kind is None:
            break
        exports.append(Export(name, kind, draw(st.integers(0, spaces[kind] - 1))))
    start = None
    nullary = [i for i, ty in enumerate(functions) if types[ty] == FuncType((), ())]
    if nullary and draw(st.booleans()):
        start = draw(st.sampled_from(nullary))
    elements: list[ElementSegment] = []
    funcref_tables = [i for i, tt in enumerate(tables) if tt.element == ValType.FUNCREF]
    for _ in range(draw(st.integers(0, 3))):
        modes = [SegmentMode.PASSIVE, SegmentMode.DECLARATIVE]
        if funcref_tables:
            modes.append(SegmentMode.ACTIVE)
        mode = draw(st.sampled_from(modes))
        active = mode == SegmentMode.ACTIVE
        table = draw(st.sampled_from(funcref_tables)) if active else 0
        offset = draw(i32_offset(imported_globals)) if active else None
        if nfuncs and draw(st.booleans()):
            funcs = tuple(draw(st.lists(st.integers(0, nfuncs - 1), max_size=5)))
            elements.append(ElementSegment(mode, ValType.FUNCREF, table, offset, functions=funcs))
        else:
            item = const_expr(nfuncs, imported_globals, ValType.FUNCREF)
            exprs = tuple(draw(st.lists(item, max_size=3)))
            elements.append(ElementSegment(mode, ValType.FUNCREF, table, offset, expressions=exprs))
    return ModuleRecord(
        types=tuple(types),
        imports=tuple(imports),
        functions=tuple(functions),
        tables=tuple(tables),
        memories=tuple(memories),
        globals=tuple(globals_),
        global_inits=tuple(global_inits),
        exports=tuple(exports),
        start=start,
        elements=tuple(elements),
        num_imported_funcs=num_imported[0],
        num_imported_tables=num_imported[1],
        num_imported_memories=num_imported[2],
        num_imported_globals=num_imported[3],
        tags=tuple(tags),
        num_imported_tags=num_imported[4],
    )


@st.composite
def translations(draw: st.DrawFn, max_funcs: int = 8) -> ModuleTranslation:
    """A ModuleTranslation whose index spaces are consistent (not a validated module)."""
    wasm = b"\0asm\x01\0\0\0" + draw(st.binary(max_size=200))
    m = draw(module_records(max_funcs))
    t = ModuleTranslation(wasm=wasm, module=m)
    imported_globals = list(m.globals[: m.num_imported_globals])
    for _ in range(draw(st.integers(0, 4))):
        payload = draw(st.binary(max_size=40))
        if m.memories and draw(st.booleans()):
            mem = draw(st.integers(0, len(m.memories) - 1))
            offset = draw(i32_offset(imported_globals))
            t.data.append(DataSegment(SegmentMode.ACTIVE, payload, mem, offset))
        else:
            t.data.append(DataSegment(SegmentMode.PASSIVE, payload))
    t.data_count = len(t.data) if t.data else None
    nfuncs = len(m.functions)
    names = draw(st.dictionaries(st.integers(0, max(nfuncs - 1, 0)), NAMES, max_size=nfuncs))
    t.names.functions = names if nfuncs else {}
    t.names.module = draw(st.none() | NAMES)
    t.code_section_offset = draw(st.integers(0, 2**32))
    if draw(st.booleans()):
        start = 8
        end = len(t.wasm)
        t.dwarf = {".debug_info": (start, end), ".debug_abbrev": (start, min(end, start + 3))}
    return t


@st.composite
def compiled_code(draw: st.DrawFn, m: ModuleRecord) -> CompiledCode:
    """Random code for ``m`` laid out like the compiler's: functions, trampolines, then tables."""
    ndefined = m.num_defined_funcs
    pos = 0
    funcs: list[CompiledFunctionInfo] = []
    bodies: list[FunctionLoc] = []
    for _ in range(ndefined):
        pos = (pos + 31) & ~31
        length = draw(st.integers(1, 120))
        bodies.append(FunctionLoc(pos, length))
        pos += length
    for loc in bodies:
        tramp = None
        if draw(st.booleans()):
            length = draw(st.integers(1, 60))
            tramp = FunctionLoc(pos, length)
            pos += length
        funcs.append(CompiledFunctionInfo(draw(st.integers(0, 2**32 - 1)), loc, tramp))
    w2a = []
    for ty in sorted(draw(st.sets(st.integers(0, len(m.types) - 1), max_size=3))):
        length = draw(st.integers(1, 80))
        w2a.append((ty, FunctionLoc(pos, length)))
        pos += length
    size = pos + draw(st.integers(0, 64))
    text = draw(st.binary(min_size=size, max_size=size))
    trap_offsets = sorted(draw(st.sets(st.integers(0, max(size - 1, 0)), max_size=30)))
    traps = tuple((o, draw(st.sampled_from(list(Trap)))) for o in trap_offsets if o < size)
    map_offsets = sorted(draw(st.sets(st.integers(0, max(size - 1, 0)), max_size=30)))
    addrmap = tuple(
        (o, draw(st.none() | st.integers(0, 0xFFFFFFFE))) for o in map_offsets if o < size
    )
    return CompiledCode(
        text=text,
        funcs=tuple(funcs),
        wasm_to_array_trampolines=tuple(w2a),
        traps=traps,
        address_map=addrmap,
        bti=draw(st.booleans()),
    )
