"""Host functions as funcrefs of any signature: in tables (``Table``, ``set``, ``grow``) and
as ``Val.funcref`` arguments, called through ``call_indirect``.

Each case runs under cwasm and wasmtime-py 28 in the same test and must give the same
answers (wasmtime-py 28 has no v128 values: that case is checked against Python's own
arithmetic). A host function needs no module of its signature to exist when it becomes
a funcref; the store fills its ``VMFuncRef`` from the first module with the signature
(``cwasm.runtime.module_registry``). The use-after-free of issue 11 (a trampoline address
kept after its module was dropped) is replayed 1,000 times in a subprocess, so a crash
fails the test instead of the run.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import cwasm.api
from cwasm.errors import CwasmError
from cwasm.runtime.registry import CODE
from tests.runtime.wat import wat

APIS = ("cwasm", "wasmtime")
_ENGINES: dict[str, Any] = {}
_MODULES: dict[tuple[str, str], Any] = {}


def _api(name: str) -> Any:
    return cwasm.api if name == "cwasm" else wasmtime


def _engine(name: str) -> Any:
    if name not in _ENGINES:
        _ENGINES[name] = _api(name).Engine()
    return _ENGINES[name]


def _module(name: str, text: str) -> Any:
    """``text`` compiled once per API."""
    key = (name, text)
    if key not in _MODULES:
        _MODULES[key] = _api(name).Module(_engine(name), wat(text))
    return _MODULES[key]


@dataclass(frozen=True)
class Sig:
    """A signature, a host function of it and the arguments to call it with."""

    name: str
    params: tuple[str, ...]
    results: tuple[str, ...]
    host: Callable[..., Any]
    args: tuple[Any, ...]

    def func_type(self, api: Any) -> Any:
        v = api.ValType
        return api.FuncType(
            [getattr(v, p)() for p in self.params], [getattr(v, r)() for r in self.results]
        )

    @property
    def wat_type(self) -> str:
        params = f" (param {' '.join(self.params)})" if self.params else ""
        results = f" (result {' '.join(self.results)})" if self.results else ""
        return f"(func{params}{results})"

    def caller(self, table: str) -> str:
        """A module whose ``call`` passes its arguments to table element ``[last argument]``
        through ``call_indirect``; ``table`` declares (or imports) table 0."""
        n = len(self.params)
        gets = " ".join(f"local.get {i}" for i in range(n + 1))
        return f"""
        (module
          (type $t {self.wat_type})
          {table}
          (func (export "call") (param {" ".join(self.params)} i32) {self._result}
            {gets} call_indirect (type $t)))"""

    def applier(self) -> str:
        """A module whose ``apply`` stores its funcref argument in its table, then calls it."""
        n = len(self.params)
        gets = " ".join(f"local.get {i + 1}" for i in range(n))
        return f"""
        (module
          (type $t {self.wat_type})
          (table $tab 1 funcref)
          (func (export "apply") (param funcref {" ".join(self.params)}) {self._result}
            (table.set $tab (i32.const 0) (local.get 0))
            {gets} i32.const 0 call_indirect (type $t)))"""

    @property
    def _result(self) -> str:
        return f"(result {' '.join(self.results)})" if self.results else ""


class Marker:
    """An externref payload whose identity the results are checked by."""


MARKER = Marker()
LOG: list[Any] = []


def _log_call() -> None:
    LOG.append("called")


SIGS = [
    Sig("nullary", (), (), _log_call, ()),
    Sig("i32_i64", ("i32", "i64"), ("i64",), lambda a, b: a * b, (-3, 1 << 40)),
    Sig(
        "floats_multi_value",
        ("f32", "f64"),
        ("f64", "f32", "i32"),
        lambda x, y: (x + y, x * 2, 5),
        (1.5, 2.25),
    ),
    Sig(
        "externref",
        ("externref", "i32"),
        ("externref", "i32"),
        lambda o, n: (o, n + (o is MARKER)),
        (MARKER, 41),
    ),
    Sig(
        "many",
        ("i64", "f64", "i32", "f32", "i64", "i32"),
        ("i64", "f64"),
        lambda a, b, c, d, e, f: (a + c + e + f, b * d),
        (1 << 50, 0.5, -7, 4.0, -(1 << 60), 3),
    ),
]
IDS = [s.name for s in SIGS]


def _plain(result: Any) -> Any:
    """A call's result with externrefs replaced by whether they are ``MARKER``."""
    if isinstance(result, (list, tuple)):
        return [_plain(r) for r in result]
    if isinstance(result, Marker):
        return "MARKER"
    return result


def _both(run: Callable[[str], Any]) -> Any:
    """``run`` under each API; the answers must agree."""
    answers = {}
    for name in APIS:
        LOG.clear()
        answers[name] = (run(name), list(LOG))
    assert answers["cwasm"] == answers["wasmtime"]
    return answers["cwasm"]


def _funcref_table(api: Any, store: Any, size: int, init: Any) -> Any:
    """A host-created funcref table of ``size`` elements set to ``init``."""
    return api.Table(store, api.TableType(api.ValType.funcref(), api.Limits(size, None)), init)


@pytest.mark.parametrize("sig", SIGS, ids=IDS)
def test_table_created_with_a_host_function_before_any_module(sig: Sig) -> None:
    def run(name: str) -> Any:
        api = _api(name)
        store = api.Store(_engine(name))
        f = api.Func(store, sig.func_type(api), sig.host)
        table = _funcref_table(api, store, 2, f)
        module = _module(name, sig.caller('(import "" "t" (table 2 funcref))'))
        call = api.Instance(store, module, [table]).exports(store)["call"]
        return [_plain(call(store, *sig.args, i)) for i in (0, 1)]

    assert _both(run)[0] == [_plain(sig.host(*sig.args))] * 2


@pytest.mark.parametrize("sig", SIGS, ids=IDS)
def test_table_set_and_grow_with_host_functions(sig: Sig) -> None:
    def run(name: str) -> Any:
        api = _api(name)
        store = api.Store(_engine(name))
        module = _module(name, sig.caller('(table (export "t") 1 funcref)'))
        ex = api.Instance(store, module, []).exports(store)
        table, call = ex["t"], ex["call"]
        table.set(store, 0, api.Func(store, sig.func_type(api), sig.host))
        old = table.grow(store, 2, api.Func(store, sig.func_type(api), sig.host))
        return old, table.size(store), [_plain(call(store, *sig.args, i)) for i in range(3)]

    assert _both(run)[0][2] == [_plain(sig.host(*sig.args))] * 3


@pytest.mark.parametrize("sig", SIGS, ids=IDS)
def test_host_function_passed_to_wasm_as_a_funcref(sig: Sig) -> None:
    def run(name: str) -> Any:
        api = _api(name)
        store = api.Store(_engine(name))
        f = api.Func(store, sig.func_type(api), sig.host)
        apply = api.Instance(store, _module(name, sig.applier()), []).exports(store)["apply"]
        return _plain(apply(store, api.Val.funcref(f), *sig.args))

    assert _both(run)[0] == _plain(sig.host(*sig.args))


SIG = SIGS[1]  # i32 i64 -> i64
OTHER = """
(module
  (type (func (param f64) (result f64)))
  (func (export "one") (result i32) i32.const 1))
"""


def test_signature_only_in_a_module_instantiated_later() -> None:
    def run(name: str) -> Any:
        api = _api(name)
        store = api.Store(_engine(name))
        f = api.Func(store, SIG.func_type(api), SIG.host)
        table = _funcref_table(api, store, 2, None)
        table.set(store, 1, f)
        one = api.Instance(store, _module(name, OTHER), []).exports(store)["one"](store)
        module = _module(name, SIG.caller('(import "" "t" (table 2 funcref))'))
        call = api.Instance(store, module, [table]).exports(store)["call"]
        return one, call(store, *SIG.args, 1)

    assert _both(run)[0] == (1, -3 << 40)


def test_the_store_fills_a_host_funcref_when_its_signature_arrives() -> None:
    store = cwasm.api.Store(_engine("cwasm"))
    f = cwasm.api.Func(store, SIG.func_type(cwasm.api), SIG.host)
    address = store.refs.funcref_to_bits(f)
    assert f.vmfuncref()[0] == 0 and store.modules.wasm_to_array_trampoline(f.type_id) is None
    cwasm.api.Instance(store, _module("cwasm", OTHER), [])
    assert f.vmfuncref()[0] == 0  # OTHER has no (i32 i64) -> i64
    caller = _module("cwasm", SIG.caller("(table 1 funcref)"))
    cwasm.api.Instance(store, caller, [])
    wasm_call = f.vmfuncref()[0]
    assert wasm_call == store.modules.wasm_to_array_trampoline(f.type_id)
    assert wasm_call == caller.compiled.wasm_to_array[f.type_id]
    assert store.refs.funcref_to_bits(f) == address


def test_v128_host_function_through_call_indirect() -> None:
    api = cwasm.api
    store = api.Store(_engine("cwasm"))
    v128 = api.ValType.v128()
    swap = api.Func(
        store, api.FuncType([v128], [v128]), lambda v: (v >> 64) | (v << 64) & (2**128 - 1)
    )
    table = _funcref_table(api, store, 1, swap)
    module = _module(
        "cwasm",
        """
        (module
          (type $t (func (param v128) (result v128)))
          (import "" "t" (table 1 funcref))
          (func (export "go") (param i64 i64) (result i64 i64)
            (local v128)
            (local.set 2 (call_indirect (type $t)
              (i64x2.replace_lane 1 (i64x2.splat (local.get 0)) (local.get 1)) (i32.const 0)))
            (i64x2.extract_lane 0 (local.get 2)) (i64x2.extract_lane 1 (local.get 2))))""",
    )
    go = api.Instance(store, module, [table]).exports(store)["go"]
    assert go(store, 1, 2) == [2, 1]


RAISER = """
(module
  (type $t (func (param i32) (result i32)))
  (import "" "f" (func $f (type $t)))
  (import "" "t" (table 1 funcref))
  (func (export "direct") (param i32) (result i32) (call $f (local.get 0)))
  (func (export "indirect") (param i32) (result i32)
    (call_indirect (type $t) (local.get 0) (i32.const 0))))
"""


def _raise_on_zero(x: int) -> int:
    if x == 0:
        raise ValueError("host says no")
    return x * 10


def test_host_exceptions_propagate_through_call_indirect_as_through_imports() -> None:
    def run(name: str) -> Any:
        api = _api(name)
        store = api.Store(_engine(name))
        ty = api.FuncType([api.ValType.i32()], [api.ValType.i32()])
        imported = api.Func(store, ty, _raise_on_zero)
        table = _funcref_table(api, store, 1, api.Func(store, ty, _raise_on_zero))
        ex = api.Instance(store, _module(name, RAISER), [imported, table]).exports(store)
        seen = []
        for export in ("direct", "indirect"):
            with pytest.raises(ValueError) as info:
                ex[export](store, 0)
            seen.append((type(info.value).__name__, str(info.value)))
            seen.append(ex[export](store, 4))  # the store still works
        return seen

    seen = _both(run)[0]
    assert seen[0] == seen[2] == ("ValueError", "host says no")
    assert seen[1] == seen[3] == 40


def test_host_traps_propagate_through_call_indirect_as_through_imports() -> None:
    def run(name: str) -> Any:
        api = _api(name)
        store = api.Store(_engine(name))
        ty = api.FuncType([api.ValType.i32()], [api.ValType.i32()])

        def trap(x: int) -> int:
            raise api.Trap(f"trap {x}")

        table = _funcref_table(api, store, 1, api.Func(store, ty, trap))
        ex = api.Instance(store, _module(name, RAISER), [api.Func(store, ty, trap), table]).exports(
            store
        )
        out = []
        for export in ("direct", "indirect"):
            with pytest.raises(api.Trap) as info:
                ex[export](store, 3)
            out.append(info.value.message.splitlines()[0])
        return out

    def run_each(name: str) -> Any:
        direct, indirect = run(name)
        assert direct == indirect
        return direct.endswith("trap 3")

    # cwasm prefixes the message of a Trap raised by a host function with "wasm trap: "
    assert _both(run_each)[0] is True


# --- lifetimes ---


def test_a_store_keeps_its_modules_alive() -> None:
    api = cwasm.api
    engine = api.Engine()
    store = api.Store(engine)
    module = api.Module(engine, wat(OTHER))
    api.Instance(store, module, [])
    compiled = weakref.ref(module.compiled)
    base = module.compiled.code.base
    del module
    gc.collect()
    assert compiled() is not None and compiled() in store.modules
    assert CODE.at(base) is compiled()
    del store
    gc.collect()
    assert compiled() is None and CODE.at(base) is None


def test_an_artifact_without_every_trampoline_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from cwasm.compile import compiler

    every_type = compiler.trampoline_types

    def imported_only(m: Any) -> Any:  # what cwasm compiled before: imported types only
        imported = m.functions[: m.num_imported_funcs]
        return [(ti, ft) for ti, ft in every_type(m) if ti in imported]

    monkeypatch.setattr(compiler, "trampoline_types", imported_only)
    with pytest.raises(CwasmError, match=r"no wasm-to-array trampoline for type 0 \(.*compile"):
        cwasm.api.Module(cwasm.api.Engine(), wat(OTHER))


IMPORTER = """
(module
  (import "" "f" (func $f (param i32) (result i32)))
  (func (export "call") (param i32) (result i32) (call $f (local.get 0))))
"""
FILLER = """
(module
  (func (export "spin") (param i32) (result i32)
    (loop (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if 0 (local.get 0)))
    (local.get 0)))
"""
CALLER = """
(module
  (type $t (func (param i32) (result i32)))
  (import "" "t" (table 1 funcref))
  (func (export "call") (param i32) (result i32) (call_indirect (type $t) (local.get 0) (i32.const 0))))
"""
# every iteration: a module importing the signature is instantiated and dropped, other
# modules are mapped and dropped, then a host function of that signature is called
# through call_indirect from a module that does not import it
DROPPED_MODULES = """
import gc, sys
api = __import__(sys.argv[1]) if sys.argv[1] == "wasmtime" else __import__("cwasm.api").api
importer, filler, caller = (open(p, "rb").read() for p in sys.argv[2:5])
engine = api.Engine()
importer, filler, caller = (api.Module(engine, w).serialize() for w in (importer, filler, caller))
ft = api.FuncType([api.ValType.i32()], [api.ValType.i32()])
for i in range({n}):
    store = api.Store(engine)
    inst = api.Instance(store, api.Module.deserialize(engine, importer), [api.Func(store, ft, lambda x: x + 1)])
    assert inst.exports(store)["call"](store, i) == i + 1
    del store, inst
    gc.collect()
    store = api.Store(engine)
    f = api.Func(store, ft, lambda x: 2 * x)
    table = api.Table(store, api.TableType(api.ValType.funcref(), api.Limits(1, None)), f)
    for _ in range(2):
        spin = api.Instance(store, api.Module.deserialize(engine, filler), []).exports(store)["spin"]
        assert spin(store, 3) == 0
    fillers = [api.Module.deserialize(engine, filler) for _ in range(3)]
    call = api.Instance(store, api.Module.deserialize(engine, caller), [table]).exports(store)["call"]
    assert call(store, i) == 2 * i, (i, call(store, i))
    del store, f, table, spin, fillers, call
    gc.collect()
print("ok", {n})
"""


@pytest.mark.parametrize("name", APIS)
def test_host_funcref_after_its_signatures_module_was_dropped_1000_times(
    name: str, tmp_path: Path
) -> None:
    paths = []
    for label, text in (("importer", IMPORTER), ("filler", FILLER), ("caller", CALLER)):
        path = tmp_path / f"{label}.wasm"
        path.write_bytes(wat(text))
        paths.append(str(path))
    script = textwrap.dedent(DROPPED_MODULES.format(n=1000))
    proc = subprocess.run(
        [sys.executable, "-c", script, name, *paths], capture_output=True, text=True, timeout=600
    )
    assert (proc.returncode, proc.stdout) == (0, "ok 1000\n"), proc.stderr[-2000:]
