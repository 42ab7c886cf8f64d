"""The compiler's output: pre-linked code, exact trap tables and address maps, every target."""

from __future__ import annotations

import struct
import subprocess

import capstone
import pytest
import wasmtime

from cwasm.compile.compiler import CompileOptions, compile_module
from cwasm.compile.llvm_driver import compile_ir
from cwasm.compile.prelink import PrelinkError, decode_line_program, parse_object, prelink
from cwasm.errors import CwasmError
from cwasm.inspect import inspect_artifact
from cwasm.obj.artifact import Artifact
from cwasm.obj.builder import CompiledCode, build_artifact
from cwasm.obj.engine import EngineMetadata
from cwasm.obj.traps import Trap
from cwasm.wasm.decoder import decode_module
from cwasm.wasm.operators import BY_NAME, OPERATORS, READ_IMMEDIATES, read_opcode
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.translation import ModuleTranslation
from tests.runtime.wat import wat

X86 = "x86_64-unknown-linux-gnu"
ARM = "aarch64-unknown-linux-gnu"

# one trapping instruction of each kind the translator checks explicitly
TRAPPY = """
(module
  (memory 1)
  (table 2 funcref)
  (type $t (func (result i32)))
  (func $div (export "div") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.div_s)
  (func $rem (export "rem") (param i64 i64) (result i64)
    local.get 0 local.get 1 i64.rem_u)
  (func $load (export "load") (param i32) (result i32)
    local.get 0 i32.load offset=4)
  (func $trunc (export "trunc") (param f64) (result i32)
    local.get 0 i32.trunc_f64_s)
  (func $boom (export "boom") unreachable)
  (func $ind (export "ind") (param i32) (result i32)
    local.get 0 call_indirect (type $t))
)
"""


def instruction_offsets(m: ModuleTranslation, defined: int) -> dict[str, list[int]]:
    """Module offsets of each instruction (by name) in one function body."""
    body = m.bodies[defined]
    r = BinaryReader(m.wasm, body.code_start, body.end)
    out: dict[str, list[int]] = {}
    while r.pos < body.end:
        start = r.pos
        op = read_opcode(r)
        info = OPERATORS[op]
        assert info is not None
        READ_IMMEDIATES[info.imm](r)
        out.setdefault(info.name, []).append(start)
    return out


def lookup_pos(code: CompiledCode, text_offset: int) -> int | None:
    best = None
    for off, pos in code.address_map:
        if off <= text_offset:
            best = pos
    return best


def trap_routines(code: CompiledCode) -> dict[int, int]:
    """start offset → trap code of the compiler's trap routines (the other extra symbols
    are the signal builtins')."""
    out = {}
    for name, start, _size in code.extra_symbols:
        if not name.startswith("cwasm_trap["):
            assert name.startswith(("cwasm_guard_", "cwasm_interrupt_")), name
            continue
        out[start] = int(name[len("cwasm_trap[") : -1])
    return out


@pytest.mark.parametrize("opt", [0, 2])
def test_x86_trap_sites_are_exact_calls_to_the_trap_routine(opt: int) -> None:
    m = decode_module(wat(TRAPPY))
    code = compile_module(m, CompileOptions(X86, opt))
    routines = trap_routines(code)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    assert code.traps
    for off, trap in code.traps:
        insn = next(md.disasm(code.text[off : off + 16], off))
        assert insn.mnemonic == "call", (off, insn.mnemonic)
        target = off + 5 + struct.unpack_from("<i", code.text, off + 1)[0]
        assert routines[target] == trap
    kinds = {t for _, t in code.traps}
    assert {
        Trap.StackOverflow,
        Trap.IntegerDivisionByZero,
        Trap.IntegerOverflow,
        Trap.MemoryOutOfBounds,
        Trap.BadConversionToInteger,
        Trap.UnreachableCodeReached,
        Trap.TableOutOfBounds,
        Trap.IndirectCallToNull,
        Trap.BadSignature,
    } <= kinds
    # every call to a trap routine inside a wasm function is in the table
    calls = set()
    for f in code.funcs:
        loc = f.wasm_func_loc
        for insn in md.disasm(code.text[loc.start : loc.end], loc.start):
            if insn.mnemonic == "call" and insn.op_str.startswith("0x"):
                if int(insn.op_str, 16) in routines:
                    calls.add(insn.address)
    assert calls == {off for off, _ in code.traps}


@pytest.mark.parametrize("opt", [0, 2])
def test_address_map_maps_trap_sites_to_their_instruction(opt: int) -> None:
    m = decode_module(wat(TRAPPY))
    code = compile_module(m, CompileOptions(X86, opt))
    want = {
        0: ("i32.div_s", {Trap.IntegerDivisionByZero, Trap.IntegerOverflow}),
        1: ("i64.rem_u", {Trap.IntegerDivisionByZero}),
        2: ("i32.load", {Trap.MemoryOutOfBounds}),
        3: ("i32.trunc_f64_s", {Trap.BadConversionToInteger, Trap.IntegerOverflow}),
        4: ("unreachable", {Trap.UnreachableCodeReached}),
    }
    for defined, (name, traps) in want.items():
        loc = code.funcs[defined].wasm_func_loc
        (insn_offset,) = instruction_offsets(m, defined)[name]
        sites = [(o, t) for o, t in code.traps if loc.start <= o < loc.end]
        assert {t for _, t in sites} == traps | {Trap.StackOverflow}
        for o, t in sites:
            if t == Trap.StackOverflow:
                assert lookup_pos(code, o) == m.bodies[defined].offset
            else:
                assert lookup_pos(code, o) == insn_offset
    # each function's map starts at the function with "no position"
    starts = dict(code.address_map)
    for f in code.funcs:
        assert f.wasm_func_loc.start in starts


def test_offsets_ascend_and_functions_keep_module_order() -> None:
    m = decode_module(wat(TRAPPY))
    code = compile_module(m, CompileOptions(X86, 2))
    starts = [f.wasm_func_loc.start for f in code.funcs]
    assert starts == sorted(starts)
    assert all(s % 32 == 0 for s in starts)
    offs = [o for o, _ in code.address_map]
    assert offs == sorted(set(offs))
    assert [o for o, _ in code.traps] == sorted({o for o, _ in code.traps})
    # every escaping function has an entry trampoline after all wasm functions
    last_end = max(f.wasm_func_loc.end for f in code.funcs)
    for f in code.funcs:
        assert f.array_to_wasm_trampoline is not None
        assert f.array_to_wasm_trampoline.start >= last_end


@pytest.mark.parametrize("opt", [0, 1, 2, 3])
def test_every_opt_level_produces_a_valid_artifact(opt: int) -> None:
    m = decode_module(wat(TRAPPY))
    code = compile_module(m, CompileOptions(X86, opt))
    data = build_artifact(m, code, EngineMetadata(target=X86, opt_level=opt))
    art = Artifact.from_bytes(data)
    assert art.info.funcs == code.funcs
    assert len(art.section_data(".wasmtime.traps")) > 4
    assert len(art.section_data(".wasmtime.addrmap")) > 4


def test_aarch64_cross_compiles_to_a_valid_artifact(tmp_path: object) -> None:
    m = decode_module(wat(TRAPPY))
    code = compile_module(m, CompileOptions(ARM, 2))
    data = build_artifact(m, code, EngineMetadata(target=ARM))
    art = Artifact.from_bytes(data)
    assert art.elf.e_machine == 183
    routines = trap_routines(code)
    for off, trap in code.traps:
        insn = struct.unpack_from("<I", code.text, off)[0]
        assert insn & 0xFC000000 == 0x94000000  # BL
        imm = insn & 0x3FFFFFF
        if imm & 0x2000000:
            imm -= 1 << 26
        assert routines[off + 4 * imm] == trap
    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    loc = code.funcs[0].wasm_func_loc
    assert [i.mnemonic for i in md.disasm(code.text[loc.start : loc.end], 0)]


def test_artifact_has_no_relocations_and_readelf_accepts_it(tmp_path: object) -> None:
    from pathlib import Path

    m = decode_module(wat(TRAPPY))
    code = compile_module(m, CompileOptions(X86, 2))
    path = Path(str(tmp_path)) / "t.cwasm"
    path.write_bytes(build_artifact(m, code, EngineMetadata(target=X86)))
    out = subprocess.run(["readelf", "-a", "-W", str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and "Warning" not in out.stderr and "Error" not in out.stderr
    assert "There are no relocations in this file." in out.stdout
    assert "wasm[0]::function[0]::div" in out.stdout


def test_prelink_rejects_writable_data_and_undefined_symbols() -> None:
    writable = (
        "@g = hidden global i32 0\ndefine i32 @f() {\n  %v = load i32, ptr @g\n  ret i32 %v\n}\n"
    )
    with pytest.raises(PrelinkError, match="writable"):
        prelink(parse_object(compile_ir(writable, X86, 2)))
    undefined = "declare void @ext()\ndefine void @f() {\n  call void @ext()\n  ret void\n}\n"
    with pytest.raises(PrelinkError, match="undefined symbol 'ext'"):
        prelink(parse_object(compile_ir(undefined, X86, 2)))


def test_parse_object_reads_llvm_output_through_the_checked_elf_reader() -> None:
    obj = parse_object(compile_ir("define void @f() {\n  ret void\n}\n", X86, 2))
    assert obj.section(".text") is not None and any(s.name == "f" for s in obj.symbols)
    with pytest.raises(PrelinkError, match="readable ELF64 object"):
        parse_object(b"\x7fELF" + bytes(20))
    executable = bytearray(compile_ir("define void @f() {\n  ret void\n}\n", X86, 2))
    executable[16] = 2  # e_type = ET_EXEC
    with pytest.raises(PrelinkError, match="relocatable object"):
        parse_object(bytes(executable))


def test_prelink_resolves_constant_pools_and_jump_tables() -> None:
    ir = """
define hidden double @f(i32 %x) {
entry:
  switch i32 %x, label %d [ i32 0, label %a i32 1, label %b i32 2, label %c i32 3, label %e
                            i32 4, label %g ]
a: ret double 1.5
b: ret double 2.25
c: ret double 3.125
e: ret double 4.0625
g: ret double 5.5
d: ret double 0.1
}
"""
    linked = prelink(parse_object(compile_ir(ir, X86, 2)))
    start, size = linked.functions["f"]
    assert start == 0 and 0 < size <= linked.code_size < len(linked.text)
    # the constants follow the code
    assert struct.pack("<d", 2.25) in linked.text[linked.code_size :]


def test_line_program_decoder_reads_handwritten_rows() -> None:
    # DWARF 4 header (min_inst 1, line_base -5, line_range 14, opcode_base 13)
    program = bytes(
        [0x00, 9, 0x02]
        + list((0x1000).to_bytes(8, "little"))  # set_address 0x1000
        + [0x03, 41]  # advance_line +41 -> 42
        + [0x05, 3]  # set_column 3
        + [0x01]  # copy
        + [13 + (2 * 14) + (5 + 1)]  # special: address +2, line +1
        + [0x02, 4, 0x00, 1, 0x01]  # advance_pc 4; end_sequence
    )
    header = (
        bytes([1, 1, 1, 0xFB, 14, 13])
        + bytes([0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1])
        + b"\0"  # no include directories
        + b"a.wasm\0\0\0\0\0"  # one file, then the terminator
    )
    unit = struct.pack("<H", 4) + struct.pack("<I", len(header)) + header + program
    data = struct.pack("<I", len(unit)) + unit
    rows = decode_line_program(data)
    assert [(r.address, r.line, r.column, r.end_sequence) for r in rows] == [
        (0x1000, 42, 3, False),
        (0x1002, 43, 3, False),
        (0x1006, 43, 3, True),
    ]


def test_every_instruction_has_a_translation() -> None:
    from cwasm.compile.translate.dispatch import HANDLERS

    missing = [op.name for op in OPERATORS if op is not None and HANDLERS[op.code] is None]
    assert missing == []
    assert BY_NAME["v128.const"]


def test_unknown_target_is_an_error() -> None:
    m = decode_module(wat("(module)"))
    with pytest.raises(CwasmError):
        compile_module(m, CompileOptions("mips-unknown-linux-gnu", 2))


def test_broken_ir_with_debug_info_is_an_exception_not_an_abort() -> None:
    from cwasm.compile.irmodule import IRModule
    from cwasm.compile.llvm_driver import CodegenError

    mod = IRModule()
    sp = mod.subprogram("f", 1)
    loc = mod.location(5, 0, sp)
    mod.functions.append(
        f"define i32 @f(i1 %c) !dbg !{sp} {{\nentry:\n  br i1 %c, label %a, label %a, !dbg !{loc}\n"
        f"a:\n  %x = phi i32 [ 1, %entry ], !dbg !{loc}\n  ret i32 %x, !dbg !{loc}\n}}"
    )
    with pytest.raises(CodegenError, match="PHINode"):
        compile_ir(mod.text(), X86, 2)


@pytest.mark.parametrize("opt", [0, 2])
def test_loop_with_params_around_a_first_builtin_call(opt: int) -> None:
    """The completion flag a Python builtin needs is allocated after the loop header's
    phi position was saved; it must not shift the phis in front of the loop's label."""
    from cwasm import Config, Engine, Instance, Module, Store

    text = """(module (memory 1)
      (func (export "f") (param i64) (result i64)
        local.get 0
        loop (param i64) (result i64)
          i32.const 0  memory.grow  drop
        end))"""
    config = Config()
    config.opt_level = opt
    engine = Engine(config)
    store = Store(engine)
    f = Instance(store, Module(engine, wat(text)), []).exports(store)["f"]
    assert f(store, 42) == 42


# equal types twice, a type nothing uses, an import of the second copy of a type
TYPES = """
(module
  (type $a (func))
  (type $b (func (param i32) (result i32)))
  (type $c (func))
  (type $d (func (param i64 f32) (result f64 i32)))
  (type $e (func (param i32) (result i32)))
  (import "m" "f" (func (type $e)))
  (func (type $c))
  (func (type $b) local.get 0))
"""


def test_one_wasm_to_array_trampoline_per_distinct_type_as_wasmtime() -> None:
    """Like Wasmtime v28: a trampoline for every type of the type section, not only the
    imported ones, one per distinct signature, in order of first appearance. (Wasmtime
    numbers them by its deduplicated type list; cwasm by the first type index.)"""

    def trampoline_types(artifact: bytes) -> list[tuple[int, str]]:
        d = inspect_artifact(artifact)
        types = d["module"]["types"]
        return [(w["type_index"], types[w["type_index"]]) for w in d["wasm_to_array_trampolines"]]

    binary = wat(TYPES)
    theirs = trampoline_types(wasmtime.Module(wasmtime.Engine(), binary).serialize())
    m = decode_module(binary)
    ours = trampoline_types(
        build_artifact(m, compile_module(m, CompileOptions(X86, 2)), EngineMetadata(target=X86))
    )
    expected = ["func() -> ()", "func(i32) -> (i32)", "func(i64, f32) -> (f64, i32)"]
    assert [t for _, t in ours] == [t for _, t in theirs] == expected
    assert [i for i, _ in ours] == [0, 1, 3] and [i for i, _ in theirs] == [0, 1, 2]
