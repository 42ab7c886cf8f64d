"""The builtins table, the runtime's ctypes side and the compiler's IR side agree."""

from __future__ import annotations

import ctypes
import inspect
import re
from pathlib import Path

import llvmlite.binding as llvm
import pytest

from cwasm.abi.builtins import ENTRY_TRAMPOLINE, HOST_CALLBACK, NUM_BUILTIN_SLOTS, TYPES, Builtin
from cwasm.abi.vmoffsets import VMCTX_BUILTINS, VMOffsets
from cwasm.compile.irmodule import IRModule
from cwasm.compile.translate import FunctionTranslator
from cwasm.runtime import builtins as rt
from cwasm.wasm.decoder import decode_module
from tests.runtime.wat import wat

# the vocabulary, stated independently of the table
CTYPE = {
    "vmctx": ctypes.c_void_p,
    "done": ctypes.c_void_p,
    "ptr": ctypes.c_void_p,
    "ref": ctypes.c_uint64,
    "i32": ctypes.c_int32,
    "u32": ctypes.c_uint32,
    "i64": ctypes.c_int64,
    "u64": ctypes.c_uint64,
}
IR = {"vmctx": "ptr", "done": "ptr", "ptr": "ptr", "ref": "ptr"} | {
    t: "i" + t[1:] for t in ("i32", "u32", "i64", "u64")
}

# a module whose code calls every builtin
EVERY_BUILTIN = """
(module
  (type $open (sub (func (param i32) (result i32))))
  (type $cell (struct (field i32)))
  (type $bytes (array (mut i8)))
  (type $funcs (array (mut funcref)))
  (memory 1 1 shared)
  (memory $m64 i64 1)
  (table $t 2 funcref)
  (table $u 2 funcref)
  (elem $e func $f)
  (data $d "abc")
  (tag $x (param i32))
  (func $f (param i32) (result i32)
    (if (local.get 0) (then (throw $x (local.get 0))))
    (drop (memory.grow (local.get 0)))
    (drop (table.grow $t (ref.null func) (local.get 0)))
    (table.fill $t (i32.const 0) (ref.func $f) (local.get 0))
    (table.copy $t $u (i32.const 0) (i32.const 0) (local.get 0))
    (table.init $t $e (i32.const 0) (i32.const 0) (local.get 0))
    (elem.drop $e)
    (memory.init $d (i32.const 0) (i32.const 0) (local.get 0))
    (memory.init $m64 $d (i64.const 0) (i32.const 0) (local.get 0))
    (data.drop $d)
    (memory.copy (i32.const 0) (i32.const 8) (local.get 0))
    (memory.fill (i32.const 0) (i32.const 7) (local.get 0))
    (drop (memory.atomic.notify (i32.const 0) (local.get 0)))
    (drop (memory.atomic.wait32 (i32.const 0) (local.get 0) (i64.const -1)))
    (drop (memory.atomic.wait64 (i32.const 0) (i64.const 0) (i64.const -1)))
    ;; a non-final type: a callee of another type id may be a subtype (TYPE_IS_SUBTYPE)
    (drop (call_indirect $t (type $open) (i32.const 0) (i32.const 0)))
    ;; an allocation whose free run is used up (GC_ALLOC)
    (drop (struct.new $cell (local.get 0)))
    (drop (array.new_data $bytes $d (i32.const 0) (local.get 0)))
    (drop (array.new_elem $funcs $e (i32.const 0) (local.get 0)))
    (i32.const 0)))
"""


def test_the_vocabulary_is_the_tests() -> None:
    assert {t: (a.ir, a.ctype) for t, a in TYPES.items()} == {t: (IR[t], CTYPE[t]) for t in CTYPE}


def test_slots_are_distinct_and_fit_the_reserved_block() -> None:
    slots = [int(b) for b in Builtin]
    assert len(set(slots)) == len(slots)
    assert all(0 <= s < NUM_BUILTIN_SLOTS for s in slots)
    o = VMOffsets(0, 0, 0, 0, 0, 0, 0, 0)
    assert o.builtin(Builtin.MEMORY_GROW) == o.builtins == VMCTX_BUILTINS
    assert o.type_ids == VMCTX_BUILTINS + 8 * NUM_BUILTIN_SLOTS


@pytest.mark.parametrize("b", list(Builtin), ids=lambda b: b.name)
def test_entry_is_well_formed(b: Builtin) -> None:
    assert b.result in TYPES
    assert all(t in TYPES for t in b.param_types)
    if b.in_python:  # the caller's vmctx first, the completion flag last, nowhere else
        assert b.param_types[0] == "vmctx"
        assert b.param_types.count("vmctx") == b.param_types.count("done") == 1
    else:
        assert "vmctx" not in b.param_types and "done" not in b.param_types


@pytest.mark.parametrize("b", list(Builtin), ids=lambda b: b.name)
def test_ctypes_side_matches_the_table(b: Builtin) -> None:
    proto = b.ctypes_prototype()
    assert proto._restype_ is CTYPE[b.result]
    assert proto._argtypes_ == tuple(CTYPE[t] for t in b.param_types)
    if b.in_python:  # the live callback has that very type
        cb = rt.CALLBACKS[b]
        assert type(cb)._restype_ is CTYPE[b.result]
        assert type(cb)._argtypes_ == tuple(CTYPE[t] for t in b.param_types)
        # the implementation takes the instance and the parameters between vmctx and done
        _, fn = rt.PYTHON_BUILTINS[b]
        assert len(inspect.signature(fn).parameters) == 1 + len(b.params) - 2


@pytest.mark.parametrize("b", list(Builtin), ids=lambda b: b.name)
def test_ir_side_matches_the_table(b: Builtin) -> None:
    params = [IR[t] for t in b.param_types]
    assert b.ir_type == f"{IR[b.result]} ({', '.join(params)})"
    operands = [f"%a{i}" for i in range(len(params))]
    args = ", ".join(f"{t} {v}" for t, v in zip(params, operands, strict=True))
    call = b.ir_call("%fn", operands)
    assert call == f"call {IR[b.result]} %fn({args})"
    # LLVM accepts the call, through a pointer loaded from a slot, as a function of that type
    text = (
        f"declare {IR[b.result]} @decl({', '.join(params)})\n"
        f"define {IR[b.result]} @use(ptr %slot, {args}) {{\n"
        f"  %fn = load ptr, ptr %slot\n"
        f"  %r = {call}\n"
        f"  ret {IR[b.result]} %r\n}}\n"
    )
    llvm.parse_assembly(text).verify()
    with pytest.raises(ValueError):
        b.ir_call("%fn", operands[1:])


def test_runtime_implements_every_entry_and_nothing_else() -> None:
    python = set(rt.PYTHON_BUILTINS)
    native = set(rt.NATIVE_BUILTINS)
    assert python.isdisjoint(native)
    assert python | native == set(Builtin)
    assert python == {b for b in Builtin if b.in_python}
    assert set(rt.CALLBACKS) == python
    assert len(rt.BUILTIN_ADDRESSES) == NUM_BUILTIN_SLOTS
    for i, addr in enumerate(rt.BUILTIN_ADDRESSES):
        assert (addr != 0) == (i in {int(b) for b in Builtin}), i
    # each implementation is named for its entry, and the runtime module defines no routine
    # (beyond its two helpers) that the table does not state
    for b, (_, fn) in rt.PYTHON_BUILTINS.items():
        assert fn.__name__ == f"_{b.name.lower()}"
    functions = {
        fn for _, fn in inspect.getmembers(rt, inspect.isfunction) if fn.__module__ == rt.__name__
    }
    helpers = {rt._guard, rt._address}
    assert functions - helpers == {fn for _, fn in rt.PYTHON_BUILTINS.values()}


def test_compiled_code_calls_every_builtin_as_the_table_says() -> None:
    m = decode_module(wat(EVERY_BUILTIN))
    offsets = VMOffsets.for_module(m.module)
    # with fuel, so that the function's entry calls OUT_OF_GAS when it runs out
    mod = IRModule(arch="x86_64", guard_pages=False, consume_fuel=True)
    FunctionTranslator(m, offsets, mod, 0).translate()
    text = mod.text()
    for b in Builtin:
        # %fn = load ptr, ptr <slot address> ... call <result> %fn(<typed operands>)
        slot = re.search(
            rf"(%\w+) = getelementptr inbounds i8, ptr %vmctx, i64 {offsets.builtin(b)}\b", text
        )
        assert slot, b.name
        load = re.search(rf"(%\w+) = load ptr, ptr {slot.group(1)}\b", text)
        assert load, b.name
        call = re.search(rf"call (\S+) {load.group(1)}\(([^)]*)\)", text)
        assert call, b.name
        assert call.group(1) == IR[b.result], b.name
        types = [arg.split()[0] for arg in call.group(2).split(", ")]
        assert types == [IR[t] for t in b.param_types], b.name


def test_the_documented_table_is_the_table() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "runtime-abi.md").read_text()
    rows = [line for line in doc.splitlines() if re.match(r"\| `[A-Z0-9_]+` \| \d+ \|", line)]
    assert rows == [f"| `{b.name}` | {int(b)} | `{b.signature}` | `{b.ir_type}` |" for b in Builtin]


def test_the_trampolines_and_the_runtime_use_the_two_seam_signatures() -> None:
    """The entry trampoline and the host callback are stated once (``abi.builtins``): the
    trampolines' IR and the runtime's ctypes prototypes agree with that statement."""
    from cwasm.compile.trampolines import array_to_wasm, wasm_to_array
    from cwasm.runtime.func import ENTRY_PROTO, HOST_PROTO
    from cwasm.wasm.types import FuncType, ValType

    assert ENTRY_TRAMPOLINE.ir_type == "i32 (ptr, ptr)"
    assert HOST_CALLBACK.ir_type == "i32 (ptr, ptr, ptr, i64)"
    mod = IRModule(arch="x86_64", guard_pages=False)
    ft = FuncType((ValType.I32, ValType.F64), (ValType.I64,))
    array_to_wasm(mod, 0, ft)
    wasm_to_array(mod, 0, ft)
    text = mod.text()
    define = re.search(r"define hidden i32 @a2w0\(([^)]*)\)", text)
    assert define is not None
    assert [a.split()[0] for a in define.group(1).split(", ")] == ["ptr", "ptr"]
    call = re.search(r"call i32 %cb\(([^)]*)\)", text)
    assert call is not None
    assert [a.split()[0] for a in call.group(1).split(", ")] == ["ptr", "ptr", "ptr", "i64"]
    assert ENTRY_PROTO._restype_ is CTYPE[ENTRY_TRAMPOLINE.result]
    assert HOST_PROTO._restype_ is CTYPE[HOST_CALLBACK.result]
    assert HOST_PROTO._argtypes_ == tuple(CTYPE[t] for t in HOST_CALLBACK.param_types)
