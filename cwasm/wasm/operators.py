"""The table of every WebAssembly instruction (2.0's, relaxed SIMD and the threads proposal's
atomics): opcode, text name, immediates, stack effect.

Opcode ids
----------
Every instruction has one small integer *opcode id*, so that one flat list lookup
finds it:

* a single-byte opcode is its byte (``0x6A`` is ``i32.add``);
* ``0xFC n`` (saturating truncation, bulk memory, table ops) is ``FC_BASE + n``;
* ``0xFD n`` (fixed-width SIMD) is ``FD_BASE + n``;
* ``0xFE n`` (threads: atomic memory accesses, wait/notify, fence) is ``FE_BASE + n``;
* ``0xFB n`` (GC: structs, arrays, i31, casts) is ``FB_BASE + n``.

``opcode_id(prefix, sub)`` computes it, ``BY_NAME["i32.add"]`` finds it by text name.
``OPERATORS[id]`` is the instruction's ``OpInfo`` or ``None`` for an unused id.

OpInfo
------
``name``     the text-format name (``v128.load8x8_s``)
``imm``      the kind of immediates, one of the ``IMM_*`` constants
``params`` / ``results``
             the fixed stack effect as value-type bytes (``ValType`` values as plain
             ints), or ``params is None`` when the effect depends on the immediates or
             the context (control, variable, reference, table and parametric
             instructions); such instructions need a hand-written handler
``align``    for memory accesses, the natural alignment (log2 of the access size): the
             largest alignment exponent a memarg may carry (the only one, for an
             atomic access); ``-1`` otherwise
``lanes``    for lane immediates, the number of lanes (the lane index must be smaller)

Reading instructions
--------------------
A decoding loop looks like this (the validator and the translator both use it)::

    r = BinaryReader(wasm, body.code_start, body.end)
    while ...:
        start = r.pos
        op = read_opcode(r)                    # opcode id; "illegal opcode" if unknown
        info = OPERATORS[op]
        imm = READ_IMMEDIATES[info.imm](r)     # see below; may raise MalformedError
        ...dispatch on op...

``READ_IMMEDIATES[kind](reader)`` returns, per kind:

====================  =====================================================================
``IMM_NONE``          ``None``
``IMM_BLOCKTYPE``     ``int``: ``BLOCK_EMPTY`` (-0x40), ``-valtype`` (-0x7F for i32...), or
                      a type index (>= 0)
``IMM_LABEL``         ``int`` relative depth
``IMM_BR_TABLE``      ``tuple[tuple[int, ...], int]``: (targets, default)
``IMM_FUNC``          ``int`` function index (``call``, ``return_call``, ``ref.func``)
``IMM_CALL_INDIRECT`` ``tuple[int, int]``: (type index, table index) (``call_indirect``,
                      ``return_call_indirect``)
``IMM_LOCAL``         ``int``
``IMM_GLOBAL``        ``int``
``IMM_TABLE``         ``int`` table index
``IMM_MEMARG``        ``tuple[int, int, int]``: (alignment exponent, offset, memory index)
``IMM_MEMARG_LANE``   ``tuple[int, int, int, int]``: (alignment exponent, offset, lane,
                      memory index)
``IMM_LANE``          ``int`` lane index (a byte)
``IMM_SHUFFLE``       ``bytes``: 16 lane indices
``IMM_I32``           ``int`` (signed)
``IMM_I64``           ``int`` (signed)
``IMM_F32``           ``int``: the raw IEEE bits (u32), so NaN payloads survive
``IMM_F64``           ``int``: the raw IEEE bits (u64)
``IMM_V128``          ``bytes``: 16 bytes, little-endian
``IMM_SELECT_TYPES``  ``tuple[int, ...]``: value types of a typed ``select``
``IMM_REFTYPE``       ``int``: the code of ``(ref null ht)`` for the heap type ``ht``
                      written (``ref.null``): FUNCREF, EXTERNREF, a ``RefType``'s
``IMM_TYPE``          ``int`` type index (``call_ref``, ``return_call_ref``)
``IMM_TAG``           ``int`` tag index (``throw``)
``IMM_TRY_TABLE``     ``tuple[int, tuple[tuple[int, int, int], ...]]``: the block type and
                      the catch clauses, each (kind, tag index or -1, label)
``IMM_MEMORY``        ``int``: the memory index
``IMM_MEMORY_INIT``   ``tuple[int, int]``: (data segment index, memory index)
``IMM_MEMORY_COPY``   ``tuple[int, int]``: (destination memory, source memory)
``IMM_DATA``          ``int`` data segment index
``IMM_ELEM``          ``int`` element segment index
``IMM_TABLE_INIT``    ``tuple[int, int]``: (element segment index, table index)
``IMM_TABLE_COPY``    ``tuple[int, int]``: (destination table, source table)
``IMM_ATOMIC_MEMARG`` ``tuple[int, int, int]``: (alignment exponent, offset, memory index) of an atomic
                      access, whose alignment must be exactly the natural one
``IMM_ATOMIC_FENCE``  ``None`` (the reserved byte is checked to be 0)
``IMM_TYPE_PAIR``     ``tuple[int, int]``: a type index and a field index (``struct.get``),
                      a count (``array.new_fixed``), a data or element segment index or
                      a source type index (``array.copy``)
``IMM_HEAPTYPE``      ``int``: a heap type's code (``ref.test``, ``ref.cast``)
``IMM_BR_ON_CAST``    ``tuple[int, int, int]``: the label and the codes of the two
                      reference types (``br_on_cast``, ``br_on_cast_fail``)
====================  =====================================================================

Malformed encodings raise ``MalformedError`` with the reference interpreter's wording
and offsets (``illegal opcode 06``, ``zero byte expected``, ``malformed memop flags``,
``malformed reference type``...). These readers are the project's one definition of
how instructions are encoded: the decoder (``cwasm.wasm.instructions``), the validator
and the translator all read instructions through them.

Constant expressions
--------------------
``CONST_OP_KINDS`` maps the opcode id of each instruction allowed in a Wasm 2.0
constant expression to its ``ConstOpKind``; ``const_op_value`` turns that
instruction's immediates into the ``ConstOp`` value.

The table is assembled from one module per instruction group in ``cwasm.wasm.ops``
(``info``: opcode ids, ``OpInfo`` and the ``IMM_*`` kinds; ``control``, ``memory``,
``numeric``, ``simd``, ``atomics``, ``gc``: the instructions; ``const``: the constant
instructions; ``reading``: the readers); this module is the one to import.
"""

from __future__ import annotations

from cwasm.wasm.ops.atomics import (
    ATOMIC_OPS,
)
from cwasm.wasm.ops.const import (
    CONST_OP_KINDS,
    const_op_value,
)
from cwasm.wasm.ops.gc import (
    GC_OPS,
)
from cwasm.wasm.ops.info import (
    BLOCK_EMPTY,
    BY_NAME,
    CATCH,
    CATCH_ALL,
    CATCH_ALL_REF,
    CATCH_REF,
    EXTERNREF,
    F32,
    F64,
    FB_BASE,
    FC_BASE,
    FD_BASE,
    FE_BASE,
    FUNCREF,
    I32,
    I64,
    IMM_ATOMIC_FENCE,
    IMM_ATOMIC_MEMARG,
    IMM_BLOCKTYPE,
    IMM_BR_ON_CAST,
    IMM_BR_TABLE,
    IMM_CALL_INDIRECT,
    IMM_DATA,
    IMM_ELEM,
    IMM_F32,
    IMM_F64,
    IMM_FUNC,
    IMM_GLOBAL,
    IMM_HEAPTYPE,
    IMM_I32,
    IMM_I64,
    IMM_LABEL,
    IMM_LANE,
    IMM_LOCAL,
    IMM_MEMARG,
    IMM_MEMARG_LANE,
    IMM_MEMORY,
    IMM_MEMORY_COPY,
    IMM_MEMORY_INIT,
    IMM_NONE,
    IMM_REFTYPE,
    IMM_SELECT_TYPES,
    IMM_SHUFFLE,
    IMM_TABLE,
    IMM_TABLE_COPY,
    IMM_TABLE_INIT,
    IMM_TAG,
    IMM_TRY_TABLE,
    IMM_TYPE,
    IMM_TYPE_PAIR,
    IMM_V128,
    NUM_IMM_KINDS,
    NUM_OPCODE_IDS,
    OPERATORS,
    REFTYPE_BY_BYTE,
    REFTYPE_BYTES,
    SUPPORTED_HEAPS,
    V128,
    VALTYPE_BY_BYTE,
    VALTYPE_BYTES,
    OpInfo,
    opcode_id,
)
from cwasm.wasm.ops.reading import (
    MEMARG_HAS_MEMORY,
    READ_IMMEDIATES,
    READ_IMMEDIATES_32,
    illegal_opcode,
    illegal_opcode_id,
    read_blocktype,
    read_br_on_cast,
    read_br_table,
    read_heap_type,
    read_immediates,
    read_memarg,
    read_memarg_32,
    read_opcode,
    read_ref_type,
    read_reftype,
    read_select_types,
    read_try_table,
    read_valtype,
    read_value_type,
    read_zero_byte,
)
from cwasm.wasm.ops.simd import (
    RELAXED_SIMD,
    RELAXED_SIMD_OPS,
)

__all__ = [
    "ATOMIC_OPS",
    "BLOCK_EMPTY",
    "BY_NAME",
    "CATCH",
    "CATCH_ALL",
    "CATCH_ALL_REF",
    "CATCH_REF",
    "CONST_OP_KINDS",
    "EXTERNREF",
    "F32",
    "F64",
    "FB_BASE",
    "FC_BASE",
    "FD_BASE",
    "FE_BASE",
    "FUNCREF",
    "GC_OPS",
    "I32",
    "I64",
    "IMM_ATOMIC_FENCE",
    "IMM_ATOMIC_MEMARG",
    "IMM_BLOCKTYPE",
    "IMM_BR_ON_CAST",
    "IMM_BR_TABLE",
    "IMM_CALL_INDIRECT",
    "IMM_DATA",
    "IMM_ELEM",
    "IMM_F32",
    "IMM_F64",
    "IMM_FUNC",
    "IMM_GLOBAL",
    "IMM_HEAPTYPE",
    "IMM_I32",
    "IMM_I64",
    "IMM_LABEL",
    "IMM_LANE",
    "IMM_LOCAL",
    "IMM_MEMARG",
    "IMM_MEMARG_LANE",
    "IMM_MEMORY",
    "IMM_MEMORY_COPY",
    "IMM_MEMORY_INIT",
    "IMM_NONE",
    "IMM_REFTYPE",
    "IMM_SELECT_TYPES",
    "IMM_SHUFFLE",
    "IMM_TABLE",
    "IMM_TABLE_COPY",
    "IMM_TABLE_INIT",
    "IMM_TAG",
    "IMM_TRY_TABLE",
    "IMM_TYPE",
    "IMM_TYPE_PAIR",
    "IMM_V128",
    "MEMARG_HAS_MEMORY",
    "NUM_IMM_KINDS",
    "NUM_OPCODE_IDS",
    "OPERATORS",
    "OpInfo",
    "READ_IMMEDIATES",
    "READ_IMMEDIATES_32",
    "REFTYPE_BYTES",
    "REFTYPE_BY_BYTE",
    "RELAXED_SIMD",
    "RELAXED_SIMD_OPS",
    "SUPPORTED_HEAPS",
    "V128",
    "VALTYPE_BYTES",
    "VALTYPE_BY_BYTE",
    "const_op_value",
    "illegal_opcode",
    "illegal_opcode_id",
    "opcode_id",
    "read_blocktype",
    "read_br_on_cast",
    "read_br_table",
    "read_heap_type",
    "read_immediates",
    "read_memarg",
    "read_memarg_32",
    "read_opcode",
    "read_ref_type",
    "read_reftype",
    "read_select_types",
    "read_try_table",
    "read_valtype",
    "read_value_type",
    "read_zero_byte",
]
