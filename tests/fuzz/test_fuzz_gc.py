"""The fuzzer's ``gc`` group: what of a GC module its reference (wasmtime-py 51) can see
(``fuzz.gc_exports``), and the comparator's rule for GC allocations past one engine's
limits."""

from __future__ import annotations

import copy
import subprocess

from fuzz.compare import compare
from fuzz.gc_exports import gc_import, strip_gc_exports
from fuzz.gen import wasm_tools
from tests.fuzz.test_fuzz import _record

MODULE = """(module
  (type (;0;) (struct (field i32)))
  (type (;1;) (func (param i32) (result i32)))
  (type (;2;) (func (result (ref null 0))))
  (table (;0;) 1 anyref)
  (table (;1;) 1 funcref)
  (global (;0;) (mut eqref) ref.null none)
  (global (;1;) (mut i32) i32.const 0)
  (export "f" (func 0))
  (export "g" (func 1))
  (export "t" (table 0))
  (export "u" (table 1))
  (export "x" (global 0))
  (export "y" (global 1))
  (func (;0;) (type 1) (param i32) (result i32)
    local.get 0
    ref.func 1
    drop
  )
  (func (;1;) (type 2) (result (ref null 0))
    i32.const 1
    struct.new 0
  )
)
"""


def test_gc_exports_are_removed_and_their_functions_stay_declared() -> None:
    stripped, removed = strip_gc_exports(MODULE)
    assert removed == 3
    assert '(export "g"' not in stripped and '(export "t"' not in stripped
    assert '(export "x"' not in stripped
    for kept in ('(export "f"', '(export "u"', '(export "y"'):
        assert kept in stripped
    assert "(elem declare func 1)" in stripped
    # still a valid module (``ref.func 1`` needs function 1 declared)
    parsed = subprocess.run(
        [wasm_tools(), "parse", "-o", "/dev/stdout"],
        input=stripped.encode(),
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run([wasm_tools(), "validate", "--features", "all", "-"], input=parsed, check=True)
    assert not gc_import(MODULE)
    assert gc_import('(module\n  (import "m" "g" (global (;0;) anyref))\n)\n')
    assert not gc_import('(module\n  (import "m" "g" (global (;0;) externref))\n)\n')


def test_comparator_skips_a_gc_allocation_past_one_engines_limit() -> None:
    ref = _record()
    other = copy.deepcopy(ref)
    other["calls"][0] = {
        "func": "f",
        "args": [0],
        "trap": "ALLOCATION_TOO_LARGE",
        "message": "wasm trap: allocation size too large",
        "host_log": [["env::h", [0]]],
    }
    c = compare(ref, other)
    assert c.mismatches == [] and c.skipped == "GC heap limit in call 0"

    other = copy.deepcopy(ref)
    other["instantiate"] = {"error": True, "message": "WasmtimeError: GC heap out of memory"}
    c = compare(ref, other)
    assert c.mismatches == [] and c.skipped

    hang = {"engine": "wasmtime", "status": "hang", "timeout": 20.0}
    c = compare(hang, other)
    assert c.mismatches == [] and c.skipped

    # any other difference is still one
    other = copy.deepcopy(ref)
    other["calls"][0]["results"] = [6]
    assert [m["kind"] for m in compare(ref, other).mismatches] == ["result"]
    assert [m["kind"] for m in compare(hang, ref).mismatches] == ["hang"]
