"""Tests of the shared operator table (cwasm/wasm/operators.py, built in cwasm/wasm/ops/)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cwasm.errors import MalformedError
from cwasm.wasm import operators as ops
from cwasm.wasm.reader import BinaryReader

WASM_TOOLS = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "wasm-tools")
if not Path(WASM_TOOLS).exists():  # pragma: no cover - outside the project venv
    WASM_TOOLS = shutil.which("wasm-tools") or "wasm-tools"

# canonical bytes of some immediates of each kind (the values printed back are not checked)
SAMPLE_IMMEDIATES = {
    ops.IMM_NONE: b"",
    ops.IMM_BLOCKTYPE: b"\x40",
    ops.IMM_LABEL: b"\x00",
    ops.IMM_BR_TABLE: b"\x01\x00\x00",
    ops.IMM_FUNC: b"\x00",
    ops.IMM_CALL_INDIRECT: b"\x00\x00",
    ops.IMM_LOCAL: b"\x00",
    ops.IMM_GLOBAL: b"\x00",
    ops.IMM_TABLE: b"\x00",
    ops.IMM_MEMARG: b"\x00\x00",
    ops.IMM_MEMARG_LANE: b"\x00\x00\x00",
    ops.IMM_LANE: b"\x00",
    ops.IMM_SHUFFLE: bytes(16),
    ops.IMM_I32: b"\x00",
    ops.IMM_I64: b"\x00",
    ops.IMM_F32: bytes(4),
    ops.IMM_F64: bytes(8),
    ops.IMM_V128: bytes(16),
    ops.IMM_SELECT_TYPES: b"\x01\x7f",
    ops.IMM_REFTYPE: b"\x70",
    ops.IMM_MEMORY: b"\x00",
    ops.IMM_MEMORY_INIT: b"\x00\x00",
    ops.IMM_MEMORY_COPY: b"\x00\x00",
    ops.IMM_DATA: b"\x00",
    ops.IMM_ELEM: b"\x00",
    ops.IMM_TABLE_INIT: b"\x00\x00",
    ops.IMM_TABLE_COPY: b"\x00\x00",
    ops.IMM_TYPE: b"\x00",
    ops.IMM_ATOMIC_MEMARG: b"\x02\x00",
    ops.IMM_ATOMIC_FENCE: b"\x00",
    ops.IMM_TAG: b"\x00",
    ops.IMM_TRY_TABLE: b"\x40\x01\x02\x00",  # one catch_all to label 0
    ops.IMM_TYPE_PAIR: b"\x00\x00",
    ops.IMM_HEAPTYPE: b"\x6e",  # any
    ops.IMM_BR_ON_CAST: b"\x03\x00\x6e\x6c",  # nullable any to nullable i31, label 0
}

ALL = [info for info in ops.OPERATORS if info is not None]
_TEXT_NAME = {"select_t": "select", "ref.test_null": "ref.test", "ref.cast_null": "ref.cast"}


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + _uleb(len(payload)) + payload


def test_every_wasm_2_instruction_is_in_the_table() -> None:
    # 0xFD 0..255 minus the 20 unused sub-opcodes; 0xFC 0..17
    simd = sum(1 for i in ALL if i.prefix == 0xFD and i.sub_opcode < 0x100)
    assert simd == 256 - 20
    assert sum(1 for i in ALL if i.prefix == 0xFC) == 18
    assert len(ALL) == len(ops.BY_NAME)
    for name, code in ops.BY_NAME.items():
        info = ops.OPERATORS[code]
        assert info is not None and info.name == name and info.code == code


def test_names_and_encodings_agree_with_wasm_tools() -> None:
    # one function holding every instruction, printed back by wasm-tools
    body = bytearray(b"\x00")  # no locals
    expected: list[str] = []
    for info in ALL:
        if info.name in ("else", "end"):
            continue
        body += info.encoding + SAMPLE_IMMEDIATES[info.imm]
        # the text format names the typed select and the nullable casts as the others
        expected.append(_TEXT_NAME.get(info.name, info.name))
        if info.name in ("block", "loop", "if", "try_table"):
            body += b"\x0b"
            expected.append("end")
    body += b"\x0b"
    module = (
        b"\x00asm\x01\x00\x00\x00"
        + _section(1, b"\x01\x60\x00\x00")
        + _section(3, b"\x01\x00")
        + _section(12, b"\x01")
        + _section(10, b"\x01" + _uleb(len(body)) + bytes(body))
        + _section(11, b"\x01\x01\x00")
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "all.wasm"
        path.write_bytes(module)
        done = subprocess.run([WASM_TOOLS, "print", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    first = next(i for i, line in enumerate(lines) if line.startswith("(func")) + 1
    printed = [line.split()[0] for line in lines[first : first + len(expected)]]
    assert printed == expected


@pytest.mark.parametrize("info", ALL, ids=[i.name for i in ALL])
def test_read_opcode_and_immediates(info: ops.OpInfo) -> None:
    data = info.encoding + SAMPLE_IMMEDIATES[info.imm] + b"\x0b"
    r = BinaryReader(data)
    assert ops.read_opcode(r) == info.code
    ops.read_immediates(r, info.code)
    assert r.pos == len(data) - 1


def test_immediate_values() -> None:
    def read(data: bytes, name: str) -> object:
        r = BinaryReader(bytes(ops.OPERATORS[ops.BY_NAME[name]].encoding) + data)  # type: ignore[union-attr]
        code = ops.read_opcode(r)
        value = ops.read_immediates(r, code)
        assert r.pos == len(r.data)
        return value

    assert read(b"\x7f", "i32.const") == -1
    assert read(b"\x40", "block") == ops.BLOCK_EMPTY
    assert read(b"\x7e", "loop") == -ops.I64
    assert read(b"\x05", "if") == 5
    assert read(b"\x02\x03\x01\x00", "br_table") == ((3, 1), 0)
    assert read(b"\x04\x80\x01", "i64.load") == (4, 128, 0)
    assert read(b"\x44\x02\x80\x01", "i64.load") == (4, 128, 2)  # memory 2
    assert read(b"\x00\x10\x07", "v128.load16_lane") == (0, 16, 7, 0)
    assert read(b"\x00\x00\xc0\x7f", "f32.const") == 0x7FC00000
    assert read(b"\x02\x01", "call_indirect") == (2, 1)
    assert read(b"\x03\x01", "table.init") == (3, 1)
    assert read(b"\x01\x7b", "select_t") == (ops.V128,)
    assert read(b"\x6f", "ref.null") == ops.EXTERNREF
    assert read(b"\x05\x00", "memory.init") == (5, 0)
    assert read(b"\x01", "memory.size") == 1
    assert read(b"\x00\x02", "memory.copy") == (0, 2)


def test_opcode_ids() -> None:
    assert ops.opcode_id(None, 0x6A) == ops.BY_NAME["i32.add"]
    assert ops.opcode_id(0xFC, 10) == ops.BY_NAME["memory.copy"]
    assert ops.opcode_id(0xFD, 0xFF) == ops.BY_NAME["f64x2.convert_low_i32x4_u"]
    info = ops.OPERATORS[ops.BY_NAME["i8x16.shuffle"]]
    assert info is not None and (info.prefix, info.sub_opcode) == (0xFD, 13)
    assert ops.OPERATORS[ops.BY_NAME["f64x2.convert_low_i32x4_u"]].encoding == b"\xfd\xff\x01"  # type: ignore[union-attr]


def test_stack_effects_and_memory_properties() -> None:
    add = ops.OPERATORS[ops.BY_NAME["i64.add"]]
    assert add is not None and (add.params, add.results) == ((ops.I64, ops.I64), (ops.I64,))
    store = ops.OPERATORS[ops.BY_NAME["v128.store32_lane"]]
    assert store is not None
    assert (store.params, store.results, store.align, store.lanes) == (
        (ops.I32, ops.V128),
        (),
        2,
        4,
    )
    assert ops.OPERATORS[ops.BY_NAME["local.get"]].params is None  # type: ignore[union-attr]
    for info in ALL:
        if info.imm in (ops.IMM_MEMARG, ops.IMM_MEMARG_LANE, ops.IMM_ATOMIC_MEMARG):
            assert 0 <= info.align <= 4, info.name
        if info.imm in (ops.IMM_LANE, ops.IMM_MEMARG_LANE):
            assert info.lanes in (2, 4, 8, 16), info.name


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        (b"\x06", "illegal opcode 06", 0),
        (b"\xfc\x12", "illegal opcode fc 12", 0),
        (b"\xfd\x9a\x01", "illegal opcode 9a", 0),  # the spec names no 0xfd prefix
        (b"\xfd\xa0\x02", "illegal opcode 120", 0),  # past relaxed SIMD's 0x100..0x113
        (b"\xfd\x80\x80\x80\x80\x10", "integer too large", 5),
        (b"\x3f\x80\x80\x80\x80\x10", "integer too large", 5),  # memory.size's index
        (b"\x28\x40\x80\x80\x80\x80\x70\x00", "integer too large", 6),  # a memarg's
        (b"\x28\x21\x00", "malformed memop flags", 1),
        (b"\xfd\x54\x80\x01\x00\x00", "malformed memop flags", 3),  # v128.load8_lane
        (b"\x1c\x01\x7a", "malformed reference type", 2),
        (b"\x1c\x01\x80", "integer representation too long", 3),
        (b"\x1c\x03\x7f", "length out of bounds", 1),
        (b"\x0e\x05\x00\x00", "length out of bounds", 1),
        (b"\xd0\x7f", "malformed heap type", 1),  # Wasm 3.0: a heap type, not a byte
        (b"\x02\x50", "malformed reference type", 1),  # a negative s33, no value type
        (b"\x02\xd0\x7f", "integer representation too long", 2),  # a negative 2-byte s33
        (b"\x02\x80\x80", "integer representation too long", 2),  # no s33, no type
        (b"\x41", "unexpected end", 1),
        (b"\xfe\x04", "illegal opcode fe 04", 0),
        (b"\xfe\x03\x01", "zero byte expected", 2),  # atomic.fence's reserved byte
    ],
)
def test_malformed_encodings(data: bytes, message: str, offset: int) -> None:
    r = BinaryReader(data)
    with pytest.raises(MalformedError) as info:
        op = ops.read_opcode(r)
        ops.read_immediates(r, op)
    assert (info.value.message, info.value.offset) == (message, offset)
