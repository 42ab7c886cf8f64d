"""Tests of the function-body validator (cwasm/wasm/validator/).

Each case is one function in a fixed module context. Bodies are written in WAT and
assembled with wasm-tools (which does not validate, so invalid bodies assemble too);
the context (``ModuleTranslation``) is built here by hand, independently of the module
decoder, and the body is located in the assembled binary by a few lines below.

The context: type 0 ``[] -> []``, 1 ``[i32] -> [i32]``, 2 ``[i32 i32] -> [i32 i32]``,
3 the tested function's own type; function 0 imported with type 1, function 1 the
tested one; table 0 funcref, table 1 externref; memory 0 (unless ``memory=False``);
global 0 immutable i32, global 1 mutable i64; element segment 0 funcref (declares
function 0), segment 1 externref; data count 1 (unless ``data_count=None``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwasm.errors import InvalidError, MalformedError, WasmError
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import (
    ElementSegment,
    FunctionBody,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    SegmentMode,
    TableType,
    ValType,
)
from cwasm.wasm.validator import immediates, validate_function_body

WASM_TOOLS = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "wasm-tools")
if not Path(WASM_TOOLS).exists():  # pragma: no cover - outside the project venv
    WASM_TOOLS = shutil.which("wasm-tools") or "wasm-tools"

I32, I64, F32, F64, V128 = ValType.I32, ValType.I64, ValType.F32, ValType.F64, ValType.V128
FUNCREF, EXTERNREF = ValType.FUNCREF, ValType.EXTERNREF


_ASSEMBLED: dict[str, bytes] = {}


def _assemble_many(wats: list[str]) -> None:
    """Assemble many modules with one wasm-tools run (a .wast of modules), into the cache."""
    todo = [w for w in dict.fromkeys(wats) if w not in _ASSEMBLED]
    if not todo:
        return
    with tempfile.TemporaryDirectory() as tmp:
        wast = Path(tmp) / "cases.wast"
        wast.write_text("\n".join(todo))
        done = subprocess.run(
            [WASM_TOOLS, "json-from-wast", str(wast), "-o", f"{tmp}/cases.json", "--wasm-dir", tmp],
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        commands = json.loads(Path(f"{tmp}/cases.json").read_text())["commands"]
        files = [c["filename"] for c in commands if c["type"] == "module"]
        assert len(files) == len(todo)
        for wat, name in zip(todo, files, strict=True):
            _ASSEMBLED[wat] = (Path(tmp) / name).read_bytes()


def _assemble(wat: str) -> bytes:
    if wat in _ASSEMBLED:
        return _ASSEMBLED[wat]
    done = subprocess.run(
        [WASM_TOOLS, "parse", "-", "-o", "/dev/stdout"],
        input=wat.encode(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _types_and_last_body(wasm: bytes) -> tuple[list[FuncType], FunctionBody]:
    """The type section and the last code-section entry of a binary module."""
    r = BinaryReader(wasm, 8)
    types: list[FuncType] = []
    body: FunctionBody | None = None
    while not r.eof():
        section_id = r.u8()
        size = r.u32()
        end = r.pos + size
        if section_id == 1:
            for _ in range(r.u32()):
                assert r.u8() == 0x60
                params = tuple(ValType(r.u8()) for _ in range(r.u32()))
                results = tuple(ValType(r.u8()) for _ in range(r.u32()))
                types.append(FuncType(params, results))
        elif section_id == 10:
            for _ in range(r.u32()):
                body_size = r.u32()
                offset = r.pos
                local_decls = tuple((r.u32(), ValType(r.u8())) for _ in range(r.u32()))
                body = FunctionBody(3, offset, r.pos, offset + body_size, local_decls)
                r.pos = offset + body_size
        r.pos = end
    assert body is not None
    return types, body


def make_module(
    body: str,
    *,
    params: str = "",
    results: str = "",
    local_decls: str = "",
    memory: bool = True,
    data_count: int | None = 1,
) -> ModuleTranslation:
    """The fixed context (see the module docstring) around one function ``body``."""
    wat = _module_wat(body, params, results, local_decls)
    wasm = _assemble(wat)
    types, fbody = _types_and_last_body(wasm)
    return make_context(wasm, types, fbody, memory=memory, data_count=data_count)


def _module_wat(body: str, params: str = "", results: str = "", local_decls: str = "") -> str:
    sig = f"(param {params}) (result {results})"
    return f"""(module
      (type (func))
      (type (func (param i32) (result i32)))
      (type (func (param i32 i32) (result i32 i32)))
      (type (func {sig}))
      (import "m" "f" (func (type 1)))
      (func (type 3) (local {local_decls}) {body}))"""


def make_context(
    wasm: bytes,
    types: list[FuncType],
    body: FunctionBody,
    *,
    memory: bool = True,
    data_count: int | None = 1,
) -> ModuleTranslation:
    return ModuleTranslation(
        wasm=wasm,
        module=ModuleRecord(
            types=tuple(types),
            functions=(1, body.type_index),
            num_imported_funcs=1,
            tables=(TableType(FUNCREF, Limits(2)), TableType(EXTERNREF, Limits(2))),
            memories=(MemoryType(Limits(1)),) if memory else (),
            globals=(GlobalType(I32, False), GlobalType(I64, True)),
            elements=(
                ElementSegment(SegmentMode.ACTIVE, FUNCREF, functions=(0,)),
                ElementSegment(SegmentMode.PASSIVE, EXTERNREF, expressions=()),
            ),
        ),
        data_count=data_count,
        declared_refs={0},
        bodies=[body],
    )


def raw_module(code: bytes, *, data_count: int | None = 1) -> ModuleTranslation:
    """The fixed context around a body given as bytes (instructions only, no locals)."""
    types = [
        FuncType((), ()),
        FuncType((I32,), (I32,)),
        FuncType((I32, I32), (I32, I32)),
        FuncType((), ()),
    ]
    body = FunctionBody(3, 0, 0, len(code), ())
    return make_context(code, types, body, data_count=data_count)


def check(module: ModuleTranslation) -> None:
    validate_function_body(module, 0)


def error_of(module: ModuleTranslation) -> WasmError:
    with pytest.raises(WasmError) as info:
        check(module)
    return info.value


# --- valid bodies ---

VALID: list[tuple[str, dict[str, str]]] = [
    ("", {}),
    ("local.get 0 i32.const 1 i32.add", {"params": "i32", "results": "i32"}),
    ("local.get 0 local.tee 1 local.set 2", {"params": "f64", "local_decls": "f64 f64"}),
    ("i64.const 1 i64.const 2 i64.lt_s i32.eqz drop", {}),
    ("f32.const 1.5 f64.promote_f32 i64.trunc_sat_f64_u i64.extend32_s drop", {}),
    ("i32.const 1 (if (result i32) (then i32.const 2) (else i32.const 3))", {"results": "i32"}),
    ("(block (result i32 i64) i32.const 1 i64.const 2) drop", {"results": "i32"}),
    # multi-value blocks take parameters from the stack, through a type index
    ("i32.const 1 i32.const 2 (block (type 2) i32.add i32.const 0) i32.add", {"results": "i32"}),
    (
        "i32.const 1 (loop (type 1) i32.const 1 i32.sub local.tee 0 local.get 0 br_if 0)",
        {"results": "i32", "local_decls": "i32"},
    ),
    ("i32.const 1 i32.const 0 (if (type 1) (then i32.const 1 i32.add))", {"results": "i32"}),
    ("(block (result i32) i32.const 1 local.get 0 br_if 0)", {"params": "i32", "results": "i32"}),
    (
        "(block (result i32) (block (result i32) i32.const 7 local.get 0 br_table 0 1 0))",
        {"params": "i32", "results": "i32"},
    ),
    ("i32.const 1 return", {"results": "i32"}),
    ("(block (result i32) i32.const 1 br 0) drop", {}),
    # after unreachable, br or return the stack is polymorphic
    ("unreachable i32.add drop", {}),
    ("unreachable i64.eqz", {"results": "i32"}),
    ("unreachable select", {"results": "i32"}),
    ("unreachable select drop i32.const 0", {"results": "i32"}),
    ("(block (result i32) unreachable)", {"results": "i32"}),
    ("(block (result f32) f32.const 0 br 0 i32.add drop)", {"results": "f32"}),
    ("i64.const 0 return i32.const 1 drop i64.const 2", {"results": "i64"}),
    ("unreachable br_table 0", {"results": "f64"}),
    # br_table in unreachable code: the popped unknowns satisfy labels of any types
    (
        "(block (result f32) (block (result i64) unreachable br_table 0 1 0) drop f32.const 0)",
        {"results": "f32"},
    ),
    ("unreachable ref.is_null", {"results": "i32"}),
    ("local.get 0 local.get 0 i32.const 1 select", {"params": "i64", "results": "i64"}),
    (
        "ref.null func ref.null func i32.const 0 select (result funcref)",
        {"results": "funcref"},
    ),
    ("v128.const i32x4 0 0 0 0 v128.const i32x4 0 0 0 0 i32.const 1 select", {"results": "v128"}),
    ("i32.const 0 call 0 call 0", {"results": "i32"}),
    ("i32.const 5 i32.const 0 call_indirect (type 1)", {"results": "i32"}),
    ("ref.func 0 ref.is_null", {"results": "i32"}),
    ("i32.const 0 table.get 1 ref.is_null drop", {}),
    ("i32.const 0 ref.null extern table.set 1", {}),
    ("ref.null func i32.const 1 table.grow 0 table.size 1 i32.add", {"results": "i32"}),
    ("i32.const 0 ref.null extern i32.const 1 table.fill 1", {}),
    ("i32.const 0 i32.const 0 i32.const 0 table.init 0 0 elem.drop 1", {}),
    ("i32.const 0 i32.const 0 i32.const 0 table.copy 1 1", {}),
    ("global.get 0 drop global.get 1 i64.const 1 i64.add global.set 1", {}),
    (
        "i32.const 0 i64.load offset=8 align=8 i32.const 0 i64.load32_u align=4 i64.add",
        {"results": "i64"},
    ),
    (
        "i32.const 0 f64.const 1 f64.store align=8 i32.const 0 i32.load8_u align=1",
        {"results": "i32"},
    ),
    ("memory.size memory.grow", {"results": "i32"}),
    ("i32.const 0 i32.const 0 i32.const 0 memory.init 0 data.drop 0", {}),
    (
        "i32.const 0 i32.const 0 i32.const 0 memory.copy i32.const 0 i32.const 0 i32.const 0 memory.fill",
        {},
    ),
    # SIMD: lanes, lane memory accesses at their natural alignment, shuffles
    ("i32.const 0 v128.load align=16 i8x16.extract_lane_u 15", {"results": "i32"}),
    (
        "v128.const i64x2 1 2 f64.const 1 f64x2.replace_lane 1 f64x2.extract_lane 1",
        {"results": "f64"},
    ),
    (
        "i32.const 0 v128.load64_splat align=8 i32.const 0 v128.load32_zero align=4 i64x2.add",
        {"results": "v128"},
    ),
    ("i32.const 0 v128.const i32x4 0 0 0 0 v128.load16_lane align=2 7", {"results": "v128"}),
    ("i32.const 0 v128.const i32x4 0 0 0 0 v128.store64_lane align=8 1", {}),
    (
        "v128.const i32x4 0 0 0 0 v128.const i32x4 0 0 0 0 "
        "i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 31 i32.const 3 i16x8.shl i8x16.bitmask",
        {"results": "i32"},
    ),
    (
        "v128.const f32x4 1 2 3 4 v128.const f32x4 1 2 3 4 v128.const f32x4 0 0 0 0 v128.bitselect",
        {"results": "v128"},
    ),
    ("i32.const 1 (if (param) (then nop))", {}),
    ("i32.const 1 (if (then unreachable) (else nop))", {}),
]


def _sig_strings(sig: Mapping[str, object]) -> dict[str, str]:
    return {k: str(v) for k, v in sig.items() if k in ("params", "results", "local_decls")}


@pytest.fixture(scope="module", autouse=True)
def _assemble_cases() -> None:
    # one wasm-tools run for every parametrized case instead of one per case
    _assemble_many(
        [_module_wat(b, **_sig_strings(s)) for b, s in VALID]
        + [_module_wat(b, **_sig_strings(s)) for b, s, _ in INVALID]
    )


@pytest.mark.parametrize(("body", "sig"), VALID, ids=[b[:40] for b, _ in VALID])
def test_valid_bodies(body: str, sig: dict[str, str]) -> None:
    check(make_module(body, **sig))  # type: ignore[arg-type]


# --- invalid bodies, with the reference interpreter's wording ---

INVALID: list[tuple[str, dict[str, object], str]] = [
    ("i32.const 0 i64.const 0 i32.add drop", {}, "type mismatch"),
    ("i32.const 1", {}, "type mismatch"),
    ("", {"results": "i32"}, "type mismatch"),
    ("i64.const 1", {"results": "i32"}, "type mismatch"),
    ("i32.const 1 i32.const 2", {"results": "i32"}, "type mismatch"),
    ("(block i32.const 1)", {}, "type mismatch"),
    ("(block (result i32))", {"results": "i32"}, "type mismatch"),
    ("i32.const 1 (block i32.eqz drop)", {}, "type mismatch"),  # no access to the outer stack
    ("(block (type 2) drop drop)", {}, "type mismatch"),  # missing block parameters
    ("i64.const 0 (if (then))", {}, "type mismatch"),
    ("i32.const 1 (if (result i32) (then i32.const 1))", {"results": "i32"}, "type mismatch"),
    (
        "i32.const 1 (if (result i32) (then i32.const 1) (else))",
        {"results": "i32"},
        "type mismatch",
    ),
    ("(block (result i32) i64.const 1 br 0)", {"results": "i32"}, "type mismatch"),
    ("(block (result i32) i32.const 1 br_if 0)", {"results": "i32"}, "type mismatch"),
    # br_table targets of different arities
    (
        "(block (result i32) (block i32.const 1 i32.const 0 br_table 0 1)) drop",
        {},
        "type mismatch",
    ),
    ("i64.const 1 return", {"results": "i32"}, "type mismatch"),
    ("unreachable i64.const 0 i32.add drop", {}, "type mismatch"),
    ("unreachable i32.const 0", {"results": "i64"}, "type mismatch"),
    ("ref.null func ref.null func i32.const 1 select drop", {}, "type mismatch"),
    ("i32.const 1 i64.const 1 i32.const 1 select drop", {}, "type mismatch"),
    (
        "i32.const 1 i32.const 2 i32.const 1 select (result i32 i32) drop",
        {},
        "invalid result arity",
    ),
    ("i32.const 1 ref.is_null drop", {}, "type mismatch"),
    ("i32.const 0 call_indirect 1 (type 0)", {}, "type mismatch"),  # externref table
    ("i32.const 0 i32.const 0 i32.const 0 table.init 1 0", {}, "type mismatch"),
    ("i32.const 0 i32.const 0 i32.const 0 table.init 0 1", {}, "type mismatch"),
    ("i32.const 0 i32.const 0 i32.const 0 table.copy 0 1", {}, "type mismatch"),
    ("i32.const 0 ref.null func table.set 1", {}, "type mismatch"),
    ("local.get 1", {"params": "i32"}, "unknown local 1"),
    ("i32.const 0 local.set 3", {"local_decls": "i32 i32"}, "unknown local 3"),
    ("global.get 2 drop", {}, "unknown global 2"),
    ("i32.const 0 global.set 0", {}, "global is immutable"),
    ("call 2", {}, "unknown function 2"),
    ("ref.func 9 drop", {}, "unknown function 9"),
    ("ref.func 1 drop", {}, "undeclared function reference"),
    ("i32.const 0 call_indirect 2 (type 0)", {}, "unknown table 2"),
    ("i32.const 0 call_indirect 0 (type 9)", {}, "unknown type 9"),
    ("(block (type 9))", {}, "unknown type 9"),
    ("table.size 5 drop", {}, "unknown table 5"),
    ("br 1", {}, "unknown label 1"),
    ("(block (br_if 2 (i32.const 0)))", {}, "unknown label 2"),
    ("(block (br_table 0 1 2 (i32.const 0)))", {}, "unknown label 2"),
    ("i32.const 0 i32.load drop", {"memory": False}, "unknown memory 0"),
    ("memory.size drop", {"memory": False}, "unknown memory 0"),
    ("i32.const 0 v128.const i64x2 0 0 v128.store8_lane 0", {"memory": False}, "unknown memory 0"),
    ("i32.const 0 i32.const 0 i32.const 0 memory.init 1", {}, "unknown data segment 1"),
    ("data.drop 4", {}, "unknown data segment 4"),
    ("elem.drop 2", {}, "unknown elem segment 2"),
    ("i32.const 0 i32.const 0 i32.const 0 table.init 0 7", {}, "unknown elem segment 7"),
    ("i32.const 0 i32.load align=8 drop", {}, "alignment must not be larger than natural"),
    ("i32.const 0 i64.load16_s align=4 drop", {}, "alignment must not be larger than natural"),
    ("i32.const 0 v128.load align=32 drop", {}, "alignment must not be larger than natural"),
    ("i32.const 0 v128.load8_splat align=2 drop", {}, "alignment must not be larger than natural"),
    (
        "i32.const 0 v128.const i64x2 0 0 v128.load32_lane align=8 0 drop",
        {},
        "alignment must not be larger than natural",
    ),
    ("v128.const i64x2 0 0 i8x16.extract_lane_s 16 drop", {}, "invalid lane index"),
    ("v128.const i64x2 0 0 i64x2.extract_lane 2 drop", {}, "invalid lane index"),
    ("v128.const i64x2 0 0 f32.const 0 f32x4.replace_lane 4 drop", {}, "invalid lane index"),
    ("i32.const 0 v128.const i64x2 0 0 v128.store16_lane 8", {}, "invalid lane index"),
    (
        "v128.const i64x2 0 0 v128.const i64x2 0 0 "
        "i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 32 drop",
        {},
        "invalid lane index",
    ),
]


@pytest.mark.parametrize(
    ("body", "sig", "message"), INVALID, ids=[f"{m}:{b[:30]}" for b, _, m in INVALID]
)
def test_invalid_bodies(body: str, sig: dict[str, object], message: str) -> None:
    err = error_of(make_module(body, **sig))  # type: ignore[arg-type]
    assert isinstance(err, InvalidError)
    assert err.message == message


def test_error_offset_is_the_offending_instruction() -> None:
    m = make_module("i32.const 0 i32.const 0 i32.add i64.const 0 i32.add drop")
    body = m.bodies[0]
    err = error_of(m)
    # i32.const 0 (2 bytes) twice, i32.add (1), i64.const 0 (2): the second add
    assert err.offset == body.code_start + 7
    assert m.wasm[err.offset] == 0x6A


# --- malformed bodies (as bytes) ---


def test_illegal_opcodes() -> None:
    for code, message in (
        (b"\x06\x0b", "illegal opcode 06"),
        (b"\xff\x0b", "illegal opcode ff"),
        (b"\xfc\x12\x0b", "illegal opcode fc 12"),
        (b"\xfd\x9a\x01\x0b", "illegal opcode 9a"),
        (b"\xfd\xa0\x02\x0b", "illegal opcode 120"),
    ):
        err = error_of(raw_module(code))
        assert isinstance(err, MalformedError)
        assert (err.message, err.offset) == (message, 0)


def test_reserved_bytes_must_be_zero_without_multi_memory() -> None:
    for code in (
        b"\x3f\x01\x1a\x0b",  # memory.size 1
        b"\x41\x00\x40\x80\x00\x1a\x0b",  # memory.grow with a two-byte zero
        b"\x41\x00\x41\x00\x41\x00\xfc\x0a\x00\x01\x0b",  # memory.copy 0 1
        b"\x41\x00\x41\x00\x41\x00\xfc\x0b\x01\x0b",  # memory.fill 1
        b"\x41\x00\x41\x00\x41\x00\xfc\x08\x00\x01\x0b",  # memory.init 0 1
    ):
        with pytest.raises(MalformedError, match="zero byte expected"):
            validate_function_body(raw_module(code), 0, multi_memory=False)
        # with multi-memory they are memory indices: 1 is unknown, a padded 0 is memory 0
        if b"\x80\x00" in code:
            check(raw_module(code))
        else:
            err = error_of(raw_module(code))
            assert (type(err), err.message) == (InvalidError, "unknown memory 1")


def test_data_count_section_required() -> None:
    for code in (b"\xfc\x09\x00\x0b", b"\x41\x00\x41\x00\x41\x00\xfc\x08\x00\x00\x0b"):
        err = error_of(raw_module(code, data_count=None))
        assert isinstance(err, MalformedError)
        assert err.message == "data count section required"


def test_body_without_final_end() -> None:
    err = error_of(raw_module(b"\x41\x01\x1a"))
    assert isinstance(err, MalformedError)
    assert err.message == "END opcode expected"


def test_body_ending_inside_a_block() -> None:
    err = error_of(raw_module(b"\x02\x40\x02\x40\x0b"))
    assert isinstance(err, MalformedError)
    assert err.message == "unexpected end"


def test_truncated_immediate() -> None:
    for code in (b"\x41\x80", b"\x43\x00\x00", b"\x20"):
        err = error_of(raw_module(code))
        assert isinstance(err, MalformedError)
        assert err.message == "unexpected end"


def test_operators_after_the_final_end() -> None:
    err = error_of(raw_module(b"\x0b\x01\x0b"))
    assert isinstance(err, MalformedError)
    assert err.message == "section size mismatch"


def test_else_without_if() -> None:
    for code in (b"\x05\x0b", b"\x02\x40\x05\x0b\x0b", b"\x41\x00\x04\x40\x05\x05\x0b\x0b"):
        err = error_of(raw_module(code))
        assert isinstance(err, MalformedError)
        assert err.message == "END opcode expected"


def test_overlong_leb() -> None:
    # local.get with a 6-byte index; i32.const with a 33-bit value
    err = error_of(raw_module(b"\x20\x80\x80\x80\x80\x80\x00\x0b"))
    assert (type(err), err.message) == (MalformedError, "integer representation too long")
    err = error_of(raw_module(b"\x41\x80\x80\x80\x80\x70\x1a\x0b"))
    assert (type(err), err.message) == (MalformedError, "integer too large")


def test_malformed_wins_over_an_earlier_invalid_instruction() -> None:
    # i64.const 0 i32.eqz (invalid) ... then an illegal opcode
    err = error_of(raw_module(b"\x42\x00\x45\x1a\xff\x0b"))
    assert isinstance(err, MalformedError)
    assert (err.message, err.offset) == ("illegal opcode ff", 4)
    # the spec test: a block type naming an unknown type, then the body ends too early
    err = error_of(raw_module(b"\x02\x40\x41\x01\x04\x40\x02\x0b\x0b\x0b"))
    assert (type(err), err.message) == (MalformedError, "unexpected end")


def test_many_locals_without_expanding_them() -> None:
    # 70000 + 1 locals, above the count up to which locals are expanded into a list;
    # local 69999 (LEB ef a2 04) is an i64, local 70000 (f0 a2 04) an f32
    m = raw_module(b"\x20\xef\xa2\x04\x50\x1a\x20\xf0\xa2\x04\x8b\x1a\x0b")
    m.bodies[0].locals = ((70000, I64), (1, F32))
    check(m)
    m = raw_module(b"\x20\xf0\xa2\x04\x50\x1a\x0b")  # i64.eqz of the f32
    m.bodies[0].locals = ((70000, I64), (1, F32))
    assert error_of(m).message == "type mismatch"
    m = raw_module(b"\x20\xf1\xa2\x04\x1a\x0b")
    m.bodies[0].locals = ((70000, I64), (1, F32))
    assert error_of(m).message == "unknown local 70001"


def test_context_is_not_stale_between_modules() -> None:
    ok = make_module("i32.const 0 i32.load drop")
    check(ok)
    no_memory = make_module("i32.const 0 i32.load drop", memory=False)
    assert error_of(no_memory).message == "unknown memory 0"
    check(ok)


# --- the validator's own LEB128 readers agree with BinaryReader ---

_LEB_BYTES = st.binary(min_size=0, max_size=12).map(
    lambda b: bytes(x | 0x80 if i < len(b) // 2 else x for i, x in enumerate(b))
)


def _outcome(read: Callable[[], object]) -> object:
    try:
        return read()
    except IndexError:
        return "unexpected end"
    except MalformedError as e:
        if e.message == "unexpected end":  # the fast readers raise IndexError instead
            return e.message
        return e.message, e.offset


@settings(max_examples=300, deadline=None)
@given(_LEB_BYTES)
def test_fast_u32_reader_matches_binary_reader(data: bytes) -> None:
    def reference() -> tuple[int, int]:
        r = BinaryReader(data)
        return r.u32(), r.pos

    assert _outcome(lambda: immediates.read_u32(data, 0, 0)) == _outcome(reference)


@settings(max_examples=300, deadline=None)
@given(_LEB_BYTES, st.sampled_from([32, 64]))
def test_fast_sleb_skip_matches_binary_reader(data: bytes, bits: int) -> None:
    def reference() -> int:
        r = BinaryReader(data)
        r.s32() if bits == 32 else r.s64()
        return r.pos

    mask = immediates.S32_LAST_MASK if bits == 32 else immediates.S64_LAST_MASK
    fast = _outcome(lambda: immediates.skip_sleb(data, 0, 0, 5 if bits == 32 else 10, mask))
    assert fast == _outcome(reference)
