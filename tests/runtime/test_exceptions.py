"""Exception handling (Wasm 3.0) at run time: throw and catch within a function, across
functions and across instances (an imported tag), ``catch_ref`` with ``throw_ref``,
``catch_all``, an uncaught exception reaching Python, host exceptions and traps that
wasm cannot catch, side effects kept, deep unwinding, the API's tags and
``Config.wasm_exceptions``.

wasmtime-py 28 (the reference engine of these tests elsewhere) has no exception
handling, so results are checked against what the spec says the programs compute.
"""

from __future__ import annotations

import pytest

import cwasm

THROWER = """
(module
  (tag $e (export "e") (param i32))
  (tag $other (param i32))
  (memory (export "mem") 1)
  (global $g (export "g") (mut i32) (i32.const 0))
  (func $throw (export "throw") (param i32)
    (i32.store (i32.const 0) (local.get 0))
    (global.set $g (local.get 0))
    (throw $e (local.get 0)))
  (func $down (param i32)
    (if (i32.eqz (local.get 0)) (then (call $throw (i32.const 99))))
    (call $down (i32.sub (local.get 0) (i32.const 1))))
  (func (export "deep") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $down (local.get 0)))
      (i32.const -1)))
  (func (export "deep_uncaught") (param i32) (call $down (local.get 0)))
  (func (export "caught") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $throw (local.get 0)))
      (i32.const -1))
    (i32.add (i32.const 1000)))
  (func (export "same_function") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (throw $e (local.get 0)))
      (i32.const -1)))
  (func (export "other_tag") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $other $h) (call $throw (local.get 0)))
      (i32.const -1)))
  (func (export "rethrow") (param i32) (result i32) (local $exn exnref)
    (block $outer (result i32)
      (try_table (catch $e $outer)
        (block $h (result i32 exnref)
          (try_table (catch_ref $e $h) (call $throw (local.get 0)))
          (unreachable))
        (local.set $exn)
        (drop)
        (throw_ref (local.get $exn)))
      (i32.const -1))
    (i32.add (i32.const 1)))
  (func (export "catch_all") (param i32) (result i32) (local $progress i32)
    (block $h
      (try_table (catch_all $h)
        (local.set $progress (i32.const 1))
        (call $throw (local.get 0))
        (local.set $progress (i32.const 2)))
      (return (i32.const -1)))
    (local.get $progress))
)
"""

CATCHER = """
(module
  (import "m" "e" (tag $e (param i32)))
  (import "m" "throw" (func $throw (param i32)))
  (func (export "catch_imported") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $throw (local.get 0)))
      (i32.const -1)))
)
"""


def _instance(store: cwasm.Store, wat: str, imports: list = ()) -> cwasm.Instance:  # type: ignore[assignment]
    module = cwasm.Module(store.engine, cwasm.wat2wasm(wat))
    return cwasm.Instance(store, module, list(imports))


@pytest.fixture
def thrower() -> tuple[cwasm.Store, cwasm.InstanceExports]:
    store = cwasm.Store()
    return store, _instance(store, THROWER).exports(store)


def test_throw_caught_in_a_caller(thrower) -> None:
    store, x = thrower
    assert x["caught"](store, 7) == 1007
    assert x["same_function"](store, 8) == 8


def test_catch_clause_of_another_tag_lets_it_through(thrower) -> None:
    store, x = thrower
    with pytest.raises(cwasm.ThrownException):
        x["other_tag"](store, 5)


def test_catch_ref_and_throw_ref_rethrow(thrower) -> None:
    store, x = thrower
    assert x["rethrow"](store, 41) == 42


def test_catch_all_keeps_the_locals_set_before_the_throw(thrower) -> None:
    store, x = thrower
    assert x["catch_all"](store, 3) == 1


def test_uncaught_exception_reaches_python_with_its_payload(thrower) -> None:
    store, x = thrower
    with pytest.raises(cwasm.ThrownException) as info:
        x["throw"](store, 123)
    # as newer wasmtime-py: a Trap without a code, caused by "thrown Wasm exception"
    assert isinstance(info.value, cwasm.Trap) and info.value.trap_code is None
    assert info.value.message.endswith("Caused by:\n    thrown Wasm exception")
    assert [f.func_name for f in info.value.frames] == ["throw"]
    assert info.value.payload == (123,)
    assert info.value.tag is x["e"]
    # the store is usable afterwards, and the side effects before the throw are kept
    assert x["mem"].read(store, 0, 1) == bytes([123])
    assert x["g"].value(store) == 123
    assert x["caught"](store, 1) == 1001


def test_unwinding_ten_thousand_frames(thrower) -> None:
    store, x = thrower
    assert x["deep"](store, 10_000) == 99
    with pytest.raises(cwasm.ThrownException):
        x["deep_uncaught"](store, 10_000)
    assert x["deep"](store, 3) == 99


def test_exception_crosses_instances_through_an_imported_tag(thrower) -> None:
    store, x = thrower
    other = _instance(store, CATCHER, [x["e"], x["throw"]]).exports(store)
    assert other["catch_imported"](store, 17) == 17


def test_a_tag_of_another_type_does_not_link(thrower) -> None:
    store, _ = thrower
    tag = cwasm.Tag(store, cwasm.TagType(cwasm.FuncType([cwasm.ValType.i64()], [])))
    module = cwasm.Module(store.engine, cwasm.wat2wasm(CATCHER))
    with pytest.raises(cwasm.WasmtimeError, match="incompatible import type"):
        cwasm.Instance(store, module, [tag, cwasm.Func(store, cwasm.FuncType([], []), print)])


def test_host_tag_identity_and_type() -> None:
    store = cwasm.Store()
    ty = cwasm.TagType(cwasm.FuncType([cwasm.ValType.i32()], []))
    a, b = cwasm.Tag(store, ty), cwasm.Tag(store, ty)
    assert a.eq(store, a) and not a.eq(store, b)
    assert a.type(store).functype.params == [cwasm.ValType.i32()]
    module = cwasm.Module(store.engine, cwasm.wat2wasm(THROWER))
    assert [str(e.type) for e in module.exports if e.name == "e"] == [
        "TagType((func (param i32) (result )))"
    ]


KEPT = """
(module
  (tag $e (param i32))
  (global $kept (mut exnref) (ref.null exn))
  (func $throw (param i32) (throw $e (local.get 0)))
  (func (export "keep") (param i32)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (call $throw (local.get 0)))
      (unreachable))
    (global.set $kept))
  (func (export "churn") (param i32) (result i32) (local $n i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $throw (local.get $n)))
        (i32.const -1))
      (local.set $n (i32.add (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (local.get 0))))
    (local.get $n))
  (func (export "rethrow_kept") (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (throw_ref (global.get $kept)))
      (i32.const -1)))
)
"""


def test_caught_exceptions_are_reclaimed_and_kept_ones_are_not() -> None:
    store = cwasm.Store()
    x = _instance(store, KEPT).exports(store)
    x["keep"](store, 77)
    before = store.exceptions.arena_bytes
    assert x["churn"](store, 100_000) == 100_000
    assert store.exceptions.arena_bytes == before  # thrown and caught in place
    assert x["rethrow_kept"](store) == 77


HOST_AND_TRAP = """
(module
  (import "host" "fail" (func $fail))
  (func (export "host_in_try") (result i32)
    (block $h
      (try_table (catch_all $h) (call $fail))
      (return (i32.const 0)))
    (i32.const 1))
  (func $div (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "trap_in_try") (param i32) (result i32)
    (block $h
      (try_table (result i32) (catch_all $h) (call $div (local.get 0)))
      (return))
    (i32.const -1))
)
"""


def test_host_exception_is_not_caught_by_catch_all() -> None:
    store = cwasm.Store()

    def fail() -> None:
        raise ValueError("from the host")

    host = cwasm.Func(store, cwasm.FuncType([], []), fail)
    x = _instance(store, HOST_AND_TRAP, [host]).exports(store)
    with pytest.raises(ValueError, match="from the host"):
        x["host_in_try"](store)


THROUGH_HOST = """
(module
  (tag $e (export "e") (param i32))
  (import "h" "f" (func $host (param i32)))
  (func (export "throw") (param i32) (throw $e (local.get 0)))
  (func (export "outer") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $host (local.get 0)))
      (i32.const -1)))
)
"""


def test_wasm_exception_through_a_host_function_is_caught_by_the_calling_wasm() -> None:
    """wasm -> host -> wasm throws: the host function lets the ``ThrownException``
    through, and the outer wasm catches the exception (as Wasmtime lets it)."""
    store = cwasm.Store()
    exports: dict[str, cwasm.InstanceExports] = {}
    seen: list[BaseException] = []

    def host(x: int) -> None:
        try:
            exports["x"]["throw"](store, x + 1)
        except cwasm.ThrownException as e:
            seen.append(e)
            raise

    func = cwasm.Func(store, cwasm.FuncType([cwasm.ValType.i32()], []), host)
    exports["x"] = _instance(store, THROUGH_HOST, [func]).exports(store)
    assert exports["x"]["outer"](store, 41) == 42
    assert [e.payload for e in seen] == [(42,)]  # type: ignore[attr-defined]


def test_trap_in_try_table_is_not_caught() -> None:
    store = cwasm.Store()
    host = cwasm.Func(store, cwasm.FuncType([], []), lambda: None)
    x = _instance(store, HOST_AND_TRAP, [host]).exports(store)
    assert x["trap_in_try"](store, 1) == 1
    with pytest.raises(cwasm.Trap, match="integer divide by zero"):
        x["trap_in_try"](store, 0)
    # nothing of the trap stays behind: a later throw still lands where it should
    assert x["host_in_try"](store) == 0


def test_wasm_exceptions_off_refuses_tags_and_instructions() -> None:
    config = cwasm.Config()
    config.wasm_exceptions = False
    engine = cwasm.Engine(config)
    with pytest.raises(cwasm.WasmtimeError, match="exceptions proposal not enabled"):
        cwasm.Module(engine, cwasm.wat2wasm("(module (tag))"))
    body = "(module (func (block $h (try_table (catch_all $h)))))"
    with pytest.raises(cwasm.WasmtimeError, match="exceptions support is not enabled"):
        cwasm.Module(engine, cwasm.wat2wasm(body))
    with pytest.raises(cwasm.WasmtimeError, match="exception refs not supported"):
        cwasm.Module(engine, cwasm.wat2wasm("(module (func (param exnref)))"))


@pytest.mark.parametrize("setting", ["consume_fuel", "epoch_interruption", "opt_level_0", "parts"])
def test_other_compile_settings(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exceptions with fuel and epoch checks, without optimisation, and compiled in
    several parts (the throw routine declared by each part, defined by the last)."""
    config = cwasm.Config()
    if setting == "opt_level_0":
        config.opt_level = 0
    elif setting == "parts":
        from cwasm.compile import compiler

        monkeypatch.setattr(compiler, "PART_MIN_CODE_BYTES", 16)
        config.parallel_compilation = False
    else:
        setattr(config, setting, True)
    store = cwasm.Store(cwasm.Engine(config))
    if setting == "consume_fuel":
        store.set_fuel(10**9)
    if setting == "epoch_interruption":
        store.set_epoch_deadline(10**6)
    x = _instance(store, THROWER).exports(store)
    assert x["caught"](store, 7) == 1007
    assert x["rethrow"](store, 41) == 42
    assert x["catch_all"](store, 3) == 1
    assert x["deep"](store, 1000) == 99
    with pytest.raises(cwasm.ThrownException):
        x["throw"](store, 1)
