"""Guard-page bounds checks: unchecked accesses that fault become MemoryOutOfBounds traps.

Every test runs the same wasm under ``bounds_checks="guard-pages"`` and, where the
outcome must be identical, under ``"explicit"`` too.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from cwasm.abi import guard_layout
from cwasm.abi import vmoffsets as vo
from cwasm.api import (
    Config,
    Engine,
    Func,
    FuncType,
    Instance,
    Module,
    Store,
    Trap,
    TrapCode,
    ValType,
)
from cwasm.compile.compiler import CompileOptions, compile_module
from cwasm.compile.x86 import guarded_accesses, instruction
from cwasm.errors import CwasmError
from cwasm.obj.errors import IncompatibleArtifactError
from cwasm.obj.traps import Trap as TrapKind
from cwasm.runtime import guard
from cwasm.wasm.decoder import decode_module
from tests.compile.test_compiler import instruction_offsets
from tests.runtime.wat import wat

pytestmark = pytest.mark.skipif(
    not guard_layout.supported(), reason="guard pages need x86_64 Linux"
)

PAGE = 65536
MODES = (guard_layout.EXPLICIT, guard_layout.GUARD_PAGES)

# (name, value type, width in bytes)
LOADS = [
    ("i32.load", "i32", 4),
    ("i64.load", "i64", 8),
    ("f32.load", "f32", 4),
    ("f64.load", "f64", 8),
    ("i32.load8_s", "i32", 1),
    ("i32.load8_u", "i32", 1),
    ("i32.load16_s", "i32", 2),
    ("i32.load16_u", "i32", 2),
    ("i64.load8_s", "i64", 1),
    ("i64.load16_u", "i64", 2),
    ("i64.load32_s", "i64", 4),
    ("i64.load32_u", "i64", 4),
    ("v128.load", "v128", 16),
]
STORES = [
    ("i32.store", "i32", 4),
    ("i64.store", "i64", 8),
    ("f32.store", "f32", 4),
    ("f64.store", "f64", 8),
    ("i32.store8", "i32", 1),
    ("i32.store16", "i32", 2),
    ("i64.store8", "i64", 1),
    ("i64.store16", "i64", 2),
    ("i64.store32", "i64", 4),
    ("v128.store", "v128", 16),
]


def _const(ty: str) -> str:
    return "v128.const i64x2 -1 -1" if ty == "v128" else f"{ty}.const -1"


def _module_text(offset: int = 0) -> str:
    funcs = []
    for i, (op, ty, _w) in enumerate(LOADS):
        drop = "drop" if ty == "v128" else ""
        res = "" if ty == "v128" else f"(result {ty})"
        funcs.append(
            f'(func (export "l{i}") (param i32) {res} local.get 0 {op} offset={offset} {drop})'
        )
    for i, (op, ty, _w) in enumerate(STORES):
        funcs.append(
            f'(func (export "s{i}") (param i32) local.get 0 {_const(ty)} {op} offset={offset})'
        )
    return f"""(module (memory (export "mem") 1 10)
      (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
      {" ".join(funcs)})"""


def _engine(mode: str) -> Engine:
    cfg = Config()
    cfg.bounds_checks = mode
    return Engine(cfg)


def _instance(mode: str, text: str, imports: list | None = None) -> tuple[Store, Instance]:
    eng = _engine(mode)
    store = Store(eng)
    return store, Instance(store, Module(eng, wat(text)), imports or [])


def _outcome(f: Func, store: Store, *args: int) -> str:
    try:
        f(store, *args)
    except Trap as e:
        assert e.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
        assert e.description == "wasm trap: out of bounds memory access"
        return "trap"
    return "ok"


@pytest.mark.parametrize("mode", MODES)
def test_every_width_at_the_boundary_and_far_beyond(mode: str) -> None:
    store, inst = _instance(mode, _module_text())
    ex = inst.exports(store)
    mem = ex["mem"]
    for kind, table in (("l", LOADS), ("s", STORES)):
        for i, (_op, _ty, width) in enumerate(table):
            f = ex[f"{kind}{i}"]
            assert _outcome(f, store, PAGE - width) == "ok"
            for addr in (PAGE - width + 1, PAGE - 1, PAGE, PAGE + 4096, 0x7FFFFFFF, 0xFFFFFFFF):
                if addr + width <= PAGE:
                    continue
                before = mem.read(store, PAGE - 16, PAGE)
                assert _outcome(f, store, addr) == "trap", (kind, i, hex(addr))
                # a store that straddles the end writes nothing at all
                assert mem.read(store, PAGE - 16, PAGE) == before


@pytest.mark.parametrize("mode", MODES)
def test_after_memory_grow(mode: str) -> None:
    store, inst = _instance(mode, _module_text())
    ex = inst.exports(store)
    load, stor, grow = ex["l0"], ex["s0"], ex["grow"]
    assert _outcome(load, store, PAGE) == "trap"
    assert grow(store, 2) == 1
    assert _outcome(stor, store, 3 * PAGE - 4) == "ok"
    assert load(store, 3 * PAGE - 4) == -1
    assert _outcome(load, store, 3 * PAGE - 3) == "trap"
    assert grow(store, 100) == -1  # past the maximum: nothing changes
    assert _outcome(load, store, 3 * PAGE) == "trap"
    inst.exports(store)["mem"].grow(store, 1)
    assert load(store, 3 * PAGE) == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "offset",
    [
        PAGE - 8,  # in bounds for address 0
        guard_layout.GUARD_SIZE - 16,  # the largest elided offset for v128
        guard_layout.GUARD_SIZE - 1,  # wider accesses keep a check
        guard_layout.GUARD_SIZE,
        guard_layout.GUARD_SIZE + 12345,
        0xFFFFFFFF,
    ],
)
def test_static_offsets_near_and_beyond_the_guard(mode: str, offset: int) -> None:
    store, inst = _instance(mode, _module_text(offset))
    ex = inst.exports(store)
    for kind, table in (("l", LOADS), ("s", STORES)):
        for i, (_op, _ty, width) in enumerate(table):
            f = ex[f"{kind}{i}"]
            expect = "ok" if offset + width <= PAGE else "trap"
            assert _outcome(f, store, 0) == expect
            assert _outcome(f, store, 0xFFFFFFFF) == "trap"
            assert _outcome(f, store, PAGE) == "trap"


NESTED = """(module
  (import "host" "cb" (func $cb (param i32) (result i32)))
  (memory 1)
  (func $inner (export "inner") (param i32) (result i32) local.get 0 i32.load)
  (func $outer (export "outer") (param i32) (result i32)
    local.get 0 call $cb i32.const 1 i32.add))"""


def test_fault_inside_nested_wasm_python_wasm_calls() -> None:
    eng = _engine(guard_layout.GUARD_PAGES)
    store = Store(eng)
    module = Module(eng, wat(NESTED))
    inner: list[Func] = []
    caught: list[Trap] = []

    def cb(addr: int) -> int:
        if addr != 70000:  # let the inner trap unwind through Python
            return int(inner[0](store, addr))
        try:
            return int(inner[0](store, addr))
        except Trap as e:
            caught.append(e)
            return 41

    host = Func(store, FuncType([ValType.i32()], [ValType.i32()]), cb)
    inst = Instance(store, module, [host])
    inner.append(inst.exports(store)["inner"])
    outer = inst.exports(store)["outer"]
    assert outer(store, 70000) == 42
    assert caught and caught[0].trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    with pytest.raises(Trap) as info:
        outer(store, 0x80000000)
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert outer(store, 16) == 1  # the store is usable afterwards
    assert store._ctx[vo.STORE_DEPTH // 8] == 0


def test_ten_thousand_faults_without_growth() -> None:
    store, inst = _instance(guard_layout.GUARD_PAGES, _module_text())
    ex = inst.exports(store)
    load, stor = ex["l1"], ex["s1"]
    traps = 0
    for k in range(10_000):
        f = load if k % 2 else stor
        try:
            f(store, PAGE + k)
        except Trap as e:
            assert e.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
            traps += 1
    assert traps == 10_000
    assert load(store, 0) == 0
    assert ex["mem"].size(store) == 1


BACKTRACE = """(module
  (memory 1)
  (func $outer (export "outer") (param i32) (result i32)
    local.get 0 call $middle i32.const 1 i32.add)
  (func $middle (param i32) (result i32)
    local.get 0 call $reader i32.const 2 i32.mul)
  (func $reader (param i32) (result i32)
    i32.const 7 drop
    local.get 0 i64.load offset=8 i32.wrap_i64))"""


def test_backtrace_points_at_the_faulting_access() -> None:
    binary = wat(BACKTRACE)
    offsets = instruction_offsets(decode_module(binary), 2)
    traces = {}
    for mode in MODES:
        eng = _engine(mode)
        store = Store(eng)
        module = Module(eng, binary)
        inst = Instance(store, module, [])
        with pytest.raises(Trap) as info:
            inst.exports(store)["outer"](store, PAGE - 4)
        frames = info.value.frames
        assert [f.func_name for f in frames] == ["reader", "middle", "outer"]
        assert frames[0].module_offset == offsets["i64.load"][0]
        traces[mode] = [(f.func_index, f.func_name, f.module_offset) for f in frames]
        if mode == guard_layout.GUARD_PAGES:
            # the faulting pc is a MemoryOutOfBounds trap site of the artifact
            ra = store._ctx[vo.STORE_FRAMES // 8]
            pc = ra - 5 - module.compiled.code.base
            art = module.compiled.artifact
            assert art.lookup_trap_code(pc) == TrapKind.MemoryOutOfBounds
            assert art.lookup_file_pos(pc) == offsets["i64.load"][0]
    assert traces[guard_layout.EXPLICIT] == traces[guard_layout.GUARD_PAGES]


def _guard_code(text: str):
    m = decode_module(wat(text))
    return compile_module(m, CompileOptions(opt_level=2, bounds_checks=guard_layout.GUARD_PAGES))


def test_every_guarded_access_is_a_trap_site() -> None:
    code = _guard_code(_module_text())
    sites = {off for off, kind in code.traps if kind == TrapKind.MemoryOutOfBounds}
    ranges = [(f.wasm_func_loc.start, f.wasm_func_loc.end) for f in code.funcs]
    accesses = guarded_accesses(code.text, ranges)
    assert len(accesses) >= len(LOADS) + len(STORES)
    assert set(accesses) <= sites


def test_decoder_agrees_with_capstone() -> None:
    capstone = pytest.importorskip("capstone")
    simd = """(module (memory 1)
      (func (export "f") (param i32 i32) (result i32) (local v128 f64 i64)
        (local.set 2 (v128.load offset=12 (local.get 0)))
        (local.set 2 (i8x16.swizzle (local.get 2) (v128.load8_splat (local.get 1))))
        (local.set 2 (f32x4.mul (local.get 2) (v128.load32_zero (local.get 1))))
        (v128.store (local.get 1) (i16x8.extmul_low_i8x16_s (local.get 2) (local.get 2)))
        (local.set 3 (f64.sqrt (f64.load offset=1000 (local.get 1))))
        (local.set 4 (i64.rotl (i64.load (local.get 0)) (i64.extend_i32_u (local.get 1))))
        (i64.store offset=4 (i32.const 44) (i64.trunc_sat_f64_s (local.get 3)))
        (i32.add (i32.wrap_i64 (local.get 4))
          (i32.add (i8x16.bitmask (local.get 2))
            (i32.div_s (i32.load16_s offset=99 (local.get 0)) (i32.load8_u (local.get 1)))))))"""
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    cs.detail = True
    for text in (simd, _module_text(), NESTED, BACKTRACE):
        code = _guard_code(text)
        for f in code.funcs:
            start, end = f.wasm_func_loc.start, f.wasm_func_loc.end
            p = start
            for insn in cs.disasm(code.text[start:end], start):
                assert insn.address == p
                n, ss = instruction(code.text, p)
                assert n == insn.size, (insn.mnemonic, insn.op_str)
                assert ss == (0x36 in insn.prefix), (insn.mnemonic, insn.op_str)
                p += n
            assert p == end


def test_artifacts_record_the_mode() -> None:
    binary = wat(BACKTRACE)
    guarded = Module(_engine(guard_layout.GUARD_PAGES), binary).serialize()
    explicit_engine = _engine(guard_layout.EXPLICIT)
    with pytest.raises(IncompatibleArtifactError, match="bounds_checks=guard-pages"):
        Module.deserialize(explicit_engine, guarded)
    explicit = Module(explicit_engine, binary).serialize()
    with pytest.raises(IncompatibleArtifactError, match="bounds_checks=explicit"):
        Module.deserialize(_engine(guard_layout.GUARD_PAGES), explicit)


def test_handler_is_installed_for_both_signals() -> None:
    _instance(guard_layout.GUARD_PAGES, BACKTRACE)
    entry = guard.handler_address()
    assert entry is not None
    assert guard.current_handler(signal.SIGSEGV) == entry
    assert guard.current_handler(signal.SIGBUS) == entry


FOREIGN = """
import ctypes, faulthandler, sys
{enable}
from cwasm.api import Config, Engine, Instance, Module, Store, Trap
cfg = Config()
cfg.bounds_checks = "guard-pages"
eng = Engine(cfg)
store = Store(eng)
m = Module(eng, '(module (memory 1) (func (export "f") (param i32) (result i32) '
               'local.get 0 i32.load))')
f = Instance(store, m, []).exports(store)["f"]
try:
    f(store, 1 << 20)
except Trap:
    print("trapped", flush=True)
ctypes.string_at(0)
print("survived", flush=True)
"""


@pytest.mark.parametrize("faulthandler", [True, False])
def test_foreign_segfault_behaves_as_before(faulthandler: bool) -> None:
    enable = "faulthandler.enable()" if faulthandler else "faulthandler.disable()"
    script = textwrap.dedent(FOREIGN.format(enable=enable))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.stdout == "trapped\n"
    assert proc.returncode == -signal.SIGSEGV
    if faulthandler:
        assert "Fatal Python error: Segmentation fault" in proc.stderr
        assert "string_at" in proc.stderr
    else:
        assert "Fatal Python error" not in proc.stderr


def test_mode_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CWASM_BOUNDS_CHECKS", raising=False)
    assert (
        Engine().bounds_checks == guard_layout.DEFAULT_WHERE_SUPPORTED == guard_layout.GUARD_PAGES
    )
    monkeypatch.setenv("CWASM_BOUNDS_CHECKS", guard_layout.GUARD_PAGES)
    assert Engine().bounds_checks == guard_layout.GUARD_PAGES
    cross = Config()
    cross.target = "aarch64-unknown-linux-gnu"
    assert Engine(cross).bounds_checks == guard_layout.EXPLICIT  # automatic: falls back
    cross = Config()  # an Engine consumes its Config
    cross.target = "aarch64-unknown-linux-gnu"
    cross.bounds_checks = guard_layout.GUARD_PAGES
    with pytest.raises(CwasmError, match="only supported on x86_64 Linux"):
        Engine(cross)
    monkeypatch.setenv("CWASM_BOUNDS_CHECKS", guard_layout.EXPLICIT)
    assert Engine().bounds_checks == guard_layout.EXPLICIT
    assert Engine().metadata().memory_guard_size == 0
    assert _engine(guard_layout.GUARD_PAGES).metadata().memory_guard_size == guard_layout.GUARD_SIZE
    monkeypatch.setenv("CWASM_BOUNDS_CHECKS", "nope")
    with pytest.raises(CwasmError, match="CWASM_BOUNDS_CHECKS"):
        Engine()


def test_faults_on_other_threads() -> None:
    import threading

    results: list[str] = []

    def work() -> None:
        store, inst = _instance(guard_layout.GUARD_PAGES, _module_text())
        load = inst.exports(store)["l0"]
        for addr in (PAGE, 0, PAGE * 2, 0xFFFFFFFF):
            results.append(_outcome(load, store, addr))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(["trap", "ok", "trap", "trap"] * 3)


COEXIST = """
import sys, wasmtime
from cwasm import api as cw
W = ('(module (memory 1) (func (export "f") (param i32) (result i32) '
     'local.get 0 i32.load))')

def wasmtime_oob():
    store = wasmtime.Store()
    f = wasmtime.Instance(store, wasmtime.Module(store.engine, W), []).exports(store)["f"]
    def run():
        try:
            f(store, 1 << 20)
        except wasmtime.Trap as e:
            return "trap" if "out of bounds" in str(e) else str(e)
        return "ok"
    return run

def cwasm_oob():
    cfg = cw.Config()
    cfg.bounds_checks = "guard-pages"
    eng = cw.Engine(cfg)
    store = cw.Store(eng)
    f = cw.Instance(store, cw.Module(eng, W), []).exports(store)["f"]
    def run():
        try:
            f(store, 1 << 20)
        except cw.Trap as e:
            return "trap" if e.trap_code == cw.TrapCode.MEMORY_OUT_OF_BOUNDS else str(e)
        return "ok"
    return run

makers = [wasmtime_oob, cwasm_oob]
if sys.argv[1] == "cwasm-first":
    makers.reverse()
first = makers[0]()
out = [first()]
second = makers[1]()
for _ in range(3):
    out += [second(), first()]
print(" ".join(out))
"""


@pytest.mark.parametrize("order", ["wasmtime-first", "cwasm-first"])
def test_coexists_with_wasmtimes_handler(order: str) -> None:
    pytest.importorskip("wasmtime")
    proc = subprocess.run(
        [sys.executable, "-c", COEXIST, order], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["trap"] * 7
