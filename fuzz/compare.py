"""Compare a cwasm record with wasmtime's record of the same module (see ``fuzz.runner``).

``compare(ref, other)`` returns the list of differences, each a dict with ``kind``
(one of ``KINDS``), ``where`` and the two sides, plus how many calls it compared and
whether the rest was skipped because of a stack overflow (or a GC allocation past
one engine's limits).

Per call, the results or the trap code must agree, then the trap message (cwasm uses
Wasmtime's wording for every trap code, so the ``wasm trap: ...`` lines must be equal),
then the host-call log. Afterwards the final states (memories by pages and hash,
globals, tables) must agree. A compile failure of cwasm on a module wasmtime compiles
is a mismatch (``compile``); a crash or a hang of either side is its own kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "crash",
    "hang",
    "worker_error",
    "compile",
    "signature",
    "instantiate",
    "result",
    "trap_code",
    "trap_message",
    "host_log",
    "memory",
    "global",
    "table",
    "state",
)


@dataclass
class Comparison:
    """The outcome of comparing one configuration's record with the reference."""

    mismatches: list[dict[str, Any]] = field(default_factory=list)
    calls_compared: int = 0
    skipped: str | None = None

    def add(self, kind: str, where: str, expected: Any, actual: Any) -> None:
        """Record one difference."""
        self.mismatches.append(
            {"kind": kind, "where": where, "expected": expected, "actual": actual}
        )


def _outcome(call: dict[str, Any]) -> tuple[str, Any]:
    if "trap" in call:
        return "trap", call["trap"]
    if "error" in call:
        return "error", call.get("message")
    return "results", call.get("results")


def compare(ref: dict[str, Any], other: dict[str, Any]) -> Comparison:
    """Differences between ``other`` (a cwasm configuration) and ``ref`` (wasmtime)."""
    c = Comparison()
    if ref.get("status") == "hang" and _hits_gc_limit(other):
        # Wasmtime 51 fills a 3 GiB array past the timeout where cwasm refuses it
        c.skipped = "GC heap limit (the reference hangs)"
        return c
    for rec, side in ((other, "cwasm"), (ref, "wasmtime")):
        status = rec.get("status")
        if status in ("crash", "hang", "worker_error"):
            detail = {k: v for k, v in rec.items() if k not in ("engine",)}
            c.add(status, side, None, detail)
            return c
    if other.get("status") == "compile_error" or ref.get("status") == "compile_error":
        if other.get("status") != ref.get("status"):
            c.add("compile", "compile", ref.get("error", "ok"), other.get("error", "ok"))
        return c
    if ref.get("imports") != other.get("imports") or ref.get("exports") != other.get("exports"):
        c.add(
            "signature",
            "imports/exports",
            [ref.get("imports"), ref.get("exports")],
            [other.get("imports"), other.get("exports")],
        )
        return c
    ri, oi = ref.get("instantiate", {}), other.get("instantiate", {})
    if "STACK_OVERFLOW" in (ri.get("trap"), oi.get("trap")):  # the stack limits differ
        c.skipped = "stack overflow (instantiation)"
        return c
    if ri != oi and (_gc_limit(ri) or _gc_limit(oi)):  # so do the GC heap limits
        c.skipped = "GC heap limit (instantiation)"
        return c
    if ri != oi:
        kind = "instantiate"
        if "trap" in ri and "trap" in oi and ri["trap"] == oi["trap"]:
            kind = "trap_message" if ri.get("message") != oi.get("message") else "host_log"
        c.add(kind, "instantiation", ri, oi)
    for rec in (ref, other):
        if rec.get("skipped"):
            c.skipped = rec["skipped"]
    rcalls, ocalls = ref.get("calls", []), other.get("calls", [])
    n = min(len(rcalls), len(ocalls))
    for i in range(n):
        rc, oc = rcalls[i], ocalls[i]
        if "STACK_OVERFLOW" in (rc.get("trap"), oc.get("trap")):
            c.skipped = c.skipped or f"stack overflow in call {i}"
            return c
        if _outcome(rc) != _outcome(oc) and (_gc_limit(rc) or _gc_limit(oc)):
            c.skipped = c.skipped or f"GC heap limit in call {i}"
            return c
        where = f"call {i}: {rc.get('func')!r}{tuple(rc.get('args', []))}"
        c.calls_compared += 1
        ro, oo = _outcome(rc), _outcome(oc)
        if ro != oo:
            kind = "trap_code" if "trap" in (ro[0], oo[0]) else "result"
            c.add(kind, where, _brief(rc), _brief(oc))
        elif ro[0] == "trap" and rc.get("message") != oc.get("message"):
            c.add("trap_message", where, rc.get("message"), oc.get("message"))
        if rc.get("host_log") != oc.get("host_log"):
            c.add("host_log", where, rc.get("host_log"), oc.get("host_log"))
    if c.skipped:
        return c
    if len(rcalls) != len(ocalls):
        c.add("result", "number of calls", len(rcalls), len(ocalls))
        return c
    rs, os_ = ref.get("state"), other.get("state")
    if rs != os_:
        rs, os_ = rs or {}, os_ or {}
        for name in sorted(set(rs) | set(os_), key=str):
            if rs.get(name) != os_.get(name):
                c.add(_state_kind(rs.get(name), os_.get(name)), name, rs.get(name), os_.get(name))
    return c


#: how either engine reports a GC allocation past its limits (cwasm's heap limit is 1 GiB
#: and an array at most 2 GiB; Wasmtime 51 allocates a 3 GiB array): a trap or error of
#: such a message makes the rest of the module incomparable, like a stack overflow
_GC_LIMIT_MESSAGES = ("allocation size too large", "GC heap out of memory")


def _gc_limit(outcome: dict[str, Any]) -> bool:
    """Whether an instantiation's or call's record is a failed GC allocation."""
    if outcome.get("trap") == "ALLOCATION_TOO_LARGE":
        return True
    message = str(outcome.get("message", ""))
    return any(m in message for m in _GC_LIMIT_MESSAGES)


def _hits_gc_limit(rec: dict[str, Any]) -> bool:
    """Whether a record's instantiation or one of its calls failed a GC allocation."""
    return any(_gc_limit(o) for o in [rec.get("instantiate", {}), *rec.get("calls", [])])


def _state_kind(a: Any, b: Any) -> str:
    for v in (a, b):
        if isinstance(v, dict) and "pages" in v:
            return "memory"
        if isinstance(v, dict) and "elements" in v:
            return "table"
    if a is None or b is None:
        return "state"
    return "global"


def _brief(call: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in call.items() if k in ("results", "trap", "error", "message")}
