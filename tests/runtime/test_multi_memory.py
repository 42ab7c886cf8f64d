"""Multi-memory (Wasm 3.0): a module with three memories, the first imported, run on
cwasm (with guard pages and with explicit bounds checks) and on wasmtime-py 28 side by
side: loads and stores, ``memory.size``/``grow``/``fill``/``copy``/``init`` and data
segments per memory, out-of-bounds traps in the second memory, the exported memories,
static memory images per memory, WASI on the memory exported as ``memory``;
``Config.wasm_multi_memory = False`` and invalid memory indices are refused."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.obj.artifact import Artifact
from cwasm.obj.info import StaticMemoryInitialization
from tests.runtime.wat import wat

#: memory 0 is imported (1 page, max 4), memory 1 defined (1 page, max 2), memory 2
#: defined (2 pages, no maximum); each gets an active data segment, memory 2 a passive one
WAT = """
(module
  (import "env" "mem" (memory $m0 1 4))
  (memory $m1 (export "m1") 1 2)
  (memory $m2 (export "m2") 2)
  (export "m0" (memory $m0))
  (data (memory $m0) (i32.const 16) "zero")
  (data (memory $m1) (i32.const 32) "one!")
  (data (memory $m2) (i32.const 65536) "two.")
  (data $passive "passive-data")
  (func (export "load0") (param i32) (result i32) (i32.load $m0 (local.get 0)))
  (func (export "load1") (param i32) (result i32) (i32.load $m1 (local.get 0)))
  (func (export "load2") (param i32) (result i32) (i32.load $m2 (local.get 0)))
  (func (export "load1_8") (param i32) (result i64)
    (i64.load8_u $m1 offset=1 (local.get 0)))
  (func (export "store0") (param i32 i32) (i32.store $m0 (local.get 0) (local.get 1)))
  (func (export "store1") (param i32 i32) (i32.store $m1 (local.get 0) (local.get 1)))
  (func (export "store2") (param i32 i64) (i64.store $m2 offset=8 (local.get 0) (local.get 1)))
  (func (export "store1_16") (param i32 i32) (i32.store16 $m1 (local.get 0) (local.get 1)))
  (func (export "size") (result i32 i32 i32)
    (memory.size $m0) (memory.size $m1) (memory.size $m2))
  (func (export "grow0") (param i32) (result i32) (memory.grow $m0 (local.get 0)))
  (func (export "grow1") (param i32) (result i32) (memory.grow $m1 (local.get 0)))
  (func (export "grow2") (param i32) (result i32) (memory.grow $m2 (local.get 0)))
  (func (export "copy_1_to_2") (param i32 i32 i32)
    (memory.copy $m2 $m1 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_2_to_0") (param i32 i32 i32)
    (memory.copy $m0 $m2 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_within_1") (param i32 i32 i32)
    (memory.copy $m1 $m1 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill1") (param i32 i32 i32)
    (memory.fill $m1 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init2") (param i32 i32 i32)
    (memory.init $m2 $passive (local.get 0) (local.get 1) (local.get 2)))
  (func (export "simd_2_to_1") (param i32 i32)
    (v128.store $m1 (local.get 1) (v128.load $m2 (local.get 0))))
  (func (export "lane1") (param i32) (result i32)
    (i32x4.extract_lane 1 (v128.load32_lane $m1 1 (local.get 0) (v128.const i64x2 0 0))))
)
"""


def _engine(api: Any, bounds_checks: str | None) -> Any:
    if bounds_checks is None:
        return api.Engine()
    config = api.Config()
    config.bounds_checks = bounds_checks
    return api.Engine(config)


def _outcome(call: Any, api: Any) -> Any:
    """The call's result, or the trap's code, backtrace and ``wasm trap:`` line (Wasmtime's
    message adds the faulting address for a guard-page fault, and a Rust backtrace
    when its environment asks for one)."""
    try:
        return ("ok", call())
    except api.Trap as e:
        backtrace, _, cause = e.message.partition("\n\nCaused by:\n")
        trap_line = re.search(r"wasm trap: .*", cause)
        return ("trap", e.trap_code.name, backtrace, trap_line and trap_line.group())


def _run(api: Any, bounds_checks: str | None = None) -> list[Any]:
    """Everything observable of the scenario on one engine (``cwasm`` or ``wasmtime``)."""
    engine = _engine(api, bounds_checks)
    store = api.Store(engine)
    module = api.Module(engine, wat(WAT))
    imported = api.Memory(store, api.MemoryType(api.Limits(1, 4)))
    ex = api.Instance(store, module, [imported]).exports(store)
    m0, m1, m2 = ex["m0"], ex["m1"], ex["m2"]
    seen: list[Any] = []

    def note(call: Any) -> None:
        seen.append(_outcome(call, api))

    def f(name: str, *args: Any) -> Any:
        return lambda: ex[name](store, *args)

    # data segments landed in their own memories only
    seen.append(bytes(m0.read(store, 16, 20)))
    seen.append(bytes(m1.read(store, 32, 36)))
    seen.append(bytes(m2.read(store, 65536, 65540)))
    seen.append(bytes(m1.read(store, 16, 20)) + bytes(m2.read(store, 32, 36)))
    seen.append(bytes(imported.read(store, 16, 20)))
    for name in ("load0", "load1", "load2"):
        note(f(name, 16))
        note(f(name, 32))
    note(f("load2", 65536))
    # stores go to the named memory
    note(f("store0", 100, 0x11223344))
    note(f("store1", 100, 0x55667788))
    note(f("store2", 100, -2))
    note(f("store1_16", 200, 0xABCDEF))
    for name in ("load0", "load1", "load2"):
        note(f(name, 100))
        note(f(name, 108))
    note(f("load1_8", 199))
    note(f("load1", 200))
    # traps at each memory's end, the second memory's by bounds checks or guard pages
    for name, at in (("load1", 65533), ("load1", 65532), ("load1", -1), ("load2", 131069)):
        note(f(name, at))
    note(f("load1_8", 65535))
    note(f("store1", 65533, 1))
    note(f("store2", 131064, 1))
    note(f("store2", 131056, 1))
    # sizes and growth per memory (memory 1 stops at its maximum of 2 pages)
    note(f("size"))
    note(f("grow1", 1))
    note(f("grow1", 1))
    note(f("grow2", 3))
    note(f("grow0", 2))
    note(f("size"))
    seen.append((m0.size(store), m1.size(store), m2.size(store), imported.size(store)))
    note(f("load1", 65536 * 2 - 4))
    note(f("load1", 65536 * 2 - 3))
    note(f("store1", 70000, 77))
    note(f("load1", 70000))
    # bulk operations between memories
    note(f("copy_1_to_2", 1000, 32, 4))
    seen.append(bytes(m2.read(store, 1000, 1004)))
    note(f("copy_2_to_0", 2000, 65536, 4))
    seen.append(bytes(m0.read(store, 2000, 2004)))
    note(f("copy_within_1", 33, 32, 4))
    seen.append(bytes(m1.read(store, 32, 38)))
    note(f("copy_1_to_2", 0, 131070, 4))  # source out of bounds
    note(f("copy_2_to_0", 65536 * 3 - 2, 0, 4))  # destination out of bounds
    note(f("fill1", 300, 0x5A, 8))
    seen.append(bytes(m1.read(store, 300, 308)))
    note(f("fill1", 131070, 0, 3))
    note(f("init2", 3000, 2, 5))
    seen.append(bytes(m2.read(store, 3000, 3005)))
    note(f("init2", 65536 * 5 - 2, 0, 4))
    # SIMD between memories
    m2.write(store, bytes(range(16)), 4000)
    note(f("simd_2_to_1", 4000, 5000))
    seen.append(bytes(m1.read(store, 5000, 5016)))
    note(f("lane1", 5004))
    note(f("simd_2_to_1", 65536 * 5 - 8, 0))
    note(f("lane1", 131070))
    # the exports are the memories: writes from Python are seen by wasm
    m1.write(store, b"\x01\x02\x03\x04", 64)
    note(f("load1", 64))
    seen.append((m1.type(store).limits.min, m1.type(store).limits.max))
    seen.append((m2.type(store).limits.min, m2.type(store).limits.max))
    return seen


@pytest.mark.parametrize("bounds_checks", ["guard-pages", "explicit"])
def test_three_memories_match_wasmtime(bounds_checks: str) -> None:
    ours = _run(cwasm, bounds_checks)
    theirs = _run(wasmtime)
    assert ours == theirs
    traps = [o for o in ours if isinstance(o, tuple) and o[0] == "trap"]
    assert traps and all(o[1] == "MEMORY_OUT_OF_BOUNDS" for o in traps)


def test_memories_are_separate_objects_with_own_buffers() -> None:
    store = cwasm.Store()
    module = cwasm.Module(store.engine, wat(WAT))
    imported = cwasm.Memory(store, cwasm.MemoryType(cwasm.Limits(1, 4)))
    ex = cwasm.Instance(store, module, [imported]).exports(store)
    bases = [ctypes.addressof(ex[n].data_ptr(store).contents) for n in ("m0", "m1", "m2")]
    assert len(set(bases)) == 3
    assert bases[0] == ctypes.addressof(imported.data_ptr(store).contents)
    imported_types = [i.type for i in module.imports if isinstance(i.type, cwasm.MemoryType)]
    assert [(t.limits.min, t.limits.max) for t in imported_types] == [(1, 4)]
    exported = [e.type for e in module.exports if isinstance(e.type, cwasm.MemoryType)]
    assert [(t.limits.min, t.limits.max) for t in exported] == [(1, 2), (2, None), (1, 4)]


def _engine_off() -> cwasm.Engine:
    config = cwasm.Config()
    config.wasm_multi_memory = False
    return cwasm.Engine(config)


def test_switch_is_on_by_default_and_recorded() -> None:
    assert cwasm.Config().wasm_multi_memory is True
    assert "multi_memory" in cwasm.Engine().wasm_features
    assert "multi_memory" not in _engine_off().wasm_features


def test_two_memories_refused_when_off() -> None:
    text = "(module (memory 1) (memory 1))"
    with pytest.raises(cwasm.WasmtimeError, match="multiple memories"):
        cwasm.Module(_engine_off(), wat(text))
    with pytest.raises(cwasm.WasmtimeError, match="multiple memories"):
        cwasm.Module.validate(_engine_off(), wat(text))
    config = wasmtime.Config()
    config.wasm_multi_memory = False
    with pytest.raises(wasmtime.WasmtimeError, match="multiple memories"):
        wasmtime.Module(wasmtime.Engine(config), wat(text))
    cwasm.Module(cwasm.Engine(), wat(text))
    # one memory stays fine with the switch off
    cwasm.Module(_engine_off(), wat("(module (memory 1) (func (drop (i32.load (i32.const 0)))))"))


def test_artifact_of_one_setting_refused_by_the_other() -> None:
    data = cwasm.Module(cwasm.Engine(), wat(WAT)).serialize()
    with pytest.raises(cwasm.WasmtimeError, match="wasm_features"):
        cwasm.Module.deserialize(_engine_off(), data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(module (memory 1) (func (drop (i32.load 1 (i32.const 0)))))", "unknown memory 1"),
        (
            "(module (memory 1) (memory 1) (func (i32.store 2 (i32.const 0) (i32.const 0))))",
            "unknown memory 2",
        ),
        ("(module (memory 1) (func (drop (memory.size 3))))", "unknown memory 3"),
        ("(module (memory 1) (func (drop (memory.grow 1 (i32.const 0)))))", "unknown memory 1"),
        (
            "(module (memory 1) (func (memory.copy 0 1 (i32.const 0) (i32.const 0) (i32.const 0))))",
            "unknown memory 1",
        ),
        (
            "(module (memory 1) (func (memory.fill 1 (i32.const 0) (i32.const 0) (i32.const 0))))",
            "unknown memory 1",
        ),
        (
            '(module (memory 1) (data $d "") '
            "(func (memory.init 1 $d (i32.const 0) (i32.const 0) (i32.const 0))))",
            "unknown memory 1",
        ),
        ('(module (memory 1) (data (memory 1) (i32.const 0) ""))', "unknown memory 1"),
        ("(module (memory 1) (func (drop (v128.load 1 (i32.const 0)))))", "unknown memory 1"),
    ],
)
def test_unknown_memory_indices_refused(text: str, message: str) -> None:
    wasm = wat(text)
    with pytest.raises(cwasm.WasmtimeError, match=message):
        cwasm.Module(cwasm.Engine(), wasm)
    with pytest.raises(wasmtime.WasmtimeError, match="unknown memory"):
        wasmtime.Module(wasmtime.Engine(), wasm)


def test_store_limit_counts_every_defined_memory() -> None:
    store = cwasm.Store()
    store.set_limits(memories=2)
    module = cwasm.Module(store.engine, wat(WAT))
    imported = cwasm.Memory(store, cwasm.MemoryType(cwasm.Limits(1, 4)))
    cwasm.Instance(store, module, [imported])  # defines memories 1 and 2: two in all
    with pytest.raises(cwasm.WasmtimeError, match="memory count"):
        cwasm.Instance(store, module, [imported])


#: only defined memories and constant offsets: one static image per memory
WAT_IMAGES = """
(module
  (memory (export "a") 1)
  (memory (export "b") 2)
  (memory (export "c") 1)
  (data (memory 1) (i32.const 70000) "bee")
  (data (memory 0) (i32.const 5) "ay")
  (data (memory 1) (i32.const 3) "b-low")
  (func (export "get") (param i32) (result i32)
    (i32.add (i32.load8_u 0 (local.get 0))
      (i32.add (i32.load8_u 1 (local.get 0)) (i32.load8_u 2 (local.get 0)))))
)
"""


def test_static_images_per_memory_match_wasmtime() -> None:
    wasm = wat(WAT_IMAGES)
    engine = cwasm.Engine()
    module = cwasm.Module(engine, wasm)
    init = Artifact.from_bytes(module.serialize()).info.memory_initialization
    assert isinstance(init, StaticMemoryInitialization)
    assert [image is not None for image in init.map] == [True, True, False]

    def observe(api: Any) -> list[Any]:
        store = api.Store()
        ex = api.Instance(store, api.Module(store.engine, wasm), []).exports(store)
        memories = [bytes(ex[n].read(store, 0, 16)) for n in "abc"]
        return [*memories, bytes(ex["b"].read(store, 69999, 70004))] + [
            ex["get"](store, i) for i in (3, 5, 6, 7, 8)
        ]

    assert observe(cwasm) == observe(wasmtime)


#: WASI reads the memory exported as ``memory`` (here memory 1), whatever its index
WAT_WASI = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory $scratch 1)
  (memory $main (export "memory") 1)
  (data (memory $scratch) (i32.const 0) "\\08\\00\\00\\00\\05\\00\\00\\00wrong")
  (data (memory $main) (i32.const 0) "\\08\\00\\00\\00\\06\\00\\00\\00right\\n")
  (func (export "_start") (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1)
    (i32.const 32))))
)
"""


def test_wasi_uses_the_memory_exported_as_memory(tmp_path: Path) -> None:
    outputs = []
    for api in (cwasm, wasmtime):
        engine = api.Engine()
        linker = api.Linker(engine)
        linker.define_wasi()
        store = api.Store(engine)
        config = api.WasiConfig()
        out = tmp_path / f"{api.__name__}.out"
        config.stdout_file = str(out)
        store.set_wasi(config)
        instance = linker.instantiate(store, api.Module(engine, wat(WAT_WASI)))
        instance.exports(store)["_start"](store)
        outputs.append(out.read_text())
    assert outputs == ["right\n", "right\n"]
