"""``cwasm.runtime.module_facts``: a repeated load of the same bytes reuses what the first
load derived from the verified info, only in the same engine, and loads and runs the
same as a first load (compared with wasmtime-py 28 running the same module)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import wasmtime

import cwasm.api
from cwasm.runtime import module_facts
from tests.runtime.wat import wat

MODULE = """
(module
  (type $un (func (param i32) (result i32)))
  (import "host" "twice" (func $twice (type $un)))
  (table $t 2 funcref)
  (global $g (mut i32) (i32.const 5))
  (elem (i32.const 0) $twice $inc)
  (func $inc (type $un) (i32.add (local.get 0) (global.get $g)))
  (func (export "run") (param i32) (result i32)
    (call_indirect (type $un)
      (call_indirect (type $un) (local.get 0) (i32.const 0))
      (i32.const 1))))
"""


def _run(api: Any, engine: Any, module: Any, arg: int) -> int:
    store = api.Store(engine)
    twice = api.Func(store, api.FuncType([api.ValType.i32()], [api.ValType.i32()]), lambda x: 2 * x)
    instance = api.Instance(store, module, [twice])
    return int(instance.exports(store)["run"](store, arg))


def test_a_repeated_load_reuses_the_facts_and_runs_the_same() -> None:
    engine = cwasm.api.Engine()
    artifact = cwasm.api.Module(engine, wat(MODULE)).serialize()
    first = cwasm.api.Module.deserialize(engine, artifact)
    a = first.compiled
    info, type_ids, offsets = a.info, a.type_ids, a.offsets
    func_offsets = [x - a.code.base for x in a.func_addrs]
    w2a_offsets = {k: v - a.code.base for k, v in a.wasm_to_array.items()}
    # with no module of the first load alive, the second maps its code afresh
    # (``tests/runtime/test_shared_code.py``: otherwise it shares it)
    del first, a
    gc.collect()
    first = cwasm.api.Module.deserialize(engine, artifact)
    again = cwasm.api.Module.deserialize(engine, artifact)
    b = again.compiled
    assert b.info is info  # the verified record, remembered by its bytes
    assert b.type_ids is type_ids and b.offsets is offsets
    assert [x - b.code.base for x in b.func_addrs] == func_offsets
    assert {k: v - b.code.base for k, v in b.wasm_to_array.items()} == w2a_offsets
    wt_engine = wasmtime.Engine()
    wt_module = wasmtime.Module(wt_engine, wat(MODULE))
    for arg in (0, 7, -3):
        want = _run(wasmtime, wt_engine, wt_module, arg)
        assert _run(cwasm.api, engine, first, arg) == want
        assert _run(cwasm.api, engine, again, arg) == want


def test_each_engine_derives_its_own_facts() -> None:
    """Type ids are engine-wide, so the facts of one record differ between engines."""
    one, two = cwasm.api.Engine(), cwasm.api.Engine()
    two.type_id(cwasm.api.FuncType([], []).wasm)  # shifts two's ids
    artifact = cwasm.api.Module(one, wat(MODULE)).serialize()
    a = cwasm.api.Module.deserialize(one, artifact).compiled
    b = cwasm.api.Module.deserialize(two, artifact).compiled
    assert a.info is b.info
    assert a.type_ids != b.type_ids
    assert [one.func_type(t) for t in a.type_ids] == [two.func_type(t) for t in b.type_ids]


def test_an_engine_keeps_the_facts_of_a_bounded_number_of_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module_facts, "FACTS_KEPT", 2)
    engine = cwasm.api.Engine()
    artifacts = [
        cwasm.api.Module(engine, wat(MODULE.replace("i32.const 5", f"i32.const {k}"))).serialize()
        for k in range(3)
    ]
    modules = [cwasm.api.Module.deserialize(engine, a) for a in artifacts]
    assert len(engine.module_facts) == 2
    kept = {id(info) for info, _ in engine.module_facts.values()}
    assert kept == {id(modules[1].compiled.info), id(modules[2].compiled.info)}
    # a record whose facts were dropped gets them derived again, equal to before (once no
    # module of it is alive: a live one would lend its code, ``test_shared_code.py``)
    before = _run(cwasm.api, engine, modules[0], 4)
    first_ids = modules[0].compiled.type_ids
    del modules[0]
    gc.collect()
    again = cwasm.api.Module.deserialize(engine, artifacts[0])
    assert again.compiled.type_ids == first_ids
    assert again.compiled.type_ids is not first_ids
    assert _run(cwasm.api, engine, again, 4) == before
