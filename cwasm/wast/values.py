"""Script values: ``json-from-wast`` arguments to raw bit patterns, and matching of results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cwasm.runtime.anyref import AnyRef

_LANE_BITS = {"i8": 8, "i16": 16, "i32": 32, "i64": 64, "f32": 32, "f64": 64}


@dataclass(frozen=True)
class HostRef:
    """The host reference `(ref.extern N)` of the spec scripts."""

    n: int


#: the result kinds of the ``any`` hierarchy
_ANY_KINDS = frozenset(("anyref", "eqref", "i31ref", "structref", "arrayref", "nullref"))
#: those a non-null ``i31`` matches, and those an externalized host reference matches
_I31_KINDS = frozenset(("anyref", "eqref", "i31ref"))
_HOST_KINDS = frozenset(("anyref",))
#: those a struct and an array match
_STRUCT_KINDS = frozenset(("anyref", "eqref", "structref"))
_ARRAY_KINDS = frozenset(("anyref", "eqref", "arrayref"))


def _lanes_to_int(lane_type: str, lanes: list[str]) -> int:
    bits = _LANE_BITS[lane_type]
    mask = (1 << bits) - 1
    v = 0
    for i, lane in enumerate(lanes):
        v |= (int(lane) & mask) << (i * bits)
    return v


def arg_value(arg: dict[str, Any]) -> Any:
    """Raw value for a call: ints are bit patterns; references are None or objects."""
    t = arg["type"]
    v = arg.get("value")
    if t in ("i32", "i64", "f32", "f64"):
        return int(v) & ((1 << (32 if t in ("i32", "f32") else 64)) - 1)  # type: ignore[arg-type]
    if t == "v128":
        return _lanes_to_int(arg["lane_type"], v)  # type: ignore[arg-type]
    if t in ("externref", "refextern"):
        return None if v == "null" else HostRef(int(v))  # type: ignore[arg-type]
    if t == "anyref":  # ``(ref.host N)`` given as an anyref: its any.convert_extern
        return None if v == "null" else AnyRef.from_extern(HostRef(int(v)))  # type: ignore[arg-type]
    if t in ("funcref", "reffunc"):
        if v == "null":
            return None
        raise ValueError("funcref arguments other than null are not expressible")
    raise ValueError(f"unsupported argument type {t}")


def _float_matches(bits: int, expected: str, width: int) -> bool:
    if width == 32:
        exp_mask, quiet = 0x7F800000, 0x00400000
        sign_clear = 0x7FFFFFFF
    else:
        exp_mask, quiet = 0x7FF0000000000000, 0x0008000000000000
        sign_clear = 0x7FFFFFFFFFFFFFFF
    if expected == "nan:canonical":
        return bits & sign_clear == exp_mask | quiet
    if expected == "nan:arithmetic":
        return bits & (exp_mask | quiet) == exp_mask | quiet
    return bits == int(expected) & ((1 << width) - 1)


def result_matches(expected: dict[str, Any], actual: Any) -> bool:
    """Whether a raw result is the expected one (``nan:canonical``/``nan:arithmetic``
    patterns, v128 lanes, references by kind or host-reference number, or any one of
    an ``either``'s alternatives)."""
    t = expected["type"]
    if t == "either":  # relaxed instructions: any one of the allowed results
        return any(result_matches(alt, actual) for alt in expected["values"])
    v = expected.get("value")
    if t in ("i32", "i64"):
        width = 32 if t == "i32" else 64
        return isinstance(actual, int) and actual == int(v) & ((1 << width) - 1)  # type: ignore[arg-type]
    if t in ("f32", "f64"):
        return isinstance(actual, int) and _float_matches(actual, v, 32 if t == "f32" else 64)  # type: ignore[arg-type]
    if t == "v128":
        if not isinstance(actual, int):
            return False
        lane_type = expected["lane_type"]
        bits = _LANE_BITS[lane_type]
        mask = (1 << bits) - 1
        for i, lane in enumerate(v):  # type: ignore[arg-type]
            got = (actual >> (i * bits)) & mask
            if lane_type in ("f32", "f64"):
                if not _float_matches(got, lane, bits):
                    return False
            elif got != int(lane) & mask:
                return False
        return True
    if t in ("externref", "refextern"):
        if v == "null":
            return actual is None
        if v is None:
            return actual is not None
        return actual == HostRef(int(v))
    if t in ("funcref", "reffunc"):
        if v == "null":
            return actual is None
        return actual is not None
    if t == "refnull":  # ``(ref.null)``: a null of any reference type
        return actual is None
    if t in _ANY_KINDS:
        if v == "null":
            return actual is None
        if not isinstance(actual, AnyRef):
            return False
        if v is not None:  # ``(ref.host N)`` as an anyref
            return (
                not actual.is_i31
                and not actual.is_struct
                and not actual.is_array
                and (actual.host == HostRef(int(v)))
            )
        if actual.is_i31:
            return t in _I31_KINDS
        if actual.is_struct:
            return t in _STRUCT_KINDS
        if actual.is_array:
            return t in _ARRAY_KINDS
        return t in _HOST_KINDS
    raise ValueError(f"unsupported result type {t}")


def describe(value: Any) -> str:
    """A raw result for a failure message: bit patterns in hex."""
    if isinstance(value, int):
        return hex(value)
    return repr(value)


def describe_expected(expected: dict[str, Any]) -> str:
    """An expected result for a failure message, as ``describe`` shows actual ones: ``i32 0x3``,
    ``f32 nan:canonical``, ``v128 i16x8 [1, 2, ...]``, ``externref 1``, ``funcref null``."""
    t = expected["type"]
    if t == "either":
        return "either(" + " | ".join(describe_expected(alt) for alt in expected["values"]) + ")"
    v = expected.get("value")
    if t in ("i32", "i64", "f32", "f64"):
        return f"{t} {v}" if str(v).startswith("nan") else f"{t} {hex(int(v))}"  # type: ignore[arg-type]
    if t == "v128":
        lanes = ", ".join(str(lane) for lane in v)  # type: ignore[union-attr]
        count = 128 // _LANE_BITS[expected["lane_type"]]
        return f"v128 {expected['lane_type']}x{count} [{lanes}]"
    return f"{t} {'(any)' if v is None else v}"
