"""The WebAssembly 3.0 testsuite files (``../shared/spec-testsuite-3``): the features
each needs, and so which of them the harness runs.

A file runs only when every feature it needs is implemented (``IMPLEMENTED``); its
``Config`` then has exactly those proposals switched on beyond 2.0's. The others are
not run (not listed as failures): they wait for their features (issue 14). The
classification is by the proposal a file tests (its name and contents); ``gc`` files
are issue GC's; files that need no 3.0 feature (new tests of 2.0 features or of the
text format: annotations, id, obsolete-keywords, simd_select) list none and always
run. The threads proposal's files
(``threads/``) are listed as ``threads/<stem>``.
"""

from __future__ import annotations

#: the 3.0 features cwasm implements, as ``Config`` names them without ``wasm_``
IMPLEMENTED: frozenset[str] = frozenset(
    (
        "exceptions",
        "extended_const",
        "function_references",
        "gc",
        "memory64",
        "multi_memory",
        "relaxed_simd",
        "tail_call",
        "threads",
    )
)

#: 3.0 features on by default whose modules the 2.0 suite asserts invalid or malformed
#: (global.wast: ``global.get`` of a defined global; elem.wast: ``i32.add`` in an
#: expression; memory.wast: "multiple memories"; binary.wast: "zero byte expected" for a
#: memory index, memory limits flags 2 and 3, shared memories' flags, import kind 4,
#: opcode 0x0A in an expression); every file runs with them off unless it needs them.
#: GC, on by default too, is not among them: no 2.0 file asserts a module it makes valid
#: invalid (the 2.0 suite passes with it on)
OFF_FOR_2_0: tuple[str, ...] = (
    "exceptions",
    "extended_const",
    "memory64",
    "multi_memory",
    "threads",
)

#: 2.0 features a 3.0 file runs without: the threads proposal's repository branched
#: before reference types, and its imports.wast asserts that two tables are invalid
OFF_FOR_FILE: dict[str, tuple[str, ...]] = {"threads/imports": ("reference_types",)}

#: file stem -> the features it needs
FEATURES: dict[str, tuple[str, ...]] = {
    "address0": ("multi_memory",),
    "address1": ("multi_memory",),
    "address64": ("memory64",),
    "align0": ("multi_memory",),
    "align64": ("memory64",),
    "annotations": (),
    "array": ("gc",),
    "array_copy": ("gc",),
    "array_fill": ("gc",),
    "array_init_data": ("gc",),
    "array_init_elem": ("gc",),
    "array_new_data": ("gc",),
    "array_new_elem": ("gc",),
    "binary-gc": ("gc",),
    "binary0": ("multi_memory",),
    "binary_leb128_64": ("memory64",),
    "br_on_cast": ("gc",),
    "br_on_cast_fail": ("gc",),
    "br_on_non_null": ("function_references",),
    "br_on_null": ("function_references",),
    "bulk64": ("memory64",),
    "call_indirect64": ("memory64",),
    "call_ref": ("function_references",),
    "data0": ("multi_memory",),
    "data1": ("multi_memory",),
    "data_drop0": ("multi_memory",),
    "endianness64": ("memory64",),
    "exports0": ("multi_memory",),
    "extern": ("gc",),
    "float_exprs0": ("multi_memory",),
    "float_exprs1": ("multi_memory",),
    "float_memory0": ("multi_memory",),
    "float_memory64": ("memory64",),
    "i16x8_relaxed_q15mulr_s": ("relaxed_simd",),
    "i31": ("gc",),
    "i32x4_relaxed_trunc": ("relaxed_simd",),
    "i8x16_relaxed_swizzle": ("relaxed_simd",),
    "id": (),
    "imports0": ("multi_memory",),
    "imports1": ("multi_memory",),
    "imports2": ("multi_memory",),
    "imports3": ("multi_memory",),
    "imports4": ("multi_memory",),
    "instance": (
        "exceptions",
        "multi_memory",
    ),
    "linking0": ("multi_memory",),
    "linking1": ("multi_memory",),
    "linking2": ("multi_memory",),
    "linking3": ("multi_memory",),
    "load0": ("multi_memory",),
    "load1": ("multi_memory",),
    "load2": ("multi_memory",),
    "load64": ("memory64",),
    "local_init": ("function_references",),
    "memory-multi": ("multi_memory",),
    "memory64": ("memory64",),
    "memory64-imports": ("memory64",),
    "memory_copy0": ("multi_memory",),
    "memory_copy1": ("multi_memory",),
    "memory_copy64": ("memory64",),
    "memory_fill0": ("multi_memory",),
    "memory_fill64": ("memory64",),
    "memory_grow64": ("memory64",),
    "memory_init0": ("multi_memory",),
    "memory_init64": ("memory64",),
    "memory_redundancy64": ("memory64",),
    "memory_size0": ("multi_memory",),
    "memory_size1": ("multi_memory",),
    "memory_size2": ("multi_memory",),
    "memory_size3": ("multi_memory",),
    "memory_size_import": ("multi_memory",),
    "memory_trap0": ("multi_memory",),
    "memory_trap1": ("multi_memory",),
    "memory_trap64": ("memory64",),
    "obsolete-keywords": (),
    "ref": ("function_references",),
    "ref_as_non_null": ("function_references",),
    "ref_cast": ("gc",),
    "ref_eq": ("gc",),
    "ref_test": ("gc",),
    "relaxed_dot_product": ("relaxed_simd",),
    "relaxed_laneselect": ("relaxed_simd",),
    "relaxed_madd_nmadd": ("relaxed_simd",),
    "relaxed_min_max": ("relaxed_simd",),
    "return_call": ("tail_call",),
    "return_call_indirect": ("tail_call",),
    "return_call_ref": (
        "tail_call",
        "function_references",
    ),
    "simd_memory-multi": ("multi_memory",),
    "simd_select": (),
    "start0": ("multi_memory",),
    "store0": ("multi_memory",),
    "store1": ("multi_memory",),
    "store2": ("multi_memory",),
    "struct": ("gc",),
    "table64": ("memory64",),
    "table_copy64": ("memory64",),
    "table_copy_mixed": ("memory64",),
    "table_fill64": ("memory64",),
    "table_get64": ("memory64",),
    "table_grow64": ("memory64",),
    # an array type and array.new_elem (line 2457)
    "table_init64": (
        "memory64",
        "gc",
    ),
    "table_set64": ("memory64",),
    "table_size64": ("memory64",),
    # rec groups of function types (lines 30-55)
    "tag": (
        "exceptions",
        "gc",
    ),
    "throw": ("exceptions",),
    "throw_ref": ("exceptions",),
    "traps0": ("multi_memory",),
    # return_call and return_call_indirect inside try_table (lines 236-251)
    "try_table": (
        "exceptions",
        "tail_call",
    ),
    "type-canon": ("gc",),
    "type-equivalence": ("gc",),
    "type-rec": ("gc",),
    "type-subtyping": ("gc",),
    "threads/atomic": ("threads",),
    "threads/exports": ("threads",),
    "threads/imports": ("threads",),
    "threads/memory": ("threads",),
}


def runnable() -> list[str]:
    """The stems of the 3.0 files whose features are all implemented."""
    return [stem for stem, needs in FEATURES.items() if set(needs) <= IMPLEMENTED]
