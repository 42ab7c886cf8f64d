"""Feature groups: the WebAssembly 3.0 proposals a generated module may use beyond the base set.

The base set (``fuzz.gen.SMITH_CONFIG``) is WebAssembly 2.0 with multi-memory, tail calls
and extended constants. A run turns each group of ``Options.groups`` on for a module with
that group's probability (drawn from the module's own random stream, after the bytes smith
reads, so the base modules of a seed do not change):

* ``threads``: the threads proposal (shared memories, atomic loads, stores, read-modify-write,
  cmpxchg, ``wait``/``notify``, ``atomic.fence``). wasmtime-py 28 cannot pass a
  ``SharedMemory`` as an import, so a module importing a shared memory is discarded (counted
  as a generation failure); a module defining (and exporting) its own shared memory runs.
* ``memory64``: 64-bit memories (and i64 addresses everywhere), kept small.
* ``exceptions``: tags, ``throw``, ``throw_ref``, ``try_table`` and ``exnref``. wasmtime-py 28
  has no exceptions: such a module's reference is wasmtime-py 51 (``REFERENCE_51``), run in
  the venv of ``wasmtime51_python`` (without it, cwasm at ``opt_level`` 0: ``FALLBACK_51``).
  wasmtime-py 51's C API aborts on exnref and v128 types, so these modules have no SIMD and
  a module with an exnref in a function signature, global, table or import is discarded,
  as is one importing a tag.
* ``funcref``: typed function references (``call_ref``, ``return_call_ref``,
  ``ref.as_non_null``, ``br_on_null``, ``br_on_non_null``, non-nullable locals, typed tables
  and globals). wasm-smith only generates them together with GC, which neither cwasm nor the
  reference runs, so these modules come from ``fuzz.funcref``'s own small generator instead
  of smith.
* ``gc``: smith's GC proposal (recursion groups, subtypes, structs, arrays, ``i31``, casts,
  the ``any``/``extern`` conversions). wasmtime-py 28 has GC off and no switch for it, so the
  reference is wasmtime-py 51 with ``wasm_gc`` (as for ``exceptions``). Its C API aborts on
  every reference type but funcref and externref, so no SIMD, and the exports of items whose
  types show another reference are removed (``fuzz.gc_exports``; the code stays and runs
  through the other exports), and a module importing one is discarded.
* ``throws``: exception handling again, from ``fuzz.throws``'s generator: tags, functions that
  throw (or trap, or call others that do) by their arguments, and every kind of catch clause,
  ``throw_ref`` to outer handlers, handlers in loops, uncaught throws (smith seldom throws).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the reference engine of modules wasmtime-py 28 can run, and of the others
REFERENCE = "wasmtime"
REFERENCE_51 = "wasmtime51"

#: the Python of the venv holding wasmtime-py 51 (the exceptions reference); overridable
WASMTIME51_PYTHON_ENV = "CWASM_FUZZ_WASMTIME51_PYTHON"


@dataclass(frozen=True)
class Group:
    """One optional feature group of generation."""

    name: str
    #: wasm-smith settings on top of the base ones
    smith: dict[str, Any] = field(default_factory=dict)
    #: ``wasm-tools validate`` features on top of the base ones
    features: tuple[str, ...] = ()
    #: the reference engine a module of this group needs
    reference: str = REFERENCE
    #: default probability per module
    probability: float = 0.1
    #: the module (``fuzz.<name>``) whose ``generate_wat(rng)`` writes this group's modules
    #: instead of smith (such a group excludes the others)
    generator: str | None = None


GROUPS: dict[str, Group] = {
    g.name: g
    for g in (
        Group("threads", {"threads-enabled": True}, ("threads",)),
        Group(
            "memory64",
            {"memory64-enabled": True, "max-memory64-bytes": 2 * 1024 * 1024},
            ("memory64",),
        ),
        Group(
            "exceptions",
            {"exceptions-enabled": True, "min-tags": 2, "max-tags": 4},
            ("exceptions",),
            REFERENCE_51,
        ),
        Group("funcref", {}, ("function-references",), probability=0.05, generator="funcref"),
        Group("throws", {}, ("exceptions",), REFERENCE_51, probability=0.05, generator="throws"),
        Group("gc", {"gc-enabled": True}, ("function-references", "gc"), REFERENCE_51),
    )
}

#: the groups of a default run
DEFAULT_GROUPS: tuple[str, ...] = tuple(GROUPS)


def parse_groups(text: str) -> dict[str, float]:
    """``"threads,memory64:0.5"`` -> ``{"threads": default p, "memory64": 0.5}``; ``"none"``
    -> no group."""
    out: dict[str, float] = {}
    for item in text.split(","):
        item = item.strip()
        if not item or item == "none":
            continue
        name, _, p = item.partition(":")
        if name not in GROUPS:
            raise ValueError(f"unknown group {name!r} (choose from {', '.join(GROUPS)})")
        out[name] = float(p) if p else GROUPS[name].probability
    return out


#: the reference of exception modules when wasmtime-py 51 is not installed: cwasm at
#: ``opt_level`` 0 (the run then checks the other configurations' consistency with it, and
#: crashes and hangs)
FALLBACK_51 = "O0"


def reference_for(groups: tuple[str, ...], root: Path) -> str:
    """The reference engine of a module generated with ``groups``."""
    if any(GROUPS[g].reference == REFERENCE_51 for g in groups):
        return REFERENCE_51 if wasmtime51_python(root) else FALLBACK_51
    return REFERENCE


def wasmtime51_python(root: Path) -> str | None:
    """The Python that has wasmtime-py 51 (``$CWASM_FUZZ_WASMTIME51_PYTHON``, else the bench
    venv ``build/bench-venv-wasmtime``), or None."""
    env = os.environ.get(WASMTIME51_PYTHON_ENV)
    if env:
        return env
    path = root / "build" / "bench-venv-wasmtime" / "bin" / "python"
    return str(path) if path.exists() else None
