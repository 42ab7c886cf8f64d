"""The WebAssembly proposals (2.0's, and 3.0's relaxed SIMD, extended constants, typed
function references, multi-memory, threads, tail calls, memory64 and exception handling) a
module uses, checked against those an engine enables.

cwasm's decoder and validator accept all of WebAssembly 2.0. An engine whose ``Config``
turns a proposal off (``Config.wasm_simd = False``...) refuses the modules that use it,
as Wasmtime does, with wasmparser's messages. ``check_features`` runs after validation
and only when something is off, so the default path never pays for it: it looks at the
module's types and segments, then steps over each body's instructions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence

from cwasm.errors import InvalidError
from cwasm.wasm.constexpr import ARITHMETIC
from cwasm.wasm.gc_types import ArrayType, CompositeType, StructType, SubType, value_types
from cwasm.wasm.operators import (
    ATOMIC_OPS,
    BLOCK_EMPTY,
    BY_NAME,
    FD_BASE,
    FE_BASE,
    FUNCREF,
    GC_OPS,
    OPERATORS,
    READ_IMMEDIATES,
    RELAXED_SIMD_OPS,
    V128,
    read_opcode,
)
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import (
    CONCRETE_HEAP,
    SWITCHABLE_PROPOSALS,
    ConstExpr,
    ConstOpKind,
    FuncType,
    HeapType,
    RefType,
    SegmentMode,
    ValType,
    ValueType,
    val_type,
)

#: the proposals ``check_features`` knows how to find (the ones a Config can turn off)
CHECKED_FEATURES = SWITCHABLE_PROPOSALS

_EXN_HEAPS = frozenset((HeapType.EXN, HeapType.NOEXN))
_SIMD = "SIMD support is not enabled"
_RELAXED_SIMD = "relaxed SIMD support is not enabled"
_THREADS = "threads support is not enabled"
_SHARED_MEMORY = "threads must be enabled for shared memories"
_REFERENCE_TYPES = "reference types support is not enabled"
_BULK_MEMORY = "bulk memory support is not enabled"
_TAIL_CALL = "tail calls support is not enabled"
_MULTI_VALUE_TYPE = "func type returns multiple values but the multi-value feature is not enabled"
_MULTI_VALUE_BLOCK = (
    "blocks, loops, and ifs may only produce a resulttype when multi-value is not enabled"
)

_BULK_MEMORY_OPS = frozenset(
    BY_NAME[n]
    for n in (
        "memory.init",
        "data.drop",
        "memory.copy",
        "memory.fill",
        "table.init",
        "elem.drop",
        "table.copy",
    )
)
_REFERENCE_TYPES_OPS = frozenset(
    BY_NAME[n]
    for n in (
        "ref.null",
        "ref.is_null",
        "ref.func",
        "table.get",
        "table.set",
        "table.size",
        "table.grow",
        "table.fill",
        "select_t",
    )
)
_TAIL_CALL_OPS = frozenset(
    BY_NAME[n] for n in ("return_call", "return_call_indirect", "return_call_ref")
)
_BLOCK_OPS = frozenset(BY_NAME[n] for n in ("block", "loop", "if"))
_FUNCTION_REFERENCES = "function references support is not enabled"
_FUNCTION_REFERENCES_OPS = frozenset(
    BY_NAME[n]
    for n in ("call_ref", "return_call_ref", "ref.as_non_null", "br_on_null", "br_on_non_null")
)
_EXCEPTIONS = "exceptions support is not enabled"
_EXCEPTIONS_PROPOSAL = "exceptions proposal not enabled"
_EXCEPTION_REFS = "exception refs not supported without the exception handling feature"
_EXCEPTIONS_OPS = frozenset(BY_NAME[n] for n in ("throw", "throw_ref", "try_table"))
_GC = "gc support is not enabled"
_GC_HEAPS = frozenset(
    (HeapType.ANY, HeapType.EQ, HeapType.I31, HeapType.STRUCT, HeapType.ARRAY, HeapType.NONE)
)
_REF_NULL = BY_NAME["ref.null"]
_SELECT_T = BY_NAME["select_t"]


def decode_for_features(
    wasm: bytes, enabled: Collection[str], **decode_options: bool
) -> ModuleTranslation:
    """Decode and validate ``wasm`` (``decode_module`` with ``decode_options``), then refuse
    the proposals not ``enabled`` (``check_features``).

    wasmparser checks that an instruction's or a type's proposal is enabled as it meets
    it, before it types it: a module that does not validate gets the proposal's message
    when its first use of a disabled proposal comes no later than the validation error
    (module-level uses, found at offset 0, always do)."""
    from cwasm.wasm.decoder import decode_module

    try:
        m = decode_module(wasm, **decode_options)
    except InvalidError as invalid:
        earlier = _feature_error_before(wasm, enabled, decode_options, invalid.offset)
        if earlier is not None:
            raise earlier from None
        raise
    check_features(m, enabled)
    return m


def _feature_error_before(
    wasm: bytes, enabled: Collection[str], decode_options: dict[str, bool], offset: int
) -> InvalidError | None:
    """The error for the first use of a disabled proposal in the invalid module ``wasm``
    if it is at or before ``offset``, else None."""
    if all(f in enabled for f in CHECKED_FEATURES):
        return None
    from cwasm.wasm.decoder import decode_module

    try:
        m = decode_module(wasm, **{**decode_options, "validate": False})
        check_features(m, enabled)
    except InvalidError as e:
        return e if e.offset <= offset else None
    except Exception:  # noqa: BLE001 - the bodies are not validated: the validation error stands
        return None
    return None


def check_features(m: ModuleTranslation, enabled: Collection[str]) -> None:
    """Raise ``InvalidError`` if ``m`` uses a proposal of ``CHECKED_FEATURES`` that is not
    in ``enabled``."""
    off = frozenset(f for f in CHECKED_FEATURES if f not in enabled)
    if off:
        _check_module(m, off)
        for body in m.bodies:
            _check_body(m, off, body.code_start, body.end, (t for _, t in body.locals))


def _check_value_types(off: frozenset[str], types: Iterable[ValueType], offset: int) -> None:
    for t in types:
        if t == V128 and "simd" in off:
            raise InvalidError(_SIMD, offset)
        if t.is_ref and "reference_types" in off:
            raise InvalidError(_REFERENCE_TYPES, offset)
        if isinstance(t, RefType) and "exceptions" in off and t.heap in _EXN_HEAPS:
            raise InvalidError(_EXCEPTION_REFS, offset)
        if isinstance(t, RefType) and "function_references" in off:
            _refuse_typed_reference(t, offset)
        if isinstance(t, RefType) and "gc" in off and t.heap in _GC_HEAPS:
            raise InvalidError("heap types not supported without the gc feature", offset)


def _refuse_typed_reference(t: RefType, offset: int) -> None:
    """wasmparser's refusal of a reference type beyond funcref/externref."""
    if t.heap >= CONCRETE_HEAP:
        raise InvalidError("function references required for index reference types", offset)
    if not t.nullable and t.top.heap == t.heap:
        raise InvalidError("function references required for non-nullable types", offset)
    raise InvalidError("heap types not supported without the gc feature", offset)


def _check_module(m: ModuleTranslation, off: frozenset[str]) -> None:
    rec = m.module
    if "exceptions" in off and rec.tags:
        raise InvalidError(_EXCEPTIONS_PROPOSAL, 0)
    if "gc" in off and rec.sub_types:
        _refuse_gc_types(rec.types, rec.sub_types)
    for ft in rec.types:
        _check_value_types(
            off, (t for t in value_types(ft) if isinstance(t, (ValType, RefType))), 0
        )
        if type(ft) is FuncType and len(ft.results) > 1 and "multi_value" in off:
            raise InvalidError(_MULTI_VALUE_TYPE, 0)
    _check_value_types(off, (g.content for g in rec.globals), 0)
    # (funcref and externref tables and segments are reference_types' own checks below)
    typed = [t.element for t in rec.tables] + [e.element for e in rec.elements]
    _check_value_types(off, (t for t in typed if isinstance(t, RefType)), 0)
    if "function_references" in off and rec.table_inits:
        raise InvalidError(
            "tables with expression initializers require the function-references proposal", 0
        )
    if "reference_types" in off:
        if len(rec.tables) > 1:
            raise InvalidError("multiple tables", 0)
        if any(t.element != FUNCREF for t in rec.tables):
            raise InvalidError(_REFERENCE_TYPES, 0)
    if "bulk_memory" in off:
        if any(e.mode != SegmentMode.ACTIVE for e in rec.elements) or any(
            d.mode != SegmentMode.ACTIVE for d in m.data
        ):
            raise InvalidError(_BULK_MEMORY, 0)
        if m.data_count is not None:
            raise InvalidError(_BULK_MEMORY, 0)
    if "extended_const" in off:
        _check_extended_const(m)
    if "multi_memory" in off and len(rec.memories) > 1:
        # a memory index other than 0 needs a second memory, so this finds every use
        raise InvalidError("multiple memories", 0)
    if "threads" in off and any(t.shared for t in rec.memories):
        raise InvalidError(_SHARED_MEMORY, 0)
    if "memory64" in off:
        # every use of an i64 address or index needs a 64-bit memory or table
        if any(t.is_64 for t in rec.memories):
            raise InvalidError("memory64 must be enabled for 64-bit memories", 0)
        if any(t.is_64 for t in rec.tables):
            raise InvalidError("memory64 must be enabled for 64-bit tables", 0)


def _refuse_gc_types(types: Sequence[CompositeType], sub_types: Sequence[SubType]) -> None:
    """wasmparser's refusal of the GC type definitions."""
    for t, s in zip(types, sub_types, strict=True):
        if s.group_size != 1:
            raise InvalidError("rec group usage requires `gc` proposal to be enabled", 0)
        if s.supertype != -1 or not s.final:
            raise InvalidError("gc proposal must be enabled to use subtypes", 0)
        if type(t) is StructType:
            raise InvalidError("struct indexed types not supported without the gc feature", 0)
        if type(t) is ArrayType:
            raise InvalidError("array indexed types not supported without the gc feature", 0)


def _const_exprs(m: ModuleTranslation) -> Iterator[tuple[ConstExpr, int]]:
    """Every constant expression of ``m`` with the number of globals it may read
    under Wasm 2.0's rules (the imported ones)."""
    rec = m.module
    imported = rec.num_imported_globals
    for init in rec.global_inits:
        yield init, imported
    for seg in rec.elements:
        if seg.offset is not None:
            yield seg.offset, imported
        yield from ((e, imported) for e in seg.expressions or ())
    for data in m.data:
        if data.offset is not None:
            yield data.offset, imported


def _check_extended_const(m: ModuleTranslation) -> None:
    """Reject the extended constant expressions: arithmetic (wasmparser's message) and
    ``global.get`` of a defined global (Wasm 2.0's: the global is unknown there)."""
    for expr, visible in _const_exprs(m):
        for op in expr.ops:
            if op.kind in ARITHMETIC:
                name = op.kind.name.lower().replace("_", ".")
                raise InvalidError(
                    f"constant expression required: non-constant operator: {name}", expr.offset
                )
            if op.kind == ConstOpKind.GLOBAL_GET and op.value >= visible:
                raise InvalidError(f"unknown global {op.value}", expr.offset)


def _check_body(
    m: ModuleTranslation, off: frozenset[str], start: int, end: int, locals_: Iterable[ValueType]
) -> None:
    _check_value_types(off, locals_, start)
    r = BinaryReader(m.wasm, start, end)
    simd = "simd" in off
    bulk = "bulk_memory" in off
    refs = "reference_types" in off
    multi = "multi_value" in off
    relaxed = "relaxed_simd" in off
    typed = "function_references" in off
    threads = "threads" in off
    tail = "tail_call" in off
    exceptions = "exceptions" in off
    gc = "gc" in off
    while r.pos < end:
        at = r.pos
        op = read_opcode(r)
        if FD_BASE <= op < FE_BASE and simd:
            raise InvalidError(_SIMD, at)
        if threads and op in ATOMIC_OPS:
            raise InvalidError(_THREADS, at)
        if relaxed and op in RELAXED_SIMD_OPS:
            raise InvalidError(_RELAXED_SIMD, at)
        if op in _BULK_MEMORY_OPS and bulk:
            raise InvalidError(_BULK_MEMORY, at)
        if op in _REFERENCE_TYPES_OPS and refs:
            raise InvalidError(_REFERENCE_TYPES, at)
        if typed and op in _FUNCTION_REFERENCES_OPS:
            raise InvalidError(_FUNCTION_REFERENCES, at)
        if op in _TAIL_CALL_OPS and tail:
            raise InvalidError(_TAIL_CALL, at)
        if exceptions and op in _EXCEPTIONS_OPS:
            raise InvalidError(_EXCEPTIONS, at)
        if gc and op in GC_OPS:
            raise InvalidError(_GC, at)
        info = OPERATORS[op]
        assert info is not None
        imm = READ_IMMEDIATES[info.imm](r)
        if op == _REF_NULL:
            _check_value_types(off, (val_type(imm),), at)
        elif op == _SELECT_T:
            _check_value_types(off, [val_type(t) for t in imm], at)
        if op in _BLOCK_OPS:
            if imm >= 0 and multi:  # a type index rather than at most one result type
                raise InvalidError(_MULTI_VALUE_BLOCK, at)
            if imm < 0 and imm != BLOCK_EMPTY:
                _check_value_types(off, (val_type(-imm),), at)
