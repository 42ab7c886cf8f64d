"""Genuine Wasmtime v28 artifacts (made with wasmtime-py 28) and what their WAT source says."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import wasmtime


@dataclass(frozen=True)
class Sample:
    """A WAT module and facts read off its source, to judge the decoded artifact."""

    wat: str
    exports: list[tuple[str, str]]  # (name, kind) in source order
    imports: list[tuple[str, str, str]] = field(default_factory=list)  # (module, field, kind)
    defined_funcs: int = 0
    func_names: dict[int, str] = field(default_factory=dict)
    memories: list[tuple[int, int | None]] = field(default_factory=list)  # (min, max)
    tables: list[tuple[int, int | None, str]] = field(default_factory=list)  # (min, max, elem)
    globals: list[tuple[str, bool]] = field(default_factory=list)  # (type, mutable)
    start: int | None = None
    passive_data: list[bytes] = field(default_factory=list)
    active_data: list[tuple[int, bytes]] = field(default_factory=list)  # constant offsets
    # function name -> trap names its code must contain, and the wasm opcode of each
    traps: dict[str, dict[str, int]] = field(default_factory=dict)


SAMPLES: dict[str, Sample] = {
    "data": Sample(
        wat="""(module $data
  (memory (export "mem") 1 3)
  (data (i32.const 16) "hello world")
  (data "passive!")
  (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func $div (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func $load (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func $boom (export "boom") unreachable))""",
        exports=[
            ("mem", "MEMORY"),
            ("add", "FUNC"),
            ("div", "FUNC"),
            ("load", "FUNC"),
            ("boom", "FUNC"),
        ],
        defined_funcs=4,
        func_names={0: "add", 1: "div", 2: "load", 3: "boom"},
        memories=[(1, 3)],
        passive_data=[b"passive!"],
        active_data=[(16, b"hello world")],
        traps={
            "div": {"IntegerOverflow": 0x6D, "IntegerDivisionByZero": 0x6D},
            "load": {"MemoryOutOfBounds": 0x28},
            "boom": {"UnreachableCodeReached": 0x00},
        },
    ),
    "imports": Sample(
        wat="""(module
  (import "env" "f" (func $f (param i32) (result i32)))
  (import "env" "mem" (memory 1 2))
  (import "env" "g" (global $g i32))
  (import "env" "tab" (table 2 funcref))
  (data (i32.const 8) "seg1")
  (data (global.get $g) "seg2")
  (data "pas")
  (func $call (export "call") (param i32) (result i32) local.get 0 call $f)
  (func $rem (export "rem") (param i64 i64) (result i64) local.get 0 local.get 1 i64.rem_u))""",
        exports=[("call", "FUNC"), ("rem", "FUNC")],
        imports=[
            ("env", "f", "FUNC"),
            ("env", "mem", "MEMORY"),
            ("env", "g", "GLOBAL"),
            ("env", "tab", "TABLE"),
        ],
        defined_funcs=2,
        func_names={0: "f", 1: "call", 2: "rem"},
        memories=[(1, 2)],
        tables=[(2, None, "funcref")],
        globals=[("i32", False)],
        passive_data=[b"pas"],
        traps={"rem": {"IntegerDivisionByZero": 0x82}},
    ),
    "tables": Sample(
        wat="""(module
  (type $t (func (result i32)))
  (table 3 10 funcref)
  (table 2 externref)
  (global (mut i64) (i64.const -5))
  (global f32 (f32.const 1.5))
  (global f64 (f64.const 2.25))
  (global funcref (ref.func 0))
  (elem (table 0) (i32.const 0) func 0 1)
  (elem func 1 0)
  (elem declare func 1)
  (func (type $t) i32.const 1)
  (func (type $t) i32.const 2)
  (func (result f32) global.get 1)
  (func nop)
  (func (export "calli") (param i32) (result i32) local.get 0 call_indirect (type $t))
  (start 3)
  (export "g" (global 0))
  (export "t" (table 0)))""",
        exports=[("calli", "FUNC"), ("g", "GLOBAL"), ("t", "TABLE")],
        defined_funcs=5,
        tables=[(3, 10, "funcref"), (2, None, "externref")],
        globals=[("i64", True), ("f32", False), ("f64", False), ("funcref", False)],
        start=3,
        traps={"function[4]": {"TableOutOfBounds": 0x11, "BadSignature": 0x11}},
    ),
    "empty": Sample(wat="(module)", exports=[]),
}


@functools.cache
def _engine() -> wasmtime.Engine:
    return wasmtime.Engine()


@functools.cache
def artifact(name: str) -> bytes:
    """The artifact wasmtime-py 28 serializes for a sample (compiled once per session)."""
    return bytes(wasmtime.Module(_engine(), SAMPLES[name].wat).serialize())


@functools.cache
def wasm(name: str) -> bytes:
    """The binary module of a sample (wasm offsets in the artifact point into it)."""
    return bytes(wasmtime.wat2wasm(SAMPLES[name].wat))


def _leb(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def code_bodies(module: bytes) -> tuple[int, list[tuple[int, int]]]:
    """Offset of the code section payload and each body's range (after its size)."""
    pos = 8
    while pos < len(module):
        section_id = module[pos]
        size, payload = _leb(module, pos + 1)
        if section_id == 10:
            count, at = _leb(module, payload)
            bodies = []
            for _ in range(count):
                body_size, body = _leb(module, at)
                bodies.append((body, body + body_size))
                at = body + body_size
            return payload, bodies
        pos = payload + size
    return 0, []
