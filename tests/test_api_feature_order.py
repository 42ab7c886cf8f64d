"""A module that uses a proposal the engine turns off and is also mistyped gets the
proposal's message when its use comes first, as wasmparser checks a proposal before it
types the instruction (and checks the module's sections before the code): compared with
wasmtime-py 28 for every proposal it can switch off, each used both before and after a
type error."""

from __future__ import annotations

import re

import pytest
import wasmtime

import cwasm

BAD = "(i64.const 0) (i32.eqz) (drop)"  # a type error (i32.eqz of an i64)
V = "(v128.const i64x2 0 0)"
USES: dict[str, tuple[list[str], str, str]] = {
    # proposal: (the settings turned off, module fields, an instruction sequence using it)
    "simd": (["wasm_relaxed_simd", "wasm_simd"], "", f"(drop {V})"),
    "relaxed_simd": (["wasm_relaxed_simd"], "", f"(drop (i8x16.relaxed_swizzle {V} {V}))"),
    "threads": (["wasm_threads"], "(memory 1)", "(atomic.fence)"),
    "bulk_memory": (
        ["wasm_bulk_memory"],
        "(memory 1)",
        "(memory.fill (i32.const 0) (i32.const 0) (i32.const 0))",
    ),
    "reference_types": (["wasm_reference_types"], "", "(drop (ref.null extern))"),
    "tail_call": (["wasm_tail_call"], "", "(return_call 0)"),
}
# proposals found in the module's sections: before any body, whatever the body does
SECTION_USES: dict[str, tuple[list[str], str]] = {
    "threads": (["wasm_threads"], "(memory 1 1 shared)"),
    "multi_memory": (["wasm_multi_memory"], "(memory 1) (memory 1)"),
    # (a block of several results has its type in the type section too)
    "multi_value": (["wasm_multi_value"], "(type (func (result i32 i32)))"),
}


def _error(api: object, off: list[str], wasm: bytes) -> tuple[str, int]:
    """The validation message and its offset, in either engine's layout."""
    config = api.Config()  # type: ignore[attr-defined]
    for setting in off:
        setattr(config, setting, False)
    engine = api.Engine(config)  # type: ignore[attr-defined]
    with pytest.raises(Exception) as info:  # noqa: PT011 - both engines' error classes
        api.Module(engine, wasm)  # type: ignore[attr-defined]
    text = str(info.value)
    ours = re.match(r"(.*) \(at offset (0x[0-9a-f]+)\)$", text.splitlines()[0])
    if api is cwasm:
        assert ours is not None, text
        return ours.group(1), int(ours.group(2), 16)
    theirs = re.search(r"at offset (\d+): (.*)", text)
    assert theirs is not None, text
    return theirs.group(2), int(theirs.group(1))


@pytest.mark.parametrize("proposal", sorted(USES))
@pytest.mark.parametrize("first", ["proposal", "type error"])
def test_the_first_of_a_disabled_proposal_and_a_type_error_is_reported(
    proposal: str, first: str
) -> None:
    off, fields, use = USES[proposal]
    body = f"{use} {BAD}" if first == "proposal" else f"{BAD} {use}"
    wasm = wasmtime.wat2wasm(f"(module {fields} (func {body}))")
    ours, theirs = _error(cwasm, off, wasm), _error(wasmtime, off, wasm)
    assert ours[1] == theirs[1]
    if first == "proposal":
        assert ours[0] == theirs[0]
        assert "enabled" in ours[0]
    else:  # wasmparser's message has the types, the spec's (ours) not
        assert theirs[0].startswith(ours[0]) and ours[0] == "type mismatch"
    # and with the proposal on, the type error is what is wrong
    assert _error(cwasm, [], wasm)[0] == "type mismatch"


@pytest.mark.parametrize("proposal", sorted(SECTION_USES))
def test_a_disabled_proposal_in_the_sections_comes_before_any_body_error(proposal: str) -> None:
    off, fields = SECTION_USES[proposal]
    wasm = wasmtime.wat2wasm(f"(module {fields} (func {BAD}))")
    message, _ = _error(cwasm, off, wasm)
    with pytest.raises(wasmtime.WasmtimeError) as info:
        config = wasmtime.Config()
        for setting in off:
            setattr(config, setting, False)
        wasmtime.Module(wasmtime.Engine(config), wasm)
    # (Wasmtime reports these with the section's offset where cwasm has 0)
    assert f"{message} (at offset" in str(info.value)


# proposals wasmtime-py 28 cannot switch (or has off): the same order, on cwasm alone
CWASM_ONLY: dict[str, tuple[str, str, str]] = {
    "function_references": (
        "wasm_function_references",
        "",
        "(drop (ref.as_non_null (ref.null func)))",
    ),
    "exceptions": ("wasm_exceptions", "", "(try_table)"),
    "tail_call (return_call_ref)": (
        "wasm_tail_call",
        "(type $v (func)) (elem declare func 0)",
        "(return_call_ref $v (ref.func 0))",
    ),
}


@pytest.mark.parametrize("proposal", sorted(CWASM_ONLY))
def test_proposals_wasmtime_py_cannot_switch_off_are_checked_first_too(proposal: str) -> None:
    setting, fields, use = CWASM_ONLY[proposal]
    before = wasmtime.wat2wasm(f"(module {fields} (func {use} {BAD}))")
    after = wasmtime.wat2wasm(f"(module {fields} (func {BAD} {use}))")
    message, at = _error(cwasm, [setting], before)
    assert "enabled" in message or "proposal" in message
    assert _error(cwasm, [setting], after)[0] == "type mismatch"
    # with the proposal on, the type error (which comes after the use) is reported
    mismatch, where = _error(cwasm, [], before)
    assert mismatch == "type mismatch" and where > at
