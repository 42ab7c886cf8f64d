"""Validation of one function body against its module, by the spec's validation algorithm.

The algorithm is the one of the spec's appendix: a stack of operand types and a stack
of control frames; after an unconditional branch the rest of the frame is unreachable
and its operand stack polymorphic (popping below the frame's height yields the
*unknown* type, which matches every type).

Value types are plain ints (their binary encodings, see ``cwasm.wasm.operators``);
``UNKNOWN`` (0) is the type of a value popped from a polymorphic stack. The hot loop
reads bytes directly from a copy of the body, with inlined fast paths for short LEB128
immediates, and checks the hundreds of plain numeric and SIMD instructions through a
table of fixed stack effects; control, variable, reference, table and memory
instructions have hand-written cases. Converted signatures are cached across calls
for the module being validated (see ``context``).

Errors use the reference interpreter's wording and the offset of the offending
instruction. As in the reference interpreter, where a body is both malformed and
invalid the malformed error wins: after finding an invalid instruction the body is
skimmed for a malformed encoding further on.

The parts:

* ``body``: ``validate_function_body`` and the hot loop, with its per-opcode handler
  table (control, variable, call, memory and fixed-effect instructions inline);
* ``rules``: the instructions typed by their immediates, off the hot path (immediates
  of fixed-effect instructions, references and tables), and the malformed-body skim;
* ``stack``: the operand and control stacks (frame layout, pops with the unknown type);
* ``context``: what of the module a body is checked against, and its local types;
* ``immediates``: the fast LEB128 readers of the hot loop.
"""

from cwasm.wasm.validator.body import validate_function_body

__all__ = ["validate_function_body"]
