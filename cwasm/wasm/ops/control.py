"""The control, parametric, variable, table and reference instructions (their stack
effects depend on the context: the validator has a handler for each)."""

from __future__ import annotations

from cwasm.wasm.ops.info import (
    FC_BASE,
    IMM_BLOCKTYPE,
    IMM_BR_TABLE,
    IMM_CALL_INDIRECT,
    IMM_ELEM,
    IMM_FUNC,
    IMM_GLOBAL,
    IMM_LABEL,
    IMM_LOCAL,
    IMM_REFTYPE,
    IMM_SELECT_TYPES,
    IMM_TABLE,
    IMM_TABLE_COPY,
    IMM_TABLE_INIT,
    IMM_TAG,
    IMM_TRY_TABLE,
    IMM_TYPE,
)
from cwasm.wasm.ops.info import define as _def

# --- control, parametric, variable, table, reference (context-dependent effects) ---
_def(0x00, "unreachable")
_def(0x01, "nop", params=())
_def(0x02, "block", IMM_BLOCKTYPE)
_def(0x03, "loop", IMM_BLOCKTYPE)
_def(0x04, "if", IMM_BLOCKTYPE)
_def(0x05, "else")
_def(0x0B, "end")
_def(0x0C, "br", IMM_LABEL)
_def(0x0D, "br_if", IMM_LABEL)
_def(0x0E, "br_table", IMM_BR_TABLE)
_def(0x0F, "return")
_def(0x10, "call", IMM_FUNC)
_def(0x11, "call_indirect", IMM_CALL_INDIRECT)
_def(0x12, "return_call", IMM_FUNC)  # tail calls (WebAssembly 3.0)
_def(0x13, "return_call_indirect", IMM_CALL_INDIRECT)
_def(0x1A, "drop")
_def(0x1B, "select")
_def(0x1C, "select_t", IMM_SELECT_TYPES)  # text form: select (result t)
_def(0x20, "local.get", IMM_LOCAL)
_def(0x21, "local.set", IMM_LOCAL)
_def(0x22, "local.tee", IMM_LOCAL)
_def(0x23, "global.get", IMM_GLOBAL)
_def(0x24, "global.set", IMM_GLOBAL)
_def(0x25, "table.get", IMM_TABLE)
_def(0x26, "table.set", IMM_TABLE)
_def(0xD0, "ref.null", IMM_REFTYPE)
_def(0xD1, "ref.is_null")
_def(0xD2, "ref.func", IMM_FUNC)
# typed function references (Wasm 3.0)
_def(0x14, "call_ref", IMM_TYPE)
_def(0x15, "return_call_ref", IMM_TYPE)  # tail calls and typed function references
_def(0xD4, "ref.as_non_null")
_def(0xD5, "br_on_null", IMM_LABEL)
_def(0xD6, "br_on_non_null", IMM_LABEL)
# exception handling (Wasm 3.0)
_def(0x08, "throw", IMM_TAG)
_def(0x0A, "throw_ref")
_def(0x1F, "try_table", IMM_TRY_TABLE)
_def(FC_BASE + 12, "table.init", IMM_TABLE_INIT)
_def(FC_BASE + 13, "elem.drop", IMM_ELEM, ())
_def(FC_BASE + 14, "table.copy", IMM_TABLE_COPY)
_def(FC_BASE + 15, "table.grow", IMM_TABLE)
_def(FC_BASE + 16, "table.size", IMM_TABLE)
_def(FC_BASE + 17, "table.fill", IMM_TABLE)
