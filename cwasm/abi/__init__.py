"""The one contract between compiled code and the runtime (as Wasmtime's ``environ`` crate:
``vmoffsets.rs``, ``builtin.rs``).

* ``vmoffsets``: the byte layout of the vmctx, the store context, host function contexts
  and ``VMFuncRef``s;
* ``builtins``: the table of runtime routines compiled code calls through the vmctx, each
  stated once, from which both the compiler's LLVM IR calls and the runtime's ctypes
  prototypes are generated;
* ``guard_layout``: the guard-page modes, sizes, symbols and the signal-handler layouts;
* ``gc_layout``: GC objects' header, struct field offsets and array elements.

``cwasm.compile`` and ``cwasm.runtime`` never import each other; both import this package.
It never imports llvmlite, nor anything of cwasm but ``cwasm.errors``, ``cwasm.obj.traps``,
the module record the vmctx layout is computed from (``cwasm.wasm.module``) and the
type definitions GC layouts are computed from (``cwasm.wasm.gc_types``, ``types``).
"""
