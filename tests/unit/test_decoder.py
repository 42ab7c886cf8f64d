"""decode_module: every section kind, segment encodings, custom and name sections, errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cwasm.errors import InvalidError, MalformedError, WasmError
from cwasm.wasm import ModuleTranslation, decode_module
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.types import (
    ConstOp,
    ConstOpKind,
    ExternKind,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    SegmentMode,
    TableType,
    ValType,
)

WASM_TOOLS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "wasm-tools"
HEADER = b"\0asm\1\0\0\0"

I32, I64, F32, F64, V128 = b"\x7f", b"\x7e", b"\x7d", b"\x7c", b"\x7b"
FUNCREF, EXTERNREF = b"\x70", b"\x6f"
END = b"\x0b"


def leb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def vec(items: list[bytes]) -> bytes:
    return leb(len(items)) + b"".join(items)


def name(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return leb(len(raw)) + raw


def section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + leb(len(payload)) + payload


def custom(section_name: str, payload: bytes) -> bytes:
    return section(0, name(section_name) + payload)


def module(*sections: bytes) -> bytes:
    return HEADER + b"".join(sections)


def functype(params: bytes = b"", results: bytes = b"") -> bytes:
    return b"\x60" + vec([bytes([p]) for p in params]) + vec([bytes([r]) for r in results])


def body(code: bytes, locals_: bytes = b"\x00") -> bytes:
    content = locals_ + code
    return leb(len(content)) + content


def i32_const(v: int) -> bytes:
    return b"\x41" + sleb(v)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


# one function of type [] -> [] with an empty body
ONE_FUNC = (
    section(1, vec([functype()])),
    section(3, vec([b"\x00"])),
)
ONE_BODY = section(10, vec([body(END)]))


def wat(text: str) -> bytes:
    return subprocess.run(
        [str(WASM_TOOLS), "parse", "-"], input=text.encode(), capture_output=True, check=True
    ).stdout


def malformed(wasm: bytes, **features: bool) -> MalformedError:
    with pytest.raises(MalformedError) as info:
        decode_module(wasm, **features)
    return info.value


def invalid(wasm: bytes) -> InvalidError:
    with pytest.raises(InvalidError) as info:
        decode_module(wasm)
    return info.value


# -- header and framing ---------------------------------------------------------------


def test_empty_module() -> None:
    m = decode_module(HEADER)
    assert isinstance(m, ModuleTranslation)
    assert m.wasm == HEADER
    assert m.module == ModuleRecord() and m.bodies == []
    assert m.data_count is None and m.code_section_offset == 0


@pytest.mark.parametrize(
    "wasm, message, offset",
    [
        (b"", "unexpected end", 0),
        (b"\0as", "unexpected end", 0),
        (b"\0asm\1\0\0", "unexpected end", 4),
        (b"\0ASM\1\0\0\0", "magic header not detected", 0),
        (b"\0asm\2\0\0\0", "unknown binary version", 4),
        (HEADER + b"\x0e\x00", "malformed section id", 8),  # 13: the tag section
        (HEADER + b"\x01", "unexpected end", 9),
    ],
)
def test_header_errors(wasm: bytes, message: str, offset: int) -> None:
    e = malformed(wasm)
    assert e.message.startswith(message)
    assert e.offset == offset


def test_section_size_mismatch_and_length_out_of_bounds() -> None:
    # a type section declaring 5 bytes holding a 3-byte type and 2 stray bytes
    e = malformed(module(b"\x01\x06\x01" + functype() + b"\x00\x00"))
    assert (e.message, e.offset) == ("section size mismatch", 10)
    # a section size beyond the end of the module
    e = malformed(module(b"\x01\x09\x01" + functype()))
    assert (e.message, e.offset) == ("length out of bounds", 9)
    # a count that cannot fit in what is left
    e = malformed(module(section(1, b"\x05" + functype())))
    assert e.message == "length out of bounds"


def test_sections_out_of_order_or_repeated() -> None:
    e = malformed(module(section(3, vec([])), section(1, vec([]))))
    assert e.message == "unexpected content after last section"
    e = malformed(module(section(1, vec([])), section(1, vec([]))))
    assert e.message == "unexpected content after last section"
    # the data count section goes between element and code sections
    decode_module(module(section(12, b"\x00"), section(10, vec([]))))
    e = malformed(module(section(10, vec([])), section(12, b"\x00")))
    assert e.message == "unexpected content after last section"


def test_function_and_code_counts_must_agree() -> None:
    e = malformed(module(*ONE_FUNC))
    assert e.message == "function and code section have inconsistent lengths"
    e = malformed(module(section(10, vec([body(END)]))))
    assert e.message == "function and code section have inconsistent lengths"


def test_data_count_must_match() -> None:
    passive = b"\x01" + name(b"ab")
    e = malformed(module(section(12, b"\x02"), section(11, vec([passive]))))
    assert e.message == "data count and data section have inconsistent lengths"
    m = decode_module(module(section(12, b"\x01"), section(11, vec([passive]))))
    assert m.data_count == 1


# -- sections -------------------------------------------------------------------------


def test_type_section() -> None:
    m = decode_module(
        module(
            section(
                1,
                vec(
                    [
                        functype(),
                        functype(I32 + I64, F32),
                        functype(F64 + V128 + FUNCREF + EXTERNREF, I32 + I32),
                    ]
                ),
            )
        )
    )
    assert m.module.types == (
        FuncType((), ()),
        FuncType((ValType.I32, ValType.I64), (ValType.F32,)),
        FuncType(
            (ValType.F64, ValType.V128, ValType.FUNCREF, ValType.EXTERNREF),
            (ValType.I32, ValType.I32),
        ),
    )
    e = malformed(module(section(1, vec([b"\x61\x00\x00"]))))
    assert e.message == "malformed function type"
    e = malformed(module(section(1, vec([b"\x60\x01\x40\x00"]))))
    assert (e.message, e.offset) == ("malformed reference type", 13)


def test_imports_fill_index_spaces() -> None:
    imports = vec(
        [
            name("env") + name("f") + b"\x00\x00",
            name("env") + name("t") + b"\x01" + FUNCREF + b"\x01\x01\x05",
            name("env") + name("m") + b"\x02\x00\x02",
            name("env") + name("g") + b"\x03" + I64 + b"\x01",
            name("env") + name("h") + b"\x00\x00",
        ]
    )
    m = decode_module(module(section(1, vec([functype(I32)])), section(2, imports)))
    assert [(i.module, i.name, i.kind) for i in m.module.imports] == [
        ("env", "f", ExternKind.FUNC),
        ("env", "t", ExternKind.TABLE),
        ("env", "m", ExternKind.MEMORY),
        ("env", "g", ExternKind.GLOBAL),
        ("env", "h", ExternKind.FUNC),
    ]
    assert m.module.functions == (0, 0)
    assert m.module.tables == (TableType(ValType.FUNCREF, Limits(1, 5)),)
    assert m.module.memories == (MemoryType(Limits(2)),)
    assert m.module.globals == (GlobalType(ValType.I64, True),)
    assert (m.module.num_imported_funcs, m.module.num_imported_tables) == (2, 1)
    assert (m.module.num_imported_memories, m.module.num_imported_globals) == (1, 1)


@pytest.mark.parametrize("kind", [b"\x05", b"\x80"])
def test_malformed_import_kind(kind: bytes) -> None:
    e = malformed(module(section(2, vec([name("a") + name("b") + kind + b"\x00"]))))
    assert (e.message, e.offset) == ("malformed import kind", 15)


def test_without_exceptions_tags_are_malformed_as_in_wasm_2_0() -> None:
    tag_import = module(section(2, vec([name("a") + name("b") + b"\x04\x00"])))
    e = malformed(tag_import, exceptions=False)
    assert (e.message, e.offset) == ("malformed import kind", 15)
    e = malformed(module(section(13, b"\x01")), exceptions=False)
    assert e.message == "malformed section id"


def test_tag_section_imports_and_exports() -> None:
    m = decode_module(
        module(
            section(1, vec([b"\x60\x01\x7f\x00", b"\x60\x00\x00"])),
            section(2, vec([name("a") + name("b") + b"\x04\x00\x00"])),
            section(13, vec([b"\x00\x01"])),
            section(7, vec([name("t") + b"\x04\x01"])),
        )
    )
    assert (m.module.tags, m.module.num_imported_tags) == ((0, 1), 1)
    assert [(x.name, x.kind, x.index) for x in m.module.exports] == [("t", ExternKind.TAG, 1)]
    e = malformed(module(section(13, vec([b"\x01\x00"]))))
    assert e.message == "malformed tag attribute"


def test_functions_tables_memories_globals() -> None:
    globals_ = vec(
        [
            I32 + b"\x00" + i32_const(-5) + END,
            I64 + b"\x01" + b"\x42" + sleb(-1) + END,
            F32 + b"\x00" + b"\x43" + bytes.fromhex("0000803f") + END,
            F64 + b"\x00" + b"\x44" + bytes.fromhex("000000000000f03f") + END,
            V128 + b"\x00" + b"\xfd\x0c" + bytes(range(16)) + END,
            FUNCREF + b"\x00" + b"\xd0\x70" + END,
            FUNCREF + b"\x00" + b"\xd2\x01" + END,
            EXTERNREF + b"\x00" + b"\xd0\x6f" + END,
            I32 + b"\x00" + b"\x23\x00" + END,
        ]
    )
    m = decode_module(
        module(
            section(1, vec([functype(), functype(I32, I32)])),
            section(2, vec([name("m") + name("g") + b"\x03" + I32 + b"\x00"])),
            section(3, vec([b"\x01", b"\x00"])),
            section(4, vec([FUNCREF + b"\x00\x03", EXTERNREF + b"\x01\x00\x10"])),
            section(5, vec([b"\x01\x01\x02"])),
            section(6, globals_),
            section(10, vec([body(b"\x20\x00" + END), body(END)])),
        )
    )
    assert m.module.functions == (1, 0)
    assert m.module.tables == (
        TableType(ValType.FUNCREF, Limits(3)),
        TableType(ValType.EXTERNREF, Limits(0, 16)),
    )
    assert m.module.memories == (MemoryType(Limits(1, 2)),)
    assert [g.content for g in m.module.globals] == [
        ValType.I32,
        ValType.I32,
        ValType.I64,
        ValType.F32,
        ValType.F64,
        ValType.V128,
        ValType.FUNCREF,
        ValType.FUNCREF,
        ValType.EXTERNREF,
        ValType.I32,
    ]
    assert m.module.globals[2].mutable and not m.module.globals[1].mutable
    assert [init.ops for init in m.module.global_inits] == [
        (ConstOp(ConstOpKind.I32_CONST, 0xFFFF_FFFB),),
        (ConstOp(ConstOpKind.I64_CONST, 2**64 - 1),),
        (ConstOp(ConstOpKind.F32_CONST, 0x3F80_0000),),
        (ConstOp(ConstOpKind.F64_CONST, 0x3FF0_0000_0000_0000),),
        (ConstOp(ConstOpKind.V128_CONST, int.from_bytes(bytes(range(16)), "little")),),
        (ConstOp(ConstOpKind.REF_NULL, ValType.FUNCREF),),
        (ConstOp(ConstOpKind.REF_FUNC, 1),),
        (ConstOp(ConstOpKind.REF_NULL, ValType.EXTERNREF),),
        (ConstOp(ConstOpKind.GLOBAL_GET, 0),),
    ]
    first_init = m.module.global_inits[0]
    assert m.wasm[first_init.offset] == 0x41
    assert m.declared_refs == {1}


def test_global_errors() -> None:
    e = malformed(module(section(6, vec([I32 + b"\x02" + i32_const(0) + END]))))
    assert e.message == "malformed mutability"
    # an initializer missing its end runs into the next section's id (0x0a)
    # (Wasm 2.0's decoding: 0x0a is throw_ref with exception handling)
    no_end = module(*ONE_FUNC, section(6, vec([I32 + b"\x00" + i32_const(0)])), ONE_BODY)
    e = malformed(no_end, exceptions=False)
    assert e.message == "illegal opcode 0a"


def test_exports_and_start() -> None:
    m = decode_module(
        module(
            *ONE_FUNC,
            section(4, vec([FUNCREF + b"\x00\x01"])),
            section(5, vec([b"\x00\x01"])),
            section(6, vec([I32 + b"\x01" + i32_const(7) + END])),
            section(
                7,
                vec(
                    [
                        name("f") + b"\x00\x00",
                        name("t") + b"\x01\x00",
                        name("m") + b"\x02\x00",
                        name("g") + b"\x03\x00",
                    ]
                ),
            ),
            section(8, b"\x00"),
            ONE_BODY,
        )
    )
    assert [(x.name, x.kind, x.index) for x in m.module.exports] == [
        ("f", ExternKind.FUNC, 0),
        ("t", ExternKind.TABLE, 0),
        ("m", ExternKind.MEMORY, 0),
        ("g", ExternKind.GLOBAL, 0),
    ]
    assert m.module.start == 0
    assert m.declared_refs == {0}
    e = malformed(module(section(7, vec([name("x") + b"\x05\x00"]))))
    assert e.message == "malformed export kind"


def test_code_section_bodies() -> None:
    locals_ = vec([b"\x02" + I32, b"\x01" + F64])
    code = section(10, vec([body(b"\x01" + END, locals_), body(END)]))
    wasm = module(
        section(1, vec([functype(), functype(I32)])), section(3, vec([b"\x01", b"\x00"])), code
    )
    m = decode_module(wasm)
    start = wasm.index(code) + 2
    assert m.code_section_offset == start
    first, second = m.bodies
    assert first.type_index == 1 and second.type_index == 0
    assert first.offset == start + 2  # after the count and the body size
    assert first.code_start == first.offset + len(locals_)
    assert wasm[first.code_start : first.end] == b"\x01" + END
    assert first.locals == ((2, ValType.I32), (1, ValType.F64))
    assert first.local_types() == [ValType.I32, ValType.I32, ValType.F64]
    assert second.offset == first.end + 1 and second.code_start == second.offset + 1
    assert second.end == len(wasm) and second.locals == ()
    assert bytes(m.body_bytes(1)) == b"\x00" + END


def test_too_many_locals() -> None:
    locals_ = vec([leb(0xFFFF_FFFF) + I32, b"\x02" + I64])
    e = malformed(module(*ONE_FUNC, section(10, vec([body(END, locals_)]))))
    assert e.message == "too many locals"


def test_locals_limit_of_wasmtime() -> None:
    at_limit = vec([leb(49_999) + I32])
    two_params = (section(1, vec([functype(I32 + I32)])), section(3, vec([b"\x00"])))
    e = invalid(module(*two_params, section(10, vec([body(END, at_limit)]))))
    assert e.message.startswith("too many locals")
    one_param = (section(1, vec([functype(I32)])), section(3, vec([b"\x00"])))
    assert decode_module(module(*one_param, section(10, vec([body(END, at_limit)]))))


def test_body_size_errors() -> None:
    # body claims more bytes than the module has left
    e = malformed(module(*ONE_FUNC, section(10, b"\x01\x07\x00" + END)))
    assert e.message == "length out of bounds"
    # an unterminated body at the end of the module
    e = malformed(module(*ONE_FUNC, section(10, vec([body(i32_const(1) + b"\x1a")]))))
    assert e.message == "unexpected end of section or function"
    # an unterminated body followed by a data section: the spec reads the section id
    # 0x0b as the body's end, overrunning its size
    wasm = module(
        *ONE_FUNC,
        section(10, vec([body(i32_const(1) + b"\x1a")])),
        section(11, vec([b"\x01\x00"])),
    )
    assert malformed(wasm).message == "section size mismatch"


# -- element segments -----------------------------------------------------------------

OFFSET0 = i32_const(0) + END
TWO_FUNCS = (section(1, vec([functype()])), section(3, vec([b"\x00", b"\x00"])))
TWO_BODIES = section(10, vec([body(END), body(END)]))
TABLES = section(4, vec([FUNCREF + b"\x00\x02", FUNCREF + b"\x00\x02"]))
REF_FUNC_1 = b"\xd2\x01" + END
REF_NULL = b"\xd0\x70" + END


@pytest.mark.parametrize(
    "encoding, mode, table, functions, expressions",
    [
        (b"\x00" + OFFSET0 + vec([b"\x01", b"\x00"]), SegmentMode.ACTIVE, 0, (1, 0), None),
        (b"\x01\x00" + vec([b"\x01"]), SegmentMode.PASSIVE, 0, (1,), None),
        (b"\x02\x01" + OFFSET0 + b"\x00" + vec([b"\x00"]), SegmentMode.ACTIVE, 1, (0,), None),
        (b"\x03\x00" + vec([b"\x01"]), SegmentMode.DECLARATIVE, 0, (1,), None),
        (b"\x04" + OFFSET0 + vec([REF_FUNC_1, REF_NULL]), SegmentMode.ACTIVE, 0, None, 2),
        (b"\x05" + FUNCREF + vec([REF_NULL]), SegmentMode.PASSIVE, 0, None, 1),
        (b"\x06\x01" + OFFSET0 + FUNCREF + vec([REF_FUNC_1]), SegmentMode.ACTIVE, 1, None, 1),
        (b"\x07" + FUNCREF + vec([REF_FUNC_1]), SegmentMode.DECLARATIVE, 0, None, 1),
    ],
)
def test_element_segment_encodings(
    encoding: bytes,
    mode: SegmentMode,
    table: int,
    functions: tuple[int, ...] | None,
    expressions: int | None,
) -> None:
    m = decode_module(module(*TWO_FUNCS, TABLES, section(9, vec([encoding])), TWO_BODIES))
    (seg,) = m.module.elements
    assert seg.mode == mode
    assert seg.element == ValType.FUNCREF
    assert seg.table_index == table
    if mode == SegmentMode.ACTIVE:
        assert seg.offset is not None
        assert seg.offset.ops == (ConstOp(ConstOpKind.I32_CONST, 0),)
    else:
        assert seg.offset is None
    assert seg.functions == functions
    if expressions is None:
        assert seg.expressions is None
        assert m.declared_refs == set(functions or ())
    else:
        assert seg.expressions is not None and len(seg) == expressions
        assert seg.expressions[0].ops[0].kind in (ConstOpKind.REF_FUNC, ConstOpKind.REF_NULL)


def test_externref_element_segment() -> None:
    seg = b"\x05" + EXTERNREF + vec([b"\xd0\x6f" + END, b"\xd0\x6f" + END])
    m = decode_module(module(section(9, vec([seg]))))
    assert m.module.elements[0].element == ValType.EXTERNREF and len(m.module.elements[0]) == 2


def test_element_segment_errors() -> None:
    e = malformed(module(section(9, vec([b"\x08"]))))
    assert e.message == "malformed elements segment kind"
    e = malformed(module(section(9, vec([b"\x01\x01" + vec([])]))))
    assert e.message == "malformed element kind"
    e = malformed(module(section(9, vec([b"\x05" + I32 + vec([])]))))
    assert e.message == "malformed reference type"
    e = invalid(module(section(9, vec([b"\x00" + OFFSET0 + vec([])]))))
    assert e.message == "unknown table 0"
    e = invalid(
        module(*ONE_FUNC, TABLES, section(9, vec([b"\x01\x00" + vec([b"\x05"])])), ONE_BODY)
    )
    assert e.message == "unknown function 5"
    externs = section(4, vec([EXTERNREF + b"\x00\x01"]))
    e = invalid(
        module(*ONE_FUNC, externs, section(9, vec([b"\x00" + OFFSET0 + vec([b"\x00"])])), ONE_BODY)
    )
    assert e.message.startswith("type mismatch")
    e = invalid(module(TABLES, section(9, vec([b"\x05" + FUNCREF + vec([b"\xd0\x6f" + END])]))))
    assert e.message.startswith("type mismatch")


# -- data segments --------------------------------------------------------------------


def test_data_segment_encodings() -> None:
    segments = vec(
        [
            b"\x00" + i32_const(16) + END + name(b"abc"),
            b"\x01" + name(b"\x00\xff"),
            b"\x02\x00" + i32_const(32) + END + name(b""),
        ]
    )
    wasm = module(section(5, vec([b"\x00\x01"])), section(11, segments))
    m = decode_module(wasm)
    active, passive, explicit = m.data
    assert (active.mode, active.data, active.memory_index) == (SegmentMode.ACTIVE, b"abc", 0)
    assert active.offset is not None
    assert active.offset.ops == (ConstOp(ConstOpKind.I32_CONST, 16),)
    assert wasm[active.data_offset : active.data_offset + 3] == b"abc"
    assert (passive.mode, passive.data, passive.offset) == (SegmentMode.PASSIVE, b"\x00\xff", None)
    assert wasm[passive.data_offset : passive.data_offset + 2] == b"\x00\xff"
    assert explicit.mode == SegmentMode.ACTIVE and explicit.data == b""


def test_data_segment_errors() -> None:
    e = malformed(module(section(11, vec([b"\x03"]))))
    assert e.message == "malformed data segment kind"
    e = invalid(module(section(11, vec([b"\x00" + i32_const(0) + END + name(b"")]))))
    assert e.message == "unknown memory 0"
    e = invalid(
        module(
            section(5, vec([b"\x00\x01"])),
            section(11, vec([b"\x02\x01" + i32_const(0) + END + name(b"")])),
        )
    )
    assert e.message == "unknown memory 1"
    e = invalid(
        module(
            section(5, vec([b"\x00\x01"])),
            section(11, vec([b"\x00" + b"\x42\x00" + END + name(b"")])),
        )
    )
    assert e.message.startswith("type mismatch")
    # declared data bytes running past the end of the module
    e = malformed(module(section(5, vec([b"\x00\x01"])), b"\x0b\x06\x01\x01\x04abc"))
    assert e.message == "unexpected end of section or function"
    e = malformed(module(section(5, vec([b"\x00\x01"])), b"\x0b\x06\x01\x01\x05abc"))
    assert e.message == "length out of bounds"


# -- limits ---------------------------------------------------------------------------


def test_limits() -> None:
    e = invalid(module(section(4, vec([FUNCREF + b"\x01\x02\x01"]))))
    assert e.message == "size minimum must not be greater than maximum"
    e = invalid(module(section(5, vec([b"\x01\x02\x01"]))))
    assert e.message == "size minimum must not be greater than maximum"
    e = invalid(module(section(5, vec([b"\x00" + leb(65537)]))))
    assert e.message == "memory size must be at most 65536 pages (4GiB)"
    e = invalid(module(section(5, vec([b"\x01\x00" + leb(65537)]))))
    assert e.message == "memory size must be at most 65536 pages (4GiB)"
    e = invalid(module(section(2, vec([name("a") + name("b") + b"\x02\x00" + leb(70000)]))))
    assert e.message == "memory size must be at most 65536 pages (4GiB)"
    max_memory = module(section(5, vec([b"\x01\x00" + leb(65536)])))
    assert decode_module(max_memory).module.memories == (MemoryType(Limits(0, 65536)),)
    table_max = module(section(4, vec([FUNCREF + b"\x01\x00" + leb(0xFFFF_FFFF)])))
    assert decode_module(table_max).module.tables[0].limits.max == 0xFFFF_FFFF
    # the flag: bit 0 a maximum, bit 1 shared (threads), which needs a maximum
    shared = module(section(5, vec([b"\x03\x01\x02"])))
    assert decode_module(shared).module.memories == (MemoryType(Limits(1, 2), shared=True),)
    e = invalid(module(section(5, vec([b"\x02\x00"]))))
    assert e.message == "shared memory must have maximum"
    for flags in (b"\x02\x00", b"\x03\x01\x02"):  # without threads: Wasm 2.0's 1-bit LEB
        with pytest.raises(MalformedError, match="integer too large"):
            decode_module(module(section(5, vec([flags]))), threads=False)
    # bit 2: 64-bit indices (memory64) and u64 limits; without memory64, Wasm 2.0's LEB
    for flags in (b"\x04\x00", b"\x05\x00\x01"):
        e = malformed(module(section(5, vec([flags]))), memory64=False)
        assert e.message == "integer too large"
        e = malformed(module(section(4, vec([FUNCREF + flags]))), memory64=False)
        assert e.message == "integer too large"
    big = module(section(5, vec([b"\x05\x00" + leb(1 << 48)])))
    assert decode_module(big).module.memories == (MemoryType(Limits(0, 1 << 48), is_64=True),)
    e = invalid(module(section(5, vec([b"\x04" + leb((1 << 48) + 1)]))))
    assert e.message == "memory size must be at most 2**48 pages"
    table64 = module(section(4, vec([FUNCREF + b"\x05\x00" + leb((1 << 64) - 1)])))
    (t,) = decode_module(table64).module.tables
    assert t.is_64 and t.limits.max == (1 << 64) - 1
    shared64 = module(section(5, vec([b"\x07\x01\x02"])))
    assert decode_module(shared64).module.memories == (MemoryType(Limits(1, 2), True, True),)
    e = malformed(module(section(5, vec([b"\x08\x00"]))))
    assert e.message == "integer too large"
    e = malformed(module(section(4, vec([FUNCREF + b"\x02\x00"]))))  # no shared tables
    assert e.message == "integer too large"
    e = malformed(module(section(5, vec([b"\x81\x00\x00"]))))
    assert e.message == "integer representation too long"


def test_multiple_memories_without_multi_memory() -> None:
    two = module(section(5, vec([b"\x00\x01", b"\x00\x01"])))
    with pytest.raises(InvalidError, match="multiple memories"):
        decode_module(two, multi_memory=False)
    assert len(decode_module(two).module.memories) == 2  # Wasm 3.0: allowed
    imported = section(2, vec([name("a") + name("b") + b"\x02\x00\x01"]))
    both = module(imported, section(5, vec([b"\x00\x01"])))
    with pytest.raises(InvalidError, match="multiple memories"):
        decode_module(both, multi_memory=False)
    assert decode_module(both).module.num_imported_memories == 1


# -- module-level validation ----------------------------------------------------------


def test_unknown_type() -> None:
    e = invalid(module(section(1, vec([functype()])), section(3, vec([b"\x01"])), ONE_BODY))
    assert e.message == "unknown type 1"
    e = invalid(module(section(2, vec([name("a") + name("b") + b"\x00\x00"]))))
    assert e.message == "unknown type 0"


def test_start_function() -> None:
    e = invalid(module(*ONE_FUNC, section(8, b"\x01"), ONE_BODY))
    assert e.message == "unknown function 1"
    wasm = module(
        section(1, vec([functype(I32)])),
        section(3, vec([b"\x00"])),
        section(8, b"\x00"),
        section(10, vec([body(END)])),
    )
    assert invalid(wasm).message.startswith("start function")


def test_exports_validation() -> None:
    e = invalid(
        module(
            *ONE_FUNC, section(7, vec([name("a") + b"\x00\x00", name("a") + b"\x00\x00"])), ONE_BODY
        )
    )
    assert e.message == "duplicate export name"
    for kind, what in ((0, "function"), (1, "table"), (2, "memory"), (3, "global")):
        e = invalid(module(section(7, vec([name("x") + bytes([kind]) + b"\x00"]))))
        assert e.message == f"unknown {what} 0"


@pytest.mark.parametrize(
    "init, message",
    [
        (i32_const(0), None),
        (b"\x42\x00", "type mismatch"),
        (b"", "type mismatch"),
        (i32_const(0) + i32_const(1), "type mismatch"),
        (i32_const(0) + b"\x01", "constant expression required"),  # nop
        (i32_const(1) + i32_const(2) + b"\x6a", None),  # i32.add (extended constants)
        (i32_const(1) + b"\x42\x02\x6a", "type mismatch"),  # i32.add of an i64
        (b"\x20\x00", "constant expression required"),  # local.get
        (b"\x23\x00", None),  # the imported immutable global
        (b"\x23\x01", "constant expression required"),  # the imported mutable global
        (b"\x23\x02", "unknown global 2"),  # a defined global
        (b"\xd2\x05", "unknown function 5"),
        (b"\x02\x40" + END + i32_const(0), "constant expression required"),  # block
    ],
)
def test_global_initializers(init: bytes, message: str | None) -> None:
    imports = section(
        2,
        vec(
            [
                name("a") + name("imm") + b"\x03" + I32 + b"\x00",
                name("a") + name("mut") + b"\x03" + I32 + b"\x01",
            ]
        ),
    )
    wasm = module(imports, section(6, vec([I32 + b"\x00" + init + END])))
    if message is None:
        assert len(decode_module(wasm).module.global_inits) == 1
    else:
        assert invalid(wasm).message.startswith(message)


def test_global_initializer_arithmetic_without_extended_constants() -> None:
    """WebAssembly 2.0's rule (``extended_const=False``): no arithmetic in a constant
    expression."""
    init = i32_const(1) + i32_const(2) + b"\x6a"
    wasm = module(section(6, vec([I32 + b"\x00" + init + END])))
    assert len(decode_module(wasm).module.global_inits) == 1
    with pytest.raises(InvalidError, match="^constant expression required"):
        decode_module(wasm, extended_const=False)


def test_validate_false_skips_validation() -> None:
    wasm = module(section(5, vec([b"\x01\x02\x01"])))
    with pytest.raises(InvalidError):
        decode_module(wasm)
    assert decode_module(wasm, validate=False).module.memories[0].limits == Limits(2, 1)
    # malformed modules are still rejected
    with pytest.raises(MalformedError):
        decode_module(b"\0asm", validate=False)


def test_body_validator_is_called() -> None:
    wasm = module(
        section(1, vec([functype(b"", I32)])),
        section(3, vec([b"\x00"])),
        section(10, vec([body(b"\x6a" + END)])),
    )
    assert invalid(wasm).message.startswith("type mismatch")


def test_malformed_wins_over_invalid() -> None:
    # an ill-typed body and a malformed section after it: decoding comes first
    bad_body = module(
        section(1, vec([functype()])),
        section(3, vec([b"\x00"])),
        section(10, vec([body(i32_const(1) + END)])),
    )
    assert malformed(bad_body + b"\x0b\x01").message.startswith("unexpected end")
    # an invalid global and a body with an illegal opcode: the body is malformed
    wasm = module(
        *ONE_FUNC,
        section(6, vec([I32 + b"\x00" + b"\x42\x00" + END])),
        section(10, vec([body(b"\xff" + END)])),
    )
    assert malformed(wasm).message.startswith("illegal opcode")


# -- custom and name sections ---------------------------------------------------------


def test_custom_sections_anywhere() -> None:
    wasm = module(
        custom("first", b"xyz"),
        *ONE_FUNC,
        custom(".debug_info", b"\x01\x02"),
        ONE_BODY,
        custom(".debug_line", b""),
        custom("last", b"payload"),
    )
    m = decode_module(wasm)
    names = [n for n, _, _ in m.custom_sections]
    assert names == ["first", ".debug_info", ".debug_line", "last"]
    for section_name, start, end in m.custom_sections:
        if section_name == "first":
            assert wasm[start:end] == b"xyz"
        if section_name == "last":
            assert wasm[start:end] == b"payload"
    start, end = m.dwarf[".debug_info"]
    assert wasm[start:end] == b"\x01\x02"
    assert set(m.dwarf) == {".debug_info", ".debug_line"}


def test_custom_section_errors() -> None:
    assert malformed(module(b"\x00")).message.startswith("unexpected end")
    assert malformed(module(b"\x00\x00")).message.startswith("unexpected end")
    # the name is longer than the section
    assert malformed(module(b"\x00\x01\x05hello")).message.startswith("unexpected end")
    bad_utf8 = b"\x00\x03\x02\xc0\x80"
    assert malformed(module(bad_utf8)).message == "malformed UTF-8 encoding"


def _name_subsection(sub_id: int, payload: bytes) -> bytes:
    return bytes([sub_id]) + leb(len(payload)) + payload


def test_name_section() -> None:
    names = (
        _name_subsection(0, name("mod"))
        + _name_subsection(1, vec([b"\x00" + name("first"), b"\x01" + name("second")]))
        + _name_subsection(2, vec([b"\x01" + vec([b"\x00" + name("x"), b"\x02" + name("y")])]))
        + _name_subsection(7, vec([b"\x00" + name("ignored")]))
    )
    m = decode_module(module(*TWO_FUNCS, TWO_BODIES, custom("name", names)))
    assert m.names.module == "mod"
    assert m.names.functions == {0: "first", 1: "second"}
    assert m.func_name(1) == "second"
    assert m.names.locals == {1: {0: "x", 2: "y"}}


def test_malformed_name_section_is_tolerated() -> None:
    names = (
        _name_subsection(0, name("mod"))
        # a function-names subsection whose second entry has broken UTF-8
        + _name_subsection(1, vec([b"\x00" + name("ok"), b"\x01" + name(b"\xff")]))
        + _name_subsection(2, vec([b"\x00" + vec([b"\x00" + name("x")])]))
    )
    m = decode_module(module(*TWO_FUNCS, TWO_BODIES, custom("name", names)))
    # names read before the broken entry are kept; reading stops there
    assert m.names.module == "mod"
    assert m.names.functions == {0: "ok"}
    assert m.names.locals == {}
    for garbage in (b"\xff\xff\xff", b"\x01\x50\x00", b"\x00\x02\x05a"):
        m = decode_module(module(*TWO_FUNCS, TWO_BODIES, custom("name", garbage)))
        assert m.names.functions == {}


def test_names_of_missing_functions_are_ignored() -> None:
    names = _name_subsection(1, vec([b"\x00" + name("a"), b"\x07" + name("nope")]))
    m = decode_module(module(*ONE_FUNC, ONE_BODY, custom("name", names)))
    assert m.names.functions == {0: "a"}


# -- whole modules from text ----------------------------------------------------------


def test_module_from_wat() -> None:
    wasm = wat(
        """
        (module $demo
          (import "env" "log" (func $log (param i32)))
          (import "env" "g" (global $g i32))
          (type $t (func (param i32 i32) (result i32)))
          (table 2 funcref)
          (memory (export "mem") 1 2)
          (global $counter (mut i32) (global.get $g))
          (func $add (export "add") (type $t) (local i64 i64 f32)
            local.get 0 local.get 1 i32.add)
          (func $start call $tick)
          (func $tick (global.set $counter (i32.add (global.get $counter) (i32.const 1))))
          (start $start)
          (elem (i32.const 0) $add $tick)
          (elem declare func $log)
          (data (i32.const 8) "hello")
          (data $passive "world"))
        """
    )
    m = decode_module(wasm)
    assert m.names.module == "demo"
    assert m.names.functions == {0: "log", 1: "add", 2: "start", 3: "tick"}
    assert m.module.num_imported_funcs == 1 and len(m.bodies) == 3
    assert m.module.func_type(1) == FuncType((ValType.I32, ValType.I32), (ValType.I32,))
    assert m.bodies[0].locals == ((2, ValType.I64), (1, ValType.F32))
    assert m.module.start == 2
    assert [x.name for x in m.module.exports] == ["mem", "add"]
    assert (
        m.module.elements[0].functions == (1, 3)
        and m.module.elements[1].mode == SegmentMode.DECLARATIVE
    )
    assert [d.data for d in m.data] == [b"hello", b"world"]
    assert m.declared_refs == {0, 1, 3}
    assert m.module.global_inits[0].ops == (ConstOp(ConstOpKind.GLOBAL_GET, 0),)
    for b in m.bodies:
        assert wasm[b.end - 1] == 0x0B


def test_bytes_like_input() -> None:
    wasm = module(*ONE_FUNC, ONE_BODY)
    assert len(decode_module(bytearray(wasm)).bodies) == 1


def test_errors_are_wasm_errors() -> None:
    with pytest.raises(WasmError):
        decode_module(b"junk")


# -- structural instruction decoding --------------------------------------------------

MIXED_WAT = """
(module
  (type $bin (func (param i32 i32) (result i32)))
  (memory 1)
  (table $t 4 funcref)
  (table $e 1 externref)
  (global $g (mut i64) (i64.const 0))
  (elem $seg func $f)
  (data $d "xy")
  (func $f (type $bin) (local f32 f64 v128 externref)
    (drop
      (block $out (result i32)
        (loop $l
          (br_if $l (i32.eqz (local.get 0)))
          (if (result i32) (local.get 1)
            (then (br_table 0 $out 0 (i32.const 7) (i32.const 2)))
            (else (i32.const 3)))
          drop)
        (call_indirect $t (type $bin) (i32.const 1) (i32.const 2) (i32.const 0))))
    (drop (select (i32.const 1) (i32.const 2) (i32.const 0)))
    (drop (select (result f32) (f32.const 1.5) (f32.const 2) (i32.const 1)))
    (i64.store offset=8 align=4 (i32.const 0) (i64.const -1))
    (global.set $g (i64.load32_u (i32.const 4)))
    (local.set 2 (f32.const -0.5))
    (local.set 3 (f64.const 1e300))
    (drop (memory.grow (memory.size)))
    (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1))
    (data.drop $d)
    (memory.copy (i32.const 0) (i32.const 1) (i32.const 1))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 1))
    (table.init $t $seg (i32.const 0) (i32.const 0) (i32.const 1))
    (elem.drop $seg)
    (table.copy $t $t (i32.const 0) (i32.const 1) (i32.const 1))
    (drop (table.grow $e (ref.null extern) (i32.const 1)))
    (drop (table.size $t))
    (table.fill $e (i32.const 0) (local.get 5) (i32.const 1))
    (table.set $e (i32.const 0) (table.get $e (i32.const 0)))
    (drop (ref.is_null (ref.func $f)))
    (drop (i32.trunc_sat_f64_u (local.get 3)))
    (local.set 4 (v128.const i32x4 1 2 3 4))
    (local.set 4 (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get 4) (local.get 4)))
    (drop (i32x4.extract_lane 3 (local.get 4)))
    (local.set 4 (v128.load8_lane 2 (i32.const 0) (local.get 4)))
    (v128.store offset=16 (i32.const 0) (f64x2.promote_low_f32x4 (local.get 4)))
    (local.set 4 (v128.load32_zero (i32.const 0)))
    (drop (i64x2.all_true (i32x4.dot_i16x8_s (local.get 4) (local.get 4))))
    (i32.extend8_s (i32.add (local.get 0) (local.get 1)))))
"""


def test_structural_decoding_steps_over_every_immediate() -> None:
    from cwasm.wasm.instructions import read_instructions
    from cwasm.wasm.reader import BinaryReader

    wasm = wat(MIXED_WAT)
    m = decode_module(wasm)
    (b,) = m.bodies
    r = BinaryReader(wasm, b.code_start, len(wasm))
    assert read_instructions(r) is True  # memory.init and data.drop occur
    assert r.pos == b.end


def test_data_count_section_required() -> None:
    body_ = b"\x41\x00\x41\x00\x41\x00\xfc\x08\x00\x00" + END  # memory.init 0 0
    data = section(11, vec([b"\x01" + name(b"")]))
    common = (
        section(1, vec([functype()])),
        section(3, vec([b"\x00"])),
        section(5, vec([b"\x00\x01"])),
    )
    e = malformed(module(*common, section(10, vec([body(body_)])), data))
    assert e.message == "data count section required"
    decode_module(module(*common, section(12, b"\x01"), section(10, vec([body(body_)])), data))


@pytest.mark.parametrize(
    "init, message",
    [
        (i32_const(0) + b"\x05", "END opcode expected"),  # else outside an if
        (b"\x02\x40\x05" + END, "END opcode expected"),  # else inside a block
        (b"\x06", "illegal opcode 06"),
        (b"\xfc\x12", "illegal opcode fc 12"),
        (b"\x28\x21\x00", "malformed memop flags"),
        (b"\x28\x80\x01\x00\x00", "malformed memop flags"),  # flags past the memory bit
    ],
)
def test_malformed_initializers(init: bytes, message: str) -> None:
    e = malformed(module(section(6, vec([I32 + b"\x00" + init + END]))))
    assert e.message == message
