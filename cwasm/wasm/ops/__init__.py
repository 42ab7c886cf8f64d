"""The instruction table, one module per instruction group.

``cwasm.wasm.operators`` is the one to import. ``info`` defines the opcode ids,
``OpInfo``, the immediate kinds and the ``OPERATORS`` / ``BY_NAME`` tables, which the
group modules fill in, in the order below (``BY_NAME``'s order); ``const`` lists the
constant instructions (by name, so it comes last) and ``reading`` reads instructions.
"""

# isort: off
from cwasm.wasm.ops import info, control, memory, numeric, simd, atomics, gc, const, reading
# isort: on

__all__ = ["info", "control", "memory", "numeric", "simd", "atomics", "gc", "const", "reading"]
