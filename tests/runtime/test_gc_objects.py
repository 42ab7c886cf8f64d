"""Structs and arrays in the store's GC heap (docs/gc.md, ``cwasm.abi.gc_layout``):
``struct.new[_default]``, ``struct.get[_s/_u]``, ``struct.set``, ``array.new[_default/
_fixed]``, ``array.get[_s/_u]``, ``array.set``, ``array.len``, ``array.fill`` and
``array.copy``, with their null, bounds and size traps, compared with Wasmtime (whose
library runs GC modules once its C API's ``wasmtime_config_wasm_gc_set`` is called).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import cwasm
from tests.runtime.test_gc_types import _config
from tests.runtime.wat import wat

MODULE = """
(module
  (type $p (struct (field $x i32) (field $y (mut i64)) (field $b (mut i8))
                   (field $h (mut i16)) (field $d f64) (field $r (mut (ref null $p)))))
  (type $w (array (mut i32)))
  (type $bytes (array (mut i8)))
  (type $halves (array i16))
  (type $floats (array (mut f64)))
  (type $refs (array (mut (ref null $p))))

  (func $point (param i32) (result (ref $p))
    (struct.new $p (local.get 0) (i64.const 5) (local.get 0) (local.get 0)
      (f64.const 1.5) (ref.null $p)))

  (func (export "fields") (param i32) (result i64)
    (local $o (ref $p))
    (local.set $o (call $point (local.get 0)))
    (struct.set $p $y (local.get $o) (i64.mul (struct.get $p $y (local.get $o)) (i64.const 3)))
    (i64.add
      (i64.add (i64.extend_i32_s (struct.get_s $p $b (local.get $o)))
               (i64.extend_i32_u (struct.get_u $p $h (local.get $o))))
      (i64.add (struct.get $p $y (local.get $o))
               (i64.extend_i32_s (struct.get $p $x (local.get $o))))))
  (func (export "packed") (param i32) (result i32)
    (local $o (ref $p))
    (local.set $o (call $point (i32.const 0)))
    (struct.set $p $b (local.get $o) (local.get 0))
    (struct.set $p $h (local.get $o) (local.get 0))
    (i32.xor (struct.get_s $p $b (local.get $o))
      (i32.shl (struct.get_u $p $h (local.get $o)) (i32.const 8))))
  (func (export "float") (result f64) (struct.get $p $d (call $point (i32.const 0))))
  (func (export "default") (result i64)
    (local $o (ref $p))
    (local.set $o (struct.new_default $p))
    (i64.add (struct.get $p $y (local.get $o))
      (i64.extend_i32_u (ref.is_null (struct.get $p $r (local.get $o))))))
  (func (export "chain") (param i32) (result i32)
    ;; a list of n structs linked through $r, then its length counted
    (local $head (ref null $p)) (local $i i32) (local $n i32)
    (loop $build
      (if (i32.lt_u (local.get $i) (local.get 0))
        (then
          (local.set $head (struct.new $p (local.get $i) (i64.const 0) (i32.const 0)
            (i32.const 0) (f64.const 0) (local.get $head)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $build))))
    (block $end
      (loop $count
        (br_if $end (ref.is_null (local.get $head)))
        (local.set $n (i32.add (local.get $n) (struct.get $p $x (local.get $head))))
        (local.set $head (struct.get $p $r (local.get $head)))
        (br $count)))
    (local.get $n))
  (func (export "null_get") (result i32) (struct.get $p $x (ref.null $p)))
  (func (export "null_set") (struct.set $p $y (ref.null $p) (i64.const 1)))

  (func (export "words") (param i32 i32 i32) (result i32)
    ;; array.new of length $0 filled with 7, element $1 set to 100, then element $2
    (local $a (ref $w))
    (local.set $a (array.new $w (i32.const 7) (local.get 0)))
    (array.set $w (local.get $a) (local.get 1) (i32.const 100))
    (i32.add (i32.mul (array.len (local.get $a)) (i32.const 1000))
      (array.get $w (local.get $a) (local.get 2))))
  (func (export "bytes") (param i32) (result i32)
    (local $a (ref $bytes))
    (local.set $a (array.new_default $bytes (i32.const 4)))
    (array.set $bytes (local.get $a) (i32.const 1) (local.get 0))
    (i32.add (array.get_s $bytes (local.get $a) (i32.const 1))
      (i32.shl (array.get_u $bytes (local.get $a) (i32.const 1)) (i32.const 16))))
  (func (export "fixed") (param i32) (result i32)
    (array.get_s $halves (array.new_fixed $halves 3 (i32.const 1) (i32.const -2) (i32.const 0x18000))
      (local.get 0)))
  (func (export "floats") (param i32) (result f64)
    (local $a (ref $floats))
    (local.set $a (array.new $floats (f64.const 0.25) (i32.const 3)))
    (array.set $floats (local.get $a) (i32.const 2) (f64.const -8))
    (array.get $floats (local.get $a) (local.get 0)))
  (func (export "fill") (param i32 i32) (result i32)
    (local $a (ref $w)) (local $i i32) (local $s i32)
    (local.set $a (array.new_default $w (i32.const 8)))
    (array.fill $w (local.get $a) (local.get 0) (i32.const 3) (local.get 1))
    (loop $sum
      (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 10))
        (array.get $w (local.get $a) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $sum (i32.lt_u (local.get $i) (i32.const 8))))
    (local.get $s))
  (func (export "copy") (param i32 i32 i32) (result i32)
    ;; 0..7 copied within itself: $1 elements from $2 to $0 (overlapping both ways)
    (local $a (ref $w)) (local $i i32) (local $s i32)
    (local.set $a (array.new_fixed $w 8 (i32.const 0) (i32.const 1) (i32.const 2)
      (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6) (i32.const 7)))
    (array.copy $w $w (local.get $a) (local.get 0) (local.get $a) (local.get 2) (local.get 1))
    (loop $sum
      (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 10))
        (array.get $w (local.get $a) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $sum (i32.lt_u (local.get $i) (i32.const 8))))
    (local.get $s))
  (func (export "refs") (param i32) (result i32)
    (local $a (ref $refs))
    (local.set $a (array.new_default $refs (local.get 0)))
    (array.set $refs (local.get $a) (i32.const 0) (call $point (i32.const 42)))
    (struct.get $p $x (ref.as_non_null (array.get $refs (local.get $a) (i32.const 0)))))
  (data $text "\\01\\02\\03\\04\\05\\06\\07\\08")
  (func $one (result i32) (i32.const 1))
  (elem $fs func $one $one)
  (type $fns (array (mut funcref)))
  (func (export "new_data") (param i32 i32 i32) (result i32)
    ;; array.new_data of $1 i16s from byte $0, element $2 read
    (array.get_u $halves (array.new_data $halves $text (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "init_data") (param i32 i32 i32) (result i32)
    (local $a (ref $w))
    (local.set $a (array.new $w (i32.const -1) (i32.const 3)))
    (array.init_data $w $text (local.get $a) (local.get 0) (local.get 1) (local.get 2))
    (i32.xor (array.get $w (local.get $a) (i32.const 0))
      (i32.rotl (array.get $w (local.get $a) (i32.const 2)) (i32.const 7))))
  (func (export "new_elem") (param i32 i32) (result i32)
    (array.len (array.new_elem $fns $fs (local.get 0) (local.get 1))))
  (func (export "init_elem") (param i32 i32 i32) (result i32)
    (local $a (ref $fns))
    (local.set $a (array.new_default $fns (i32.const 3)))
    (array.init_elem $fns $fs (local.get $a) (local.get 0) (local.get 1) (local.get 2))
    (i32.add (ref.is_null (array.get $fns (local.get $a) (i32.const 0)))
      (i32.shl (ref.is_null (array.get $fns (local.get $a) (i32.const 2))) (i32.const 1))))
  (func (export "null_len") (result i32) (array.len (ref.null $w)))
  (func (export "null_fill") (array.fill $w (ref.null $w) (i32.const 0) (i32.const 0) (i32.const 0)))
  (func (export "huge") (result i32) (array.len (array.new_default $w (i32.const -1))))
)
"""


def _outcome(f: Any, store: Any, *args: Any) -> object:
    """The result, or the trap's message (``wasm trap: ...`` in both texts)."""
    try:
        return f(store, *args)
    except (wasmtime.Trap, wasmtime.WasmtimeError, cwasm.Trap) as e:
        found = re.search(r"wasm trap: (.*)", str(e))
        return found.group(1).strip() if found else str(e)


def _run(api: Any) -> list[object]:
    store = api.Store(api.Engine(_config(api)))
    x = api.Instance(store, api.Module(store.engine, wat(MODULE)), []).exports(store)
    calls: list[tuple[str, tuple[int, ...]]] = [
        *(("fields", (v,)) for v in (0, 1, -1, 300, 0x12345678)),
        *(("packed", (v,)) for v in (0, 0x7F, 0x80, 0xFFFF, 0x12345)),
        ("float", ()),
        ("default", ()),
        ("chain", (0,)),
        ("chain", (1000,)),
        ("null_get", ()),
        ("null_set", ()),
        *(
            ("words", (n, i, j))
            for n, i, j in ((4, 0, 0), (4, 3, 2), (4, 4, 0), (4, 0, 4), (0, 0, 0))
        ),
        *(("words", (1, 0, -1)),),
        *(("bytes", (v,)) for v in (1, 0x80, 0xFF, 0x1FF)),
        *(("fixed", (i,)) for i in (0, 1, 2, 3)),
        *(("floats", (i,)) for i in (0, 2, 3)),
        *(
            ("copy", (d, n, s))
            for d, n, s in ((0, 3, 2), (2, 3, 0), (5, 3, 0), (6, 3, 0), (0, 0, 8))
        ),
        *(("copy", (0, 1, 9)),),
        ("refs", (1,)),
        ("refs", (0,)),
        *(("new_data", a) for a in ((0, 4, 0), (1, 3, 2), (2, 3, 0), (8, 0, 0), (9, 0, 0))),
        *(("init_data", a) for a in ((0, 0, 3), (1, 4, 2), (0, 2, 1), (3, 0, 1), (0, 8, 0))),
        *(("new_elem", a) for a in ((0, 2), (1, 1), (2, 0), (1, 2), (3, 0))),
        *(("init_elem", a) for a in ((0, 0, 2), (2, 0, 1), (1, 1, 1), (2, 0, 2), (0, 2, 1))),
        ("null_len", ()),
        ("null_fill", ()),
        ("huge", ()),
    ]
    return [(name, args, _outcome(x[name], store, *args)) for name, args in calls]


def test_structs_and_arrays_match_wasmtime() -> None:
    assert _run(cwasm) == _run(wasmtime)


#: wasmtime-py 51, whose ``Config`` has ``wasm_gc`` (Wasmtime 28's ``array.fill`` stores
#: the wrong elements, so ``array.fill`` is compared with this one)
WASMTIME_51 = Path("/work/main/build/bench-venv-wasmtime/bin/python")
FILLS = ((0, 1), (5, 2), (6, 3), (8, 0), (9, 0), (-1, 1), (0, 8))

_RUN_51 = """
import json, re, sys, wasmtime as w
c = w.Config(); c.wasm_gc = True; c.wasm_function_references = True
s = w.Store(w.Engine(c))
x = w.Instance(s, w.Module(s.engine, open(sys.argv[1], "rb").read()), []).exports(s)
out = []
for args in json.loads(sys.argv[2]):
    try:
        out.append(x["fill"](s, *args))
    except w.Trap as e:
        out.append(re.search(r"wasm trap: (.*)", str(e)).group(1).strip())
print(json.dumps(out))
"""


@pytest.mark.skipif(not WASMTIME_51.exists(), reason="no wasmtime-py 51 venv")
def test_array_fill_matches_wasmtime_51(tmp_path: Path) -> None:
    binary = tmp_path / "m.wasm"
    binary.write_bytes(wat(MODULE))
    done = subprocess.run(
        [str(WASMTIME_51), "-c", _RUN_51, str(binary), json.dumps(FILLS)],
        capture_output=True,
        text=True,
        check=True,
    )
    store = cwasm.Store(cwasm.Engine(_config(cwasm)))
    x = cwasm.Instance(store, cwasm.Module(store.engine, wat(MODULE)), []).exports(store)
    assert [_outcome(x["fill"], store, *args) for args in FILLS] == json.loads(done.stdout)


def test_a_full_heap_fails_the_allocation_cleanly() -> None:
    """An allocation the heap's limit cannot hold even after a collection fails with
    Wasmtime's error (an error of the call, not a trap); the store stays usable."""
    store = cwasm.Store(cwasm.Engine(_config(cwasm)))
    x = cwasm.Instance(store, cwasm.Module(store.engine, wat(MODULE)), []).exports(store)
    store.set_limits(memory_size=store.gc_heap.reserved + (1 << 20))
    with pytest.raises(cwasm.WasmtimeError, match="GC heap out of memory"):
        x["words"](store, 1 << 20, 0, 0)  # 4 MiB of elements
    assert x["chain"](store, 100) == sum(range(100))
