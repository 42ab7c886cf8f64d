"""The instance plan (``cwasm.runtime.instance_plan``): what instantiation computes once
per module. Instances of one module made with different imports must still differ where
their constant expressions read those imports, exactly as in wasmtime-py."""

from __future__ import annotations

from typing import Any

import wasmtime

import cwasm
from cwasm.runtime.instance_plan import closed_bits
from cwasm.wasm.constexpr import evaluate_const_expr
from cwasm.wasm.types import ConstExpr, ConstOp, ConstOpKind

WAT = """
(module
  (import "env" "g" (global $g i32))
  (import "env" "f" (func $imported (result i32)))
  (global (export "closed") i32 (i32.const -7))
  (global (export "closed64") i64 (i64.const 0x123456789))
  (global (export "from_import") i32 (global.get $g))
  (global (export "null") funcref (ref.null func))
  (global (export "fref") funcref (ref.func $one))
  (memory (export "mem") 1)
  (data (i32.const 16) "fixed")
  (data (global.get $g) "moved")
  (table (export "tab") 32 funcref)
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (elem (i32.const 0) func $one $imported)
  (elem (global.get $g) func $two)
  (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
)
"""


def _instances(api: Any) -> list[tuple[Any, ...]]:
    """Three instances of one module in one store, each with its own imported global and
    function: what each one's globals, memory and table hold."""
    store = api.Store()
    module = api.Module(store.engine, WAT)
    seen = []
    for g in (20, 24, 28):
        imports = [
            api.Global(store, api.GlobalType(api.ValType.i32(), False), g),
            api.Func(store, api.FuncType([], [api.ValType.i32()]), lambda g=g: 100 + g),
        ]
        exports = api.Instance(store, module, imports).exports(store)
        mem = exports["mem"]
        seen.append(
            (
                exports["closed"].value(store),
                exports["closed64"].value(store),
                exports["from_import"].value(store),
                exports["null"].value(store),
                exports["fref"].value(store)(store),
                bytes(mem.read(store, 16, 21)),
                bytes(mem.read(store, g, g + 5)),
                [exports["call"](store, i) for i in (0, 1, g)],
            )
        )
    return seen


def test_instances_of_one_module_read_their_own_imports() -> None:
    ours = _instances(cwasm)
    assert ours == _instances(wasmtime)
    assert [row[2] for row in ours] == [20, 24, 28]  # each its own import, not the first's
    assert [row[7][1] for row in ours] == [120, 124, 128]


def test_closed_bits_only_for_expressions_that_need_no_instance() -> None:
    def expr(*ops: tuple[ConstOpKind, int]) -> ConstExpr:
        return ConstExpr(tuple(ConstOp(kind, value) for kind, value in ops))

    assert closed_bits(expr((ConstOpKind.I32_CONST, -1))) == 0xFFFF_FFFF
    for kind, value in (
        (ConstOpKind.I64_CONST, -2),
        (ConstOpKind.F32_CONST, 0x7FC0_0001),
        (ConstOpKind.F64_CONST, 0xFFF0_0000_0000_0001),
        (ConstOpKind.V128_CONST, (1 << 127) | 5),
    ):  # the same bits as the instance's own evaluation
        one = expr((kind, value))
        assert closed_bits(one) == evaluate_const_expr(one, _unused, _unused)
    assert (
        closed_bits(
            expr((ConstOpKind.I32_CONST, 5), (ConstOpKind.I32_CONST, 3), (ConstOpKind.I32_SUB, 0))
        )
        == 2
    )
    assert closed_bits(expr((ConstOpKind.REF_NULL, 0))) == 0
    assert closed_bits(expr((ConstOpKind.GLOBAL_GET, 0))) is None
    assert closed_bits(expr((ConstOpKind.REF_FUNC, 0))) is None
    assert (
        closed_bits(
            expr((ConstOpKind.GLOBAL_GET, 0), (ConstOpKind.I32_CONST, 1), (ConstOpKind.I32_ADD, 0))
        )
        is None
    )
    assert closed_bits(None) is None


def _unused(index: int) -> int:
    raise AssertionError(f"a closed expression read index {index}")


def test_large_data_is_not_kept_twice() -> None:
    """A module with more than ``KEEP_COPY_LIMIT`` bytes of data keeps views into its
    artifact in the plan (not a second copy); small data is kept as ``bytes``. Both
    initialize every instance's memory the same, as in wasmtime-py."""
    from cwasm.runtime.instance_plan import KEEP_COPY_LIMIT, plan_for

    big = KEEP_COPY_LIMIT + 4096
    for size, kept in ((64, bytes), (big, memoryview)):
        end_at = 300 if size < big else big + 200
        text = f"""(module (memory (export "mem") {big // 65536 + 2})
          (data (i32.const 100) "{"ab" * (size // 2)}")
          (data (i32.const {end_at}) "end"))"""
        seen = []
        for api in (cwasm, wasmtime):
            store = api.Store(api.Engine())
            module = api.Module(store.engine, text)
            for _ in range(2):
                mem = api.Instance(store, module, []).exports(store)["mem"]
                seen.append(
                    bytes(mem.read(store, 98, 104)) + bytes(mem.read(store, 98 + size, 104 + size))
                )
                seen.append(bytes(mem.read(store, end_at - 1, end_at + 4)))
            if api is cwasm:
                plan = plan_for(module.compiled)
                data = [d for *_, d in plan.images] + [d for _, d in plan.segments]
                assert data and all(type(d) is kept for d in data)
        assert seen[:4] == seen[4:]
        assert seen[0] == b"\0\0abab" + b"ab\0\0\0\0"
