"""Modules loaded from the same artifact bytes in one engine share their loaded code
(``cwasm.runtime.module._compiled_for``) while one of them lives, and run as wasmtime-py
runs the module; other bytes, another engine, or a load after every such module is gone
map their own code."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import wasmtime

import cwasm.api
from tests.runtime.wat import wat

MODULE = """
(module
  (memory (export "mem") 1)
  (global $g (mut i32) (i32.const 3))
  (data (i32.const 16) "\\2a")
  (func (export "bump") (param i32) (result i32)
    (global.set $g (i32.add (global.get $g) (local.get 0)))
    (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (global.get $g)))
    (i32.load (i32.const 16))))
"""


def _bump(api: Any, engine: Any, module: Any, args: list[int]) -> list[int]:
    """A fresh instance's results of ``bump`` over ``args`` (state is per instance)."""
    store = api.Store(engine)
    bump = api.Instance(store, module, []).exports(store)["bump"]
    return [int(bump(store, a)) for a in args]


def test_loads_of_the_same_bytes_share_their_code_and_keep_separate_instances() -> None:
    engine = cwasm.api.Engine()
    artifact = cwasm.api.Module(engine, wat(MODULE)).serialize()
    first = cwasm.api.Module.deserialize(engine, artifact)
    again = cwasm.api.Module.deserialize(engine, bytearray(artifact))
    assert again.compiled is first.compiled
    wt_engine = wasmtime.Engine()
    wt_module = wasmtime.Module(wt_engine, wat(MODULE))
    want = _bump(wasmtime, wt_engine, wt_module, [1, 2, 5])
    assert _bump(cwasm.api, engine, first, [1, 2, 5]) == want
    assert _bump(cwasm.api, engine, again, [1, 2, 5]) == want  # no state shared
    assert again.serialize() == artifact


def test_other_bytes_or_another_engine_map_their_own_code() -> None:
    engine, other_engine = cwasm.api.Engine(), cwasm.api.Engine()
    artifact = cwasm.api.Module(engine, wat(MODULE)).serialize()
    edited = cwasm.api.Module(engine, wat(MODULE.replace("i32.const 3", "i32.const 4"))).serialize()
    first = cwasm.api.Module.deserialize(engine, artifact)
    assert cwasm.api.Module.deserialize(other_engine, artifact).compiled is not first.compiled
    assert cwasm.api.Module.deserialize(engine, edited).compiled is not first.compiled
    wt_engine = wasmtime.Engine()
    for text, module in ((MODULE, first), (MODULE.replace("i32.const 3", "i32.const 4"), None)):
        want = _bump(wasmtime, wt_engine, wasmtime.Module(wt_engine, wat(text)), [7])
        loaded = module or cwasm.api.Module.deserialize(engine, edited)
        assert _bump(cwasm.api, engine, loaded, [7]) == want


def test_a_load_after_every_sharing_module_is_gone_maps_the_code_again() -> None:
    engine = cwasm.api.Engine()
    artifact = cwasm.api.Module(engine, wat(MODULE)).serialize()
    first = cwasm.api.Module.deserialize(engine, artifact)
    gone = weakref.ref(first.compiled)
    del first
    gc.collect()
    assert gone() is None  # the sharing keeps no module's code alive by itself
    again = cwasm.api.Module.deserialize(engine, artifact)
    wt_engine = wasmtime.Engine()
    want = _bump(wasmtime, wt_engine, wasmtime.Module(wt_engine, wat(MODULE)), [2, 2])
    assert _bump(cwasm.api, engine, again, [2, 2]) == want
