"""Genuine Wasmtime v28 artifacts made on the fly with wasmtime-py 28 (cached per process)."""

from __future__ import annotations

import functools

import wasmtime
from wasmtime import _bindings

WATS: dict[str, str] = {
    "empty": "(module)",
    "t28": """(module
  (memory (export "mem") 1)
  (data (i32.const 16) "hello world")
  (data "passive!")
  (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func $div (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func $load (export "load") (param i32) (result i32) local.get 0 i32.load))""",
    "names": """(module
  (import "env" "imp" (func $"imp with\\09spaces" (param i32)))
  (func $"caf\\c3\\a9\\00\\01\\02odd??name" (export "a") (call $"imp with\\09spaces" (i32.const 1)))
  (func $a_very_long_name_that_goes_on_and_on_and_on_well_past_the_ninety_six_character_limit_of_wasmtime_symbols
    (export "b") (result i64) i64.const 7)
  (func (export "c") (param f64) (result f64) local.get 0 f64.sqrt))""",
    "tables": """(module
  (type $t (func (param i32) (result i32)))
  (table (export "tab") 4 funcref)
  (global $g (mut i32) (i32.const 42))
  (global (export "gi64") i64 (i64.const -1))
  (elem (i32.const 1) $f $f)
  (elem func $f)
  (func $f (type $t) local.get 0 global.get $g i32.add)
  (func (export "call") (param i32 i32) (result i32) local.get 0 local.get 1 call_indirect (type $t))
  (start $s)
  (func $s global.get $g i32.const 1 i32.add global.set $g))""",
    "segmented": """(module
  (import "env" "g" (global $g i32))
  (memory 1)
  (data (global.get $g) "dynamic")
  (data (i32.const 100) "fixed"))""",
}


@functools.cache
def artifact(name: str, *, no_sse41: bool = False) -> bytes:
    config = wasmtime.Config()
    if no_sse41:
        # Without SSE4.1 f32.floor becomes a libcall: a `.rela.text` entry.
        for flag in ("has_sse41", "has_sse42", "has_avx", "has_avx2", "has_fma"):
            _bindings.wasmtime_config_cranelift_flag_set(config.ptr(), flag.encode(), b"false")
        for flag in ("has_avx512f", "has_avx512vl", "has_avx512dq", "has_avx512vbmi"):
            _bindings.wasmtime_config_cranelift_flag_set(config.ptr(), flag.encode(), b"false")
        _bindings.wasmtime_config_cranelift_flag_set(config.ptr(), b"has_avx512bitalg", b"false")
    engine = wasmtime.Engine(config)
    wat = WATS.get(name) or name
    return bytes(wasmtime.Module(engine, wat).serialize())


FLOOR_WAT = '(module (func (export "f") (param f32) (result f32) local.get 0 f32.floor))'
