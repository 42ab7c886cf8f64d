"""Execute one module on one engine (through ``fuzz.engines``) and describe what happened.

The same code runs for wasmtime-py and for every cwasm configuration:

1. compile (a failure is recorded as ``compile_error``);
2. satisfy every import with a deterministic dummy: a host function appends
   ``[import name, args]`` to the host-call log and returns values derived from a hash
   of its name and arguments; a global holds a value derived from its name; memories
   and tables are created with the imported type (tables null-filled);
3. instantiate (a trap or error is recorded, and nothing is called);
4. call every exported function, in export order, with a few deterministic argument
   sets (zeros, ones, two seeded sets drawn from boundary values such as -1,
   INT_MIN, 0x80000000, ±inf, -0.0 and random NaN-free floats; externref arguments are
   None or a small host object, funcref arguments None); each call records its results
   or its trap (TrapCode name and the ``wasm trap: ...`` message) and its host-call log;
5. record the final state of every exported and imported memory (pages + hash of the
   bytes), global (value) and table (size + each element: null, or which export/import
   the function is, or which host object).

Values are canonical: integers unsigned, floats by bit pattern with every NaN as
``"nan"`` (NaN payloads may legitimately differ between engines; wasm-smith's
``canonicalize_nans`` keeps them out of memory), v128 as 32 hex digits.

Rules for comparison (applied by ``fuzz.compare``):

* a ``call stack exhausted`` trap (STACK_OVERFLOW) on either side makes that call and
  everything after it for this module incomparable — the engines have different stack
  limits — so it is recorded as ``skipped: stack overflow``, not as a mismatch; the final
  state is then not compared either;
* memory.grow may only differ because of resource limits; memories are kept small
  (``max-memory32-bytes``) so that this does not arise, and a difference is a mismatch.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

from fuzz.engines import EngineShim, ExternObj, TrapInfo, f32_bits, f64_bits

_INTS32 = [0, 1, 2, 7, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0xFFFF, 0x10000, 0xFFF0, 100, 0xFFFFFFFE]
_INTS64 = [
    0,
    1,
    0xFFFFFFFFFFFFFFFF,
    0x8000000000000000,
    0x7FFFFFFFFFFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    0x100000000,
    0x10000,
]
_FLOATS = [0.0, -0.0, 1.0, -1.5, 0.5, float("inf"), float("-inf"), 2.0**31, -(2.0**31), 2.0**63]
_FLOATS += [2.0**32, 1e-45, 3.4028234663852886e38, 4294967295.5, -0.75]


def _float_bits(ty: str, v: float) -> int:
    return f32_bits(v) if ty == "f32" else f64_bits(v)


def _random_value(rng: random.Random, ty: str) -> Any:
    if ty == "i32":
        return rng.choice(_INTS32) if rng.random() < 0.6 else rng.getrandbits(32)
    if ty == "i64":
        return rng.choice(_INTS64) if rng.random() < 0.6 else rng.getrandbits(64)
    if ty in ("f32", "f64"):
        if rng.random() < 0.6:
            return _float_bits(ty, rng.choice(_FLOATS))
        bits = 32 if ty == "f32" else 64
        v = rng.getrandbits(bits)
        exp_mask = 0x7F800000 if ty == "f32" else 0x7FF0000000000000
        if v & exp_mask == exp_mask:  # inf/NaN: clear the top exponent bit
            v &= ~(1 << (bits - 2))
        return v
    if ty == "v128":
        return f"{rng.getrandbits(128):032x}"
    if ty == "externref":
        return ExternObj("arg") if rng.random() < 0.5 else None
    return None  # funcref


def _fixed_value(ty: str, one: bool) -> Any:
    if ty in ("i32", "i64"):
        return 1 if one else 0
    if ty in ("f32", "f64"):
        return _float_bits(ty, 1.0 if one else 0.0)
    if ty == "v128":
        return "00000001" * 4 if one else "0" * 32
    if ty == "externref":
        return ExternObj("arg") if one else None
    return None


def arg_sets(params: list[str], func_index: int, seed: int, count: int) -> list[list[Any]]:
    """The deterministic argument sets for one exported function."""
    sets: list[list[Any]] = [[_fixed_value(t, False) for t in params]]
    if count > 1:
        sets.append([_fixed_value(t, True) for t in params])
    for k in range(2, count):
        rng = random.Random(seed * 1_000_003 + func_index * 1009 + k)
        sets.append([_random_value(rng, t) for t in params])
    return sets


def _digest(obj: Any) -> bytes:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).digest()


def host_value(ty: str, h: bytes, i: int) -> Any:
    """A deterministic canonical value of type ``ty`` from hash bytes ``h`` (result ``i``)."""
    word = int.from_bytes(hashlib.sha256(h + bytes([i])).digest()[:16], "little")
    if ty == "i32":
        return word & 0xFFFFFFFF if word & 3 else 0
    if ty == "i64":
        return word & 0xFFFFFFFFFFFFFFFF if word & 3 else 0
    if ty in ("f32", "f64"):
        return _float_bits(ty, ((word % 4001) - 2000) / 8.0)
    if ty == "v128":
        return f"{word:032x}"
    if ty == "externref":
        return ExternObj("host") if word & 1 else None
    return None


class _Tagger:
    """Names references: functions by the export/import they are, objects by their tag."""

    def __init__(self, shim: EngineShim, store: Any) -> None:
        self.shim = shim
        self.store = store
        self.funcs: dict[Any, str] = {}

    def add_func(self, func: Any, name: str) -> None:
        try:
            self.funcs.setdefault(self.shim.func_key(self.store, func), name)
        except Exception:  # noqa: BLE001 - an unidentifiable function stays anonymous
            pass

    def tag(self, ty: str, v: Any) -> Any:
        if ty not in ("externref", "funcref"):
            return v
        if v is None or (hasattr(v, "value") and getattr(v, "value", 0) is None):
            return None
        if ty == "externref":
            return f"extern:{v.tag}" if isinstance(v, ExternObj) else f"extern:?{type(v).__name__}"
        try:
            key = self.shim.func_key(self.store, v)
        except Exception:  # noqa: BLE001
            return "func:?"
        return "func:" + self.funcs.get(key, "?")


def _sig(params: list[str], results: list[str]) -> str:
    return f"({' '.join(params)}) -> ({' '.join(results)})"


def run_module(
    shim: EngineShim, wasm: bytes, *, arg_seed: int = 0, arg_count: int = 4
) -> dict[str, Any]:
    """Run ``wasm`` on ``shim``'s engine as described in the module docstring; a JSON-able record."""
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"engine": shim.name, "status": "ok"}
    try:
        module = shim.compile(wasm)
    except Exception as e:  # noqa: BLE001 - a compile failure is a result
        rec["status"] = "compile_error"
        rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        rec["compile_time"] = time.perf_counter() - t0
        return rec
    t1 = time.perf_counter()
    rec["compile_time"] = t1 - t0
    store = shim.new_store()
    tagger = _Tagger(shim, store)
    log: list[Any] = []
    imports: list[Any] = []
    imported: list[tuple[str, str, Any, Any]] = []  # (name, kind, object, type)
    host_funcs: list[tuple[Any, str]] = []
    rec["imports"] = []
    for mod, name, kind, ty in shim.imports(module):
        full = f"{mod}::{name}"
        if kind == "func":
            params, results = shim.func_sig(ty)
            rec["imports"].append([full, kind, _sig(params, results)])
            obj = shim.host_func(store, ty, _host(full, params, results, log, tagger))
            host_funcs.append((obj, "import:" + full))
        elif kind == "global":
            content, mut = shim.global_sig(ty)
            rec["imports"].append([full, kind, f"{'mut ' if mut else ''}{content}"])
            obj = shim.new_global(store, ty, host_value(content, _digest(full), 0))
        elif kind == "memory":
            rec["imports"].append([full, kind, list(shim.limits(ty))])
            obj = shim.new_memory(store, ty)
        else:
            elem = shim.table_elem(ty)
            rec["imports"].append([full, kind, [elem, *shim.limits(ty)]])
            obj = shim.new_table(store, ty)
        imports.append(obj)
        imported.append(("import:" + full, kind, obj, ty))
    exports = shim.exports(module)
    rec["exports"] = [[name, kind] for name, kind, _ in exports]
    try:
        instance = shim.instantiate(store, module, imports)
    except TrapInfo as t:
        rec["instantiate"] = _trap_record(t, log)
        if t.code == "STACK_OVERFLOW":
            rec["skipped"] = "stack overflow (instantiation)"
        else:
            rec["state"] = _state(shim, store, tagger, imported)
        rec["run_time"] = time.perf_counter() - t1
        return rec
    rec["instantiate"] = {"ok": True, "host_log": list(log)}
    items = shim.export_items(store, instance, [name for name, _, _ in exports])
    for name, kind, _ in exports:
        if kind == "func":
            tagger.add_func(items[name], "export:" + name)
    for obj, name in host_funcs:
        tagger.add_func(obj, name)
    calls: list[dict[str, Any]] = []
    rec["calls"] = calls
    skipped = None
    for fi, (name, kind, ty) in enumerate(exports):
        if kind != "func" or skipped:
            continue
        params, results = shim.func_sig(ty)
        for args in arg_sets(params, fi, arg_seed, arg_count):
            del log[:]
            call: dict[str, Any] = {
                "func": name,
                "args": [tagger.tag(t, a) for t, a in zip(params, args, strict=True)],
            }
            try:
                out = shim.call(store, items[name], params, results, args)
                call["results"] = [tagger.tag(t, v) for t, v in zip(results, out, strict=True)]
            except TrapInfo as t:
                call.update(_trap_record(t, []))
                if t.code == "STACK_OVERFLOW":
                    skipped = f"stack overflow in call {len(calls)} ({name})"
            call["host_log"] = list(log)
            calls.append(call)
            if skipped:
                break
    if skipped:
        rec["skipped"] = skipped
    else:
        exported = [
            ("export:" + name, kind, items[name], ty)
            for name, kind, ty in exports
            if kind != "func"
        ]
        rec["state"] = _state(shim, store, tagger, exported + imported)
    rec["run_time"] = time.perf_counter() - t1
    return rec


def _trap_record(t: TrapInfo, log: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {t.kind: t.code if t.kind == "trap" else True, "message": t.message}
    if log:
        out["host_log"] = list(log)
    return out


def _host(full: str, params: list[str], results: list[str], log: list[Any], tagger: _Tagger) -> Any:
    def fn(args: list[Any]) -> list[Any]:
        tagged = [tagger.tag(t, a) for t, a in zip(params, args, strict=True)]
        log.append([full, tagged])
        h = _digest([full, tagged])
        return [host_value(t, h, i) for i, t in enumerate(results)]

    return fn


def _state(
    shim: EngineShim, store: Any, tagger: _Tagger, items: list[tuple[str, str, Any, Any]]
) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for name, kind, obj, ty in items:
        try:
            if kind == "memory":
                pages, data = shim.memory_state(store, obj)
                state[name] = {"pages": pages, "sha256": hashlib.sha256(data).hexdigest()[:32]}
            elif kind == "global":
                content, _ = shim.global_sig(ty)
                state[name] = tagger.tag(content, shim.global_get(store, obj, content))
            elif kind == "table":
                elem = shim.table_elem(ty)
                elems = shim.table_elements(store, obj)
                state[name] = {"size": len(elems), "elements": [tagger.tag(elem, e) for e in elems]}
        except Exception as e:  # noqa: BLE001 - an unreadable item is recorded as such
            state[name] = {"error": f"{type(e).__name__}: {e}"}
    return state
