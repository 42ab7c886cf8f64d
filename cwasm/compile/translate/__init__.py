"""Translation of one validated wasm function body to the text of one LLVM IR function.

The package is laid out like Cranelift's wasm translator:

- ``driver``: the per-function core (stacks, locals, labels, IR emission, trap sites)
  and the ``translate()`` loop;
- ``control``: blocks, branches, returns, calls, ``drop`` and ``select``;
- ``tailcalls``: ``return_call`` and ``return_call_indirect`` (frames replaced);
- ``exceptions``, ``handlers``: ``throw``, ``throw_ref``, ``try_table`` and its
  landing pad (docs/exceptions.md);
- ``typed_refs``: ``call_ref``, ``ref.as_non_null``, ``br_on_null``, ``br_on_non_null``;
- ``environ``: vmctx fields, globals, tables, memories, bounds checks, loads and
  stores, bulk memory and builtin calls;
- ``interrupts``: the fuel and epoch checks (``Config.consume_fuel``,
  ``Config.epoch_interruption``), hooks the driver calls around each instruction;
- ``numeric``: scalar numeric instructions and constants;
- ``simd``, ``simd_memory``, ``simd_convert``: the fixed-width SIMD instructions (lane
  and arithmetic ops with the shape helpers; v128 loads and stores; conversions);
- ``dispatch``: merges the ``HANDLERS`` each of them exports into the opcode-indexed
  list the driver uses.

``FunctionTranslator`` combines the pieces; importing this package is all a user needs.
"""

from __future__ import annotations

from cwasm.compile.translate import dispatch
from cwasm.compile.translate.driver import Handler, func_symbol, trap_symbol
from cwasm.compile.translate.environ import GUARDED_PTR
from cwasm.compile.translate.exceptions import ExceptionsMixin
from cwasm.compile.translate.numeric import NumericMixin
from cwasm.compile.translate.typed_refs import TypedRefsMixin

__all__ = ["GUARDED_PTR", "FunctionTranslator", "Handler", "func_symbol", "trap_symbol"]


class FunctionTranslator(ExceptionsMixin, TypedRefsMixin, NumericMixin):
    """Translates one defined function; ``translate()`` appends it to the IRModule."""

    handlers = dispatch.HANDLERS
