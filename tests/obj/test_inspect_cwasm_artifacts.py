"""``inspect_artifact`` on cwasm's own artifacts (built by ``build_artifact`` from known parts).

The code is synthetic x86-64 (so the test needs no compiler); everything inspect
reports is checked against the parts the artifact was built from and against
the WAT source.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

from cwasm.inspect import format_inspection, inspect_artifact
from cwasm.obj.builder import CompiledCode, build_artifact
from cwasm.obj.engine import EngineMetadata
from cwasm.obj.info import CompiledFunctionInfo, FunctionLoc
from cwasm.obj.traps import Trap
from cwasm.wasm import decode_module
from tests.obj.wasmtime_samples import SAMPLES, wasm

# push rbp; mov rbp, rsp; ud2; mov rsp, rbp; pop rbp; ret
BODY = bytes.fromhex("554889e50f0b4889ec5dc3")
TRAP_AT = 4  # the ud2
FUNC_ALIGN = 32
TRAMPOLINES_AT = 0x400
TRAPS = (Trap.IntegerDivisionByZero, Trap.MemoryOutOfBounds, Trap.UnreachableCodeReached)


def _build(name: str) -> tuple[bytes, CompiledCode, Any]:
    translation = decode_module(wasm(name))
    text = bytearray()
    funcs, traps, amap = [], [], []
    for i, body in enumerate(translation.bodies):
        start = len(text)
        text += BODY + bytes(FUNC_ALIGN - len(BODY))
        traps.append((start + TRAP_AT, TRAPS[i % len(TRAPS)]))
        amap += [(start, None), (start + TRAP_AT, body.code_start)]
        tramp = FunctionLoc(TRAMPOLINES_AT + 16 * i, 1)
        funcs.append(CompiledFunctionInfo(body.offset, FunctionLoc(start, len(BODY)), tramp))
    text += bytes(TRAMPOLINES_AT - len(text)) + b"\xc3" * (16 * len(funcs))
    code = CompiledCode(bytes(text), tuple(funcs), (), tuple(traps), tuple(amap))
    data = build_artifact(translation, code, EngineMetadata(target="x86_64-unknown-linux-gnu"))
    return data, code, translation


@pytest.fixture(scope="module", params=["data", "imports", "tables"])
def built(request: pytest.FixtureRequest) -> tuple[str, bytes, CompiledCode, Any, dict[str, Any]]:
    data, code, translation = _build(request.param)
    return request.param, data, code, translation, inspect_artifact(data, disassemble=True)


def test_producer_engine_and_checksum(built: Any) -> None:
    _, _, _, _, d = built
    assert d["producer"] == "cwasm"
    assert d["engine"]["version"] == "cwasm-format-6"
    assert d["engine"]["target"] == "x86_64-unknown-linux-gnu"
    assert d["engine"]["producer"] == "cwasm"
    assert d["checksum"]["valid"] is True
    assert d["errors"] == []
    assert ".cwasm.checksum" in [s["name"] for s in d["sections"]]


def test_functions_traps_and_address_map(built: Any) -> None:
    name, _, code, translation, d = built
    n_imp = translation.module.num_imported_funcs
    assert [(f["text"]["start"], f["text"]["length"]) for f in d["functions"]] == [
        (f.wasm_func_loc.start, f.wasm_func_loc.length) for f in code.funcs
    ]
    assert [f["start_srcloc"] for f in d["functions"]] == [b.offset for b in translation.bodies]
    assert [f["name"] for f in d["functions"]] == [
        SAMPLES[name].func_names.get(n_imp + i) for i in range(len(code.funcs))
    ]
    assert [(t["text_offset"], t["trap"]) for t in d["traps"]] == [
        (off, trap.name) for off, trap in code.traps
    ]
    for t, body in zip(d["traps"], translation.bodies, strict=True):
        assert t["wasm_offset"] == body.code_start
        assert t["function_offset"] == TRAP_AT
    assert [(e["text_offset"], e["wasm_offset"]) for e in d["address_map"]] == list(
        code.address_map
    )
    listing = {f["name"]: f for f in d["disassembly"]["functions"]}
    for t in d["traps"]:
        (insn,) = [
            i for i in listing[t["function"]]["instructions"] if i["address"] == t["text_offset"]
        ]
        assert insn["mnemonic"] == "ud2" and insn["trap"] == t["trap"]


def test_module_and_data_match_the_source(built: Any) -> None:
    name, data, _, _, d = built
    src = SAMPLES[name]
    m = d["module"]
    assert [(e["name"], e["kind"]) for e in m["exports"]] == src.exports
    assert [(i["module"], i["field"], i["kind"]) for i in m["imports"]] == src.imports
    assert [(x["min"], x["max"]) for x in m["memories"]] == src.memories
    assert [(t["min"], t["max"], t["element"]) for t in m["tables"]] == src.tables
    assert [(g["type"], g["mutable"]) for g in m["globals"]] == src.globals
    assert {n["func_index"]: n["name"] for n in d["names"]["func_names"]} == src.func_names
    sec = ELFFile(io.BytesIO(data)).get_section_by_name(".rodata.wasm")
    rodata = bytes(sec.data())
    passive = [rodata[p["data"]["start"] : p["data"]["end"]] for p in d["passive_data"]]
    assert passive == src.passive_data
    init = d["memory_initialization"]
    if name == "imports":
        assert init["kind"] == "Segmented"
        assert [s["offset"] for s in init["entries"]] == ["i32.const 8", "global.get 0"]
    for offset, content in src.active_data:
        (image,) = init["entries"]
        at = image["data"]["start"] + offset - image["memory_offset"]
        assert rodata[at : at + len(content)] == content


def test_checksum_mismatch_is_reported() -> None:
    data, _, _ = _build("data")
    raw = bytearray(data)
    text = ELFFile(io.BytesIO(data)).get_section_by_name(".text")
    raw[text["sh_offset"] + text["sh_size"] - 1] ^= 0xFF  # padding byte: nothing else changes
    d = inspect_artifact(bytes(raw))
    assert d["checksum"]["valid"] is False
    assert any(".cwasm.checksum" in e for e in d["errors"])
    assert "MISMATCH" in format_inspection(d)


def test_aarch64_artifact_is_disassembled() -> None:
    pytest.importorskip("capstone")
    translation = decode_module(wasm("data"))
    # sdiv w0, w0, w1; udf #0; ret  (little-endian words)
    body = bytes.fromhex("000cc11a00000000c0035fd6")
    text, funcs, traps = bytearray(), [], []
    for b in translation.bodies:
        start = len(text)
        text += body + bytes(FUNC_ALIGN - len(body))
        traps.append((start + 4, Trap.IntegerDivisionByZero))
        funcs.append(CompiledFunctionInfo(b.offset, FunctionLoc(start, len(body)), None))
    code = CompiledCode(bytes(text), tuple(funcs), (), tuple(traps), ())
    meta = EngineMetadata(target="aarch64-unknown-linux-gnu")
    d = inspect_artifact(build_artifact(translation, code, meta), disassemble=True)
    assert d["header"]["machine"] == "aarch64"
    assert d["disassembly"]["error"] is None
    for f in d["disassembly"]["functions"]:
        assert [i["mnemonic"] for i in f["instructions"]] == ["sdiv", "udf", "ret"]
        assert f["instructions"][1]["trap"] == "IntegerDivisionByZero"
