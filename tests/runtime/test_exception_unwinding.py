"""Exceptions carried by the system unwinder (docs/exceptions.md): a throw crosses many
wasm frames and instances to the landing pad of an outer ``try_table``; ``catch_ref`` /
``catch_all_ref`` hand out an ``exnref`` that ``throw_ref`` throws on; an uncaught
exception reaches Python through the entry trampoline's landing pad; traps are not
caught; wasm -> host -> wasm throws nest; locals set in a body are seen by its catch;
and a ``try_table`` around a call no longer costs stack.

wasmtime-py 28 has no exception handling: results are what the spec says the programs
compute.
"""

from __future__ import annotations

import pytest

import cwasm

#: ``down(n, v)`` recurses n frames deep, then throws $e(v)
THROWER = """
(module
  (tag $e (export "e") (param i32))
  (func $down (export "down") (param i32 i32)
    (if (i32.eqz (local.get 0)) (then (throw $e (local.get 1))))
    (call $down (i32.sub (local.get 0) (i32.const 1)) (local.get 1)))
  (func (export "trap_down") (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (unreachable)))
    (i32.add (i32.const 1)
      (call 1 (i32.sub (local.get 0) (i32.const 1)))))
)
"""

#: imports THROWER's tag and functions; its functions recurse before calling them
CATCHER = """
(module
  (import "t" "e" (tag $e (param i32)))
  (import "t" "down" (func $down (param i32 i32)))
  (import "t" "trap_down" (func $trap_down (param i32) (result i32)))
  (func $via (param i32 i32)
    (if (i32.eqz (local.get 0))
      (then (call $down (local.get 1) (i32.const 7)) (return)))
    (call $via (i32.sub (local.get 0) (i32.const 1)) (local.get 1)))
  ;; caught by a catch clause N + M frames and one instance down
  (func (export "catch") (param i32 i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $via (local.get 0) (local.get 1)))
      (i32.const -1)))
  ;; catch_ref, then throw_ref from an inner try_table to an outer one in this frame
  (func (export "catch_ref") (param i32 i32) (result i32)
    (block $outer (result i32)
      (try_table (catch $e $outer)
        (block $h (result i32 exnref)
          (try_table (catch_ref $e $h) (call $via (local.get 0) (local.get 1)))
          (unreachable))
        (throw_ref)
        (drop))
      (i32.const -1))
    (i32.add (i32.const 100)))
  ;; catch_all_ref in a callee, rethrown through the frames above to this one
  (func $rethrower (param i32 i32)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (call $via (local.get 0) (local.get 1)))
      (return))
    (throw_ref))
  (func (export "catch_all_ref") (param i32 i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $rethrower (local.get 0) (local.get 1)))
      (i32.const -1))
    (i32.add (i32.const 1000)))
  (func (export "uncaught") (param i32 i32) (call $via (local.get 0) (local.get 1)))
  (func (export "trap") (param i32) (result i32)
    (block $h
      (try_table (result i32) (catch_all $h) (call $trap_down (local.get 0)))
      (return))
    (i32.const -1))
  ;; locals of every type, set in nested bodies before the throw, read in the catch
  (func (export "locals") (param i32) (result f64)
    (local $a i32) (local $b i64) (local $c f32) (local $d f64) (local $n i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (local.set $a (i32.const 3))
        (loop $l
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $n) (local.get 0))))
        (block $inner
          (try_table (catch_all $inner)
            (local.set $b (i64.const 40))
            (local.set $c (f32.const 0.5))
            (call $down (i32.const 2) (i32.const 1000))))
        (local.set $d (f64.const 0.25))
        (call $down (i32.const 3) (i32.const 20000)))
      (i32.const -1))
    (f64.convert_i32_s)
    (f64.add (f64.convert_i32_s (local.get $a)))
    (f64.add (f64.convert_i64_s (local.get $b)))
    (f64.add (f64.promote_f32 (local.get $c)))
    (f64.add (local.get $d))
    (f64.add (f64.convert_i32_s (local.get $n))))
)
"""


@pytest.fixture
def linked() -> tuple[cwasm.Store, cwasm.InstanceExports, cwasm.InstanceExports]:
    store = cwasm.Store()
    engine = store.engine
    t = cwasm.Instance(store, cwasm.Module(engine, THROWER), []).exports(store)
    imports = [t["e"], t["down"], t["trap_down"]]
    c = cwasm.Instance(store, cwasm.Module(engine, CATCHER), imports).exports(store)
    return store, t, c


@pytest.mark.parametrize(("via", "down"), [(0, 0), (1, 1), (50, 200), (3000, 3000)])
def test_a_throw_crosses_frames_and_instances_to_an_outer_try_table(linked, via, down) -> None:
    store, _, c = linked
    assert c["catch"](store, via, down) == 7
    assert c["catch_ref"](store, via, down) == 107
    assert c["catch_all_ref"](store, via, down) == 1007


def test_an_uncaught_throw_reaches_python_with_its_frames(linked) -> None:
    store, t, c = linked
    with pytest.raises(cwasm.ThrownException) as info:
        c["uncaught"](store, 2, 3)
    assert info.value.payload == (7,)
    assert info.value.tag is t["e"]
    names = [f.func_name for f in info.value.frames]
    # the thrower's four frames, then the catcher's (the module has no names for them)
    assert names[:4] == ["down"] * 4 and len(names) == 4 + 3 + 1
    # the store is usable afterwards: the next throw is caught
    assert c["catch"](store, 2, 3) == 7


def test_a_trap_inside_a_try_table_is_not_caught(linked) -> None:
    store, _, c = linked
    for depth in (0, 40):
        with pytest.raises(cwasm.Trap, match="unreachable") as info:
            c["trap"](store, depth)
        assert not isinstance(info.value, cwasm.ThrownException)
    # nothing of the trap is left behind: throws are still caught where they should be
    assert c["catch_all_ref"](store, 5, 5) == 1007
    with pytest.raises(cwasm.ThrownException):
        c["uncaught"](store, 1, 1)


def test_locals_set_in_a_try_body_are_seen_by_its_catch(linked) -> None:
    store, _, c = linked
    # payload 20000 + a 3 + b 40 + c 0.5 + d 0.25 + n
    assert c["locals"](store, 5) == 20000 + 3 + 40 + 0.5 + 0.25 + 5
    assert c["locals"](store, 1) == 20000 + 3 + 40 + 0.5 + 0.25 + 1


NESTED_HOST = """
(module
  (import "t" "e" (tag $e (param i32)))
  (import "h" "host" (func $host (param i32) (result i32)))
  (func $deep (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (call $host (i32.const 5)))
      (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))
  (func (export "outer") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (call $deep (local.get 0))))
    (i32.add (i32.const 500)))
  (func (export "bare") (param i32) (result i32) (call $deep (local.get 0)))
)
"""


def test_wasm_to_host_to_wasm_throws_nest(linked) -> None:
    """The host function calls the thrower (its own entry trampoline catches the throw
    and Python sees a ``ThrownException``); letting it through hands the exception
    back to the calling wasm, several frames above the try_table that catches it."""
    store, t, _ = linked
    calls: list[int] = []

    def host(x: int) -> int:
        calls.append(x)
        t["down"](store, 10, x + 1)  # raises ThrownException
        raise AssertionError("not reached")

    func = cwasm.Func(store, cwasm.FuncType([cwasm.ValType.i32()], [cwasm.ValType.i32()]), host)
    module = cwasm.Module(store.engine, NESTED_HOST)
    x = cwasm.Instance(store, module, [t["e"], func]).exports(store)
    assert x["outer"](store, 20) == 506
    assert calls == [5]
    with pytest.raises(cwasm.ThrownException) as info:
        x["bare"](store, 3)
    assert info.value.payload == (6,)
    assert x["outer"](store, 0) == 506


RECURSE = """
(module
  (tag $e (param i32))
  (func $plain (export "plain") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $plain (i32.sub (local.get 0) (i32.const 1)))))))
  (func $guarded (export "guarded") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else
        (block $h (result i32)
          (try_table (result i32) (catch $e $h)
            (i32.add (i32.const 1) (call $guarded (i32.sub (local.get 0) (i32.const 1)))))))))
)
"""


def _deepest(store: cwasm.Store, func: cwasm.Func) -> int:
    """The greatest depth ``func`` reaches before the stack is exhausted."""
    lo, hi = 1, 1 << 20
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        try:
            func(store, mid)
            lo = mid
        except cwasm.Trap as e:
            assert e.trap_code == cwasm.TrapCode.STACK_OVERFLOW
            hi = mid
    return lo


def test_a_try_table_around_a_call_costs_no_stack() -> None:
    """Before, each such try_table held a jump buffer in its frame (over 500 bytes):
    recursion through one ran out of stack 19 times sooner than without (430 frames
    against 8172 in 256 KiB); now its frame keeps a register more than the plain one's."""
    config = cwasm.Config()
    config.max_wasm_stack = 256 * 1024
    store = cwasm.Store(cwasm.Engine(config))
    x = cwasm.Instance(store, cwasm.Module(store.engine, RECURSE), []).exports(store)
    plain, guarded = _deepest(store, x["plain"]), _deepest(store, x["guarded"])
    assert guarded * 2 >= plain, (plain, guarded)


DEEP_THROW = """
(module
  (tag $e (param i32))
  (func $down (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (throw $e (i32.const 9)))
      (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))))
  (func (export "top") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (call $down (local.get 0))))
    (drop)
    (local.get 0))
)
"""


@pytest.mark.parametrize("stack", [256 * 1024, 64 << 20])
def test_a_throw_from_the_deepest_frame_is_caught(stack: int) -> None:
    """The unwinder runs below the deepest wasm frame: with the stack limit set by
    ``max_wasm_stack``, and with the thread's own stack end as the floor (64 MiB is
    more than the thread has)."""
    config = cwasm.Config()
    config.max_wasm_stack = stack
    store = cwasm.Store(cwasm.Engine(config))
    engine = store.engine
    x = cwasm.Instance(store, cwasm.Module(engine, DEEP_THROW), []).exports(store)
    plain = cwasm.Instance(store, cwasm.Module(engine, RECURSE), []).exports(store)["plain"]
    deepest = _deepest(store, x["top"])
    assert x["top"](store, deepest) == deepest
    assert deepest * 2 >= _deepest(store, plain)
