"""IRModule: the pieces shared by every function of one LLVM IR module under construction.

cwasm writes LLVM IR as text (an f-string per instruction is far cheaper than
llvmlite's object model). This module owns what is module-wide: value-type
spellings, intrinsic declarations, attribute groups, and the debug metadata that
turns every wasm instruction's module offset into a DWARF line (the address map)
and marks every trap call with its code (the trap table).
"""

from __future__ import annotations

import struct

from cwasm.abi.vmoffsets import TRAP_UNCAUGHT_EXCEPTION
from cwasm.errors import CwasmError
from cwasm.wasm.types import FuncType, ValType, ValueType, is_ref_code

#: the calling convention of wasm functions and of everything that is called like one
#: (host trampolines): LLVM's ``tailcc`` guarantees that a call marked ``tail`` in tail
#: position reuses the caller's frame (``return_call``), whatever the two signatures
#: (the callee pops its stack arguments). Every call of a wasm function uses it.
WASM_CC = "tailcc"
#: attribute group of wasm functions (tail calls allowed: only ``tail`` calls become
#: jumps, every other call the translator emits is ``notail``)
ATTR_WASM = "#0"
#: attribute group of trampolines
ATTR_TRAMPOLINE = "#1"
#: every function goes into ``.text`` in module order (never ``.text.unlikely.``)
SECTION = 'section ".text"'
#: call-site attributes of a trap call (never merged with another site)
ATTR_TRAP_CALL = "#2"
#: call-site attributes of the ``_setjmp`` call
ATTR_RETURNS_TWICE = "#3"
#: call-site attributes of constrained floating-point intrinsics
ATTR_STRICTFP = "#4"
#: attribute group of the trap routines
ATTR_TRAP_FN = "#5"
#: call-site attributes of the ``longjmp`` call
ATTR_NORETURN_CALL = "#6"
#: attribute group of the wasm-to-array trampolines (they may throw: ``HOST_RETHROW``)
ATTR_HOST_TRAMPOLINE = "#7"
#: attribute group of the throw routine (it unwinds, never returns)
ATTR_THROW_FN = "#8"
#: call-site attributes of a call of the throw routine
ATTR_THROW_CALL = "#9"
#: the personality routine of every function with landing pads (``cwasm.compile.unwinding``)
PERSONALITY = "@cwasm_personality"

_ATTRIBUTES = (
    'attributes #0 = { uwtable noinline strictfp "frame-pointer"="all" "no-builtins" }\n'
    'attributes #1 = { nounwind uwtable noinline "frame-pointer"="all" "no-builtins" '
    '"disable-tail-calls"="true" }\n'
    "attributes #2 = { nomerge noreturn nounwind }\n"
    "attributes #3 = { returns_twice }\n"
    "attributes #4 = { strictfp }\n"
    'attributes #5 = { noreturn nounwind uwtable noinline "frame-pointer"="all" "no-builtins" }\n'
    "attributes #6 = { noreturn nounwind }\n"
    'attributes #7 = { uwtable noinline "frame-pointer"="all" "no-builtins" '
    '"disable-tail-calls"="true" }\n'
    'attributes #8 = { noreturn uwtable noinline "frame-pointer"="all" "no-builtins" }\n'
    "attributes #9 = { nomerge noreturn }\n"
)

#: metadata of a linear-memory access: it never aliases the vmctx or any runtime state
HEAP = ", !tbaa !9"
#: metadata of a vmctx field access
VMCTX = ", !tbaa !10"
#: metadata of a vmctx field that never changes once the instance exists (memory bases)
INVARIANT = ", !tbaa !10, !invariant.load !11"

#: LLVM spelling of each wasm value type
IR_TYPE: dict[int, str] = {
    ValType.I32: "i32",
    ValType.I64: "i64",
    ValType.F32: "float",
    ValType.F64: "double",
    ValType.V128: "<2 x i64>",
    ValType.FUNCREF: "ptr",
    ValType.EXTERNREF: "ptr",
}

#: LLVM spelling of each wasm type's zero value
IR_ZERO: dict[int, str] = {
    ValType.I32: "0",
    ValType.I64: "0",
    ValType.F32: "0.0",
    ValType.F64: "0.0",
    ValType.V128: "zeroinitializer",
    ValType.FUNCREF: "null",
    ValType.EXTERNREF: "null",
}

_DECLS: dict[str, str] = {}


def _decl(name: str, text: str) -> None:
    _DECLS[name] = f"declare {text}"


for _n, _t in (("32", "i32"), ("64", "i64")):
    _decl(f"llvm.ctlz.i{_n}", f"{_t} @llvm.ctlz.i{_n}({_t}, i1)")
    _decl(f"llvm.cttz.i{_n}", f"{_t} @llvm.cttz.i{_n}({_t}, i1)")
    _decl(f"llvm.ctpop.i{_n}", f"{_t} @llvm.ctpop.i{_n}({_t})")
    _decl(f"llvm.fshl.i{_n}", f"{_t} @llvm.fshl.i{_n}({_t}, {_t}, {_t})")
    _decl(f"llvm.fshr.i{_n}", f"{_t} @llvm.fshr.i{_n}({_t}, {_t}, {_t})")
for _s, _t in (("f32", "float"), ("f64", "double")):
    for _u in ("fabs", "ceil", "floor", "trunc", "roundeven", "sqrt"):
        _decl(f"llvm.{_u}.{_s}", f"{_t} @llvm.{_u}.{_s}({_t})")
    for _b in ("copysign", "minimum", "maximum"):
        _decl(f"llvm.{_b}.{_s}", f"{_t} @llvm.{_b}.{_s}({_t}, {_t})")
    for _b in ("fadd", "fsub", "fmul", "fdiv"):
        _decl(
            f"llvm.experimental.constrained.{_b}.{_s}",
            f"{_t} @llvm.experimental.constrained.{_b}.{_s}({_t}, {_t}, metadata, metadata)",
        )
    _decl(
        f"llvm.experimental.constrained.sqrt.{_s}",
        f"{_t} @llvm.experimental.constrained.sqrt.{_s}({_t}, metadata, metadata)",
    )
    for _i in ("i32", "i64"):
        for _sg in ("fptosi", "fptoui"):
            _decl(f"llvm.{_sg}.sat.{_i}.{_s}", f"{_i} @llvm.{_sg}.sat.{_i}.{_s}({_t})")
_decl(
    "llvm.experimental.constrained.fptrunc.f32.f64",
    "float @llvm.experimental.constrained.fptrunc.f32.f64(double, metadata, metadata)",
)
_decl(
    "llvm.experimental.constrained.fpext.f64.f32",
    "double @llvm.experimental.constrained.fpext.f64.f32(float, metadata)",
)
_decl("llvm.frameaddress.p0", "ptr @llvm.frameaddress.p0(i32)")


def f64_hex(value: float) -> str:
    """LLVM's exact hexadecimal spelling of a double (also used for float constants)."""
    return f"0x{struct.unpack('<Q', struct.pack('<d', value))[0]:016X}"


def signature(ft: FuncType) -> tuple[list[str], str]:
    """(parameter types, return type) of a wasm function in cwasm's native ABI.

    Native parameters are ``ptr vmctx, ptr caller_vmctx`` then the wasm parameters;
    several results come back as one literal struct.
    """
    params = [ir_type(t) for t in ft.params]
    return params, return_type(ft.results)


def ir_type(t: ValueType | int) -> str:
    """The LLVM type of a wasm value type (every reference type is a pointer)."""
    ir = IR_TYPE.get(t)
    if ir is not None:
        return ir
    if is_ref_code(t):
        return "ptr"
    raise CwasmError(f"value type {t!r} is not supported by the compiler")


def return_type(results: tuple[ValueType, ...] | list[int]) -> str:
    if not results:
        return "void"
    if len(results) == 1:
        return ir_type(results[0])
    return "{" + ", ".join(ir_type(t) for t in results) + "}"


class IRModule:
    """Accumulates functions, declarations and metadata; ``text()`` gives the module."""

    def __init__(
        self,
        source_name: str = "module.wasm",
        arch: str = "x86_64",
        guard_pages: bool = False,
        *,
        consume_fuel: bool = False,
        epoch_interruption: bool = False,
        fma: bool = False,
        relaxed_simd_deterministic: bool = False,
    ) -> None:
        self.arch = arch
        #: wasm functions may use x86-64's FMA instructions (relaxed SIMD's madd)
        self.fma = fma
        #: relaxed SIMD follows the proposal's deterministic semantics
        self.relaxed_simd_deterministic = relaxed_simd_deterministic
        #: linear-memory accesses are left to fault into guard pages (x86-64 Linux)
        self.guard_pages = guard_pages
        #: functions count fuel as Wasmtime's (``cwasm.compile.translate.interrupts``)
        self.consume_fuel = consume_fuel
        #: functions check the epoch deadline at entry and loop headers
        self.epoch_interruption = epoch_interruption
        #: whether functions link GC root areas (``translate.gc_roots.uses_gc``)
        self.gc_roots = False
        self.functions: list[str] = []
        self.used_decls: set[str] = set()
        self.extra_decls: dict[str, str] = {}
        self.metadata: list[str] = []
        self.trap_codes: set[int] = set()
        #: the wasm functions this module's code calls directly (by function index)
        self.callees: set[int] = set()
        #: the names of the wasm functions defined here that have no loop
        self.loop_free: list[str] = []
        #: whether some function here has landing pads, and whether this module defines
        #: the personality routine they name (else it is declared)
        self.uses_personality = False
        self.defines_personality = False
        #: the names of the wasm functions defined here whose bodies are huge
        #: (``llvm_driver.HUGE_FUNCTION_BYTES``): LLVM gives them the short pipeline
        self.huge: list[str] = []
        self._next_md = 16
        self.md_file = 2
        self.md_cu = 3
        self.md_subroutine_type = 4
        self.md_unlikely = 5
        esc = source_name.replace("\\", "\\\\").replace('"', '\\"')
        self._header_md = [
            "!llvm.module.flags = !{!0, !1}",
            "!llvm.dbg.cu = !{!3}",
            '!0 = !{i32 7, !"Dwarf Version", i32 4}',
            '!1 = !{i32 2, !"Debug Info Version", i32 3}',
            f'!2 = !DIFile(filename: "{esc}", directory: ".")',
            '!3 = distinct !DICompileUnit(language: DW_LANG_C99, file: !2, producer: "cwasm", '
            "isOptimized: true, runtimeVersion: 0, emissionKind: LineTablesOnly)",
            "!4 = !DISubroutineType(types: !{})",
            '!5 = !{!"branch_weights", i32 1, i32 1048576}',
            '!6 = !{!"cwasm tbaa"}',
            '!7 = !{!"wasm linear memory", !6, i64 0}',
            '!8 = !{!"vmctx", !6, i64 0}',
            "!9 = !{!7, !7, i64 0}",
            "!10 = !{!8, !8, i64 0}",
            "!11 = !{}",
        ]

    def new_md(self, text: str) -> int:
        n = self._next_md
        self._next_md = n + 1
        self.metadata.append(f"!{n} = {text}")
        return n

    def subprogram(self, name: str, line: int) -> int:
        return self.new_md(
            f'distinct !DISubprogram(name: "{name}", scope: !2, file: !2, line: {line}, '
            "type: !4, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !3)"
        )

    def location(self, line: int, column: int, scope: int) -> int:
        return self.new_md(f"!DILocation(line: {line}, column: {column}, scope: !{scope})")

    def use(self, intrinsic: str) -> str:
        """Mark an intrinsic as used; returns its ``@name``."""
        self.used_decls.add(intrinsic)
        return "@" + intrinsic

    def declare(self, name: str, ret: str, params: str) -> str:
        """Declare (once) an intrinsic not in the fixed table; returns its ``@name``."""
        if name not in self.extra_decls:
            self.extra_decls[name] = f"declare {ret} @{name}({params})"
        return "@" + name

    def personality(self) -> str:
        """The personality routine's ``@name`` (declared unless defined here)."""
        self.uses_personality = True
        return PERSONALITY

    def declare_function(self, func_index: int, ft: FuncType) -> None:
        """Declare wasm function ``func_index``, defined in another part of the module."""
        params, ret = signature(ft)
        arglist = ", ".join(["ptr", "ptr", *params])
        self.extra_decls[f"f{func_index}"] = (
            f"declare hidden {WASM_CC} {ret} @f{func_index}({arglist}) {ATTR_WASM}"
        )

    def declare_trap_routine(self, code: int) -> None:
        """Declare the trap routine of ``code``, defined in another part of the module."""
        self.extra_decls[f"trap{code}"] = f"declare hidden void @trap{code}(ptr) {ATTR_TRAP_FN}"
        if code == TRAP_UNCAUGHT_EXCEPTION:  # the throw routine comes with it
            self.extra_decls["exnthrow"] = (
                f"declare hidden void @exnthrow(ptr, ptr) {ATTR_THROW_FN}"
            )

    def function_names(self, start: int = 0) -> list[str]:
        """The names of the functions defined here, from the ``start``-th entry on (the
        entries of ``functions`` that are not definitions, e.g. globals, are skipped)."""
        return [
            f[: f.index("(")].rsplit("@", 1)[1]
            for f in self.functions[start:]
            if f.startswith("define ")
        ]

    def text(self) -> str:
        parts = self.functions[:]
        parts.extend(_DECLS[d] for d in sorted(self.used_decls))
        parts.extend(self.extra_decls[d] for d in sorted(self.extra_decls))
        if self.uses_personality and not self.defines_personality:
            parts.append(f"declare hidden i32 {PERSONALITY}(i32, i32, i64, ptr, ptr)")
        if self.fma:
            parts.append(
                _ATTRIBUTES.replace('"no-builtins" ', '"no-builtins" "target-features"="+fma" ', 1)
            )
        else:
            parts.append(_ATTRIBUTES)
        parts.extend(self._header_md)
        parts.extend(self.metadata)
        return "\n".join(parts) + "\n"
