"""GC root areas (docs/gc.md, "Wasm frames"): a function holding GC references across
a call shows them in its root area, linked from ``STORE_GC_ROOTS``; the chain's head is
back where it was after a return, a tail call, a trap and a caught exception.

A host function walks the chain as the collector will and reports what it finds.
"""

from __future__ import annotations

import ctypes

import pytest

import cwasm
from cwasm.abi import vmoffsets as vo
from cwasm.abi.gc_layout import ROOTS_COUNT, ROOTS_PREV, ROOTS_SLOTS
from tests.runtime.test_gc_types import _config
from tests.runtime.wat import wat

MODULE = """
(module
  (type $node (struct (field $v i32) (field $next (ref null $node))))
  (type $wrap (array (mut (ref null $node))))
  (tag $e (param i32))
  (import "host" "look" (func $look (param i32) (result i32)))
  (func $mk (param i32) (result (ref $node)) (struct.new $node (local.get 0) (ref.null $node)))

  ;; a local and an operand below the call's argument hold structs across the call
  (func (export "hold") (result i32)
    (local $a (ref null $node)) (local $r i32)
    (local.set $a (call $mk (i32.const 7)))
    (call $mk (i32.const 8))
    (local.set $r (call $look (i32.const 1)))
    (struct.get $node $v)
    (i32.add (local.get $r))
    (i32.add (struct.get $node $v (local.get $a))))

  ;; struct.new's reference field is rooted while its allocation runs
  (func (export "nested") (param $n i32) (result i32)
    (local $l (ref null $node)) (local $s i32)
    (loop $build
      (local.set $l (struct.new $node (local.get $n) (local.get $l)))
      (br_if $build (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (drop (call $look (i32.const 0)))
    (block $done
      (loop $walk
        (br_if $done (ref.is_null (local.get $l)))
        (local.set $s (i32.add (local.get $s) (struct.get $node $v (local.get $l))))
        (local.set $l (struct.get $node $next (local.get $l)))
        (br $walk)))
    (local.get $s))

  (func $deep (param i32) (result i32)
    (local $a (ref null $node))
    (local.set $a (call $mk (local.get 0)))
    (drop (call $look (i32.const 2)))
    (if (local.get 0) (then (throw $e (struct.get $node $v (local.get $a)))))
    (unreachable))

  ;; a throw from a frame with an area, caught in one with an area
  (func (export "caught") (result i32)
    (local $a (ref null $node))
    (local.set $a (call $mk (i32.const 5)))
    (block $h (result i32)
      (try_table (catch $e $h) (drop (call $deep (i32.const 3))))
      (i32.const 0))
    (i32.add (call $look (i32.const 1)))
    (i32.add (struct.get $node $v (local.get $a))))

  ;; a trap in a frame with an area
  (func (export "trap") (result i32) (call $deep (i32.const 0)))

  ;; a tail call leaves the chain as the caller found it
  (func $tail_to (param i32) (result i32) (call $look (local.get 0)))
  (func (export "tail") (result i32)
    (local $a (ref null $node))
    (local.set $a (call $mk (i32.const 9)))
    (drop (call $look (i32.const 1)))
    (return_call $tail_to (i32.const 0)))
)
"""


def _chain(store: cwasm.Store) -> list[list[int]]:
    """The root areas from the head down: the words in each one's live slots."""
    ctx = store._ctx  # the store context's words
    area = ctx[vo.STORE_GC_ROOTS // 8]
    out: list[list[int]] = []
    while area:
        n = ctypes.c_uint64.from_address(area + ROOTS_COUNT).value
        out.append(
            [ctypes.c_uint64.from_address(area + ROOTS_SLOTS + 8 * k).value for k in range(n)]
        )
        area = ctypes.c_uint64.from_address(area + ROOTS_PREV).value
        assert len(out) < 100
    return out


@pytest.fixture
def setup() -> tuple[cwasm.Store, dict, list]:
    store = cwasm.Store(cwasm.Engine(_config(cwasm)))
    seen: list[list[list[int]]] = []

    def look(want: int) -> int:
        chain = _chain(store)
        seen.append(chain)
        values = []
        for area in chain:
            for word in area:
                assert store.gc_heap.owns(word), "a root slot holds a word that is no object"
                values.append(ctypes.c_int32.from_address(word + 8).value)
        return sum(values) if want else 0

    func = cwasm.Func(store, cwasm.FuncType([cwasm.ValType.i32()], [cwasm.ValType.i32()]), look)
    module = cwasm.Module(store.engine, wat(MODULE))
    x = cwasm.Instance(store, module, [func]).exports(store)
    return store, x, seen


def _head(store: cwasm.Store) -> int:
    return int(store._ctx[vo.STORE_GC_ROOTS // 8])


def test_locals_and_operands_are_rooted(setup: tuple) -> None:
    store, x, seen = setup
    # the host sees 7 (a local) and 8 (an operand below the argument): 15
    assert x["hold"](store) == 8 + 15 + 7
    assert sorted(v for v in (ctypes.c_int32.from_address(w + 8).value for w in seen[-1][0])) == [
        7,
        8,
    ]
    assert _head(store) == 0


def test_allocation_keeps_list_reachable(setup: tuple) -> None:
    store, x, seen = setup
    n = 5000
    assert x["nested"](store, n) == n * (n + 1) // 2
    (area,) = seen[-1]
    assert len(area) == 1 and store.gc_heap.owns(area[0])
    assert _head(store) == 0


def test_caught_exception_restores_the_head(setup: tuple) -> None:
    store, x, seen = setup
    # $deep holds 3 and sees [3] over [5]; after the catch only "caught"'s area is left
    assert x["caught"](store) == 3 + 5 + 5
    inner, after = seen
    assert len(inner) == 2 and len(after) == 1
    assert _head(store) == 0


def test_trap_restores_the_head(setup: tuple) -> None:
    store, x, seen = setup
    with pytest.raises(cwasm.Trap):
        x["trap"](store)
    assert len(seen[-1]) == 1
    assert _head(store) == 0
    assert x["hold"](store) == 30  # and the chain works after


def test_tail_call_takes_the_area_off(setup: tuple) -> None:
    store, x, seen = setup
    assert x["tail"](store) == 0
    assert len(seen[0]) == 1 and len(seen[1]) == 0
    assert _head(store) == 0


def test_a_trap_through_a_module_without_root_areas_restores_the_head(setup: tuple) -> None:
    store, x, seen = setup
    plain = wat(
        '(module (import "b" "trap" (func $t (result i32)))'
        ' (func (export "run") (result i32) (call $t)))'
    )
    outer = cwasm.Instance(store, cwasm.Module(store.engine, plain), [x["trap"]]).exports(store)
    with pytest.raises(cwasm.Trap):
        outer["run"](store)  # its entry trampoline does not restore the head: Python does
    assert len(seen[-1]) == 1
    assert _head(store) == 0
    assert x["hold"](store) == 30


def test_an_exception_caught_in_a_module_without_root_areas_restores_the_head() -> None:
    """A ``try_table`` of a module with no GC types catches an exception thrown from a
    frame with a root area: the head is back to what it was when the ``try_table`` was
    entered, not left at the thrower's dead area."""
    store = cwasm.Store(cwasm.Engine(_config(cwasm)))
    heads: list[int] = []
    nothing = cwasm.FuncType([], [])
    probe = cwasm.Func(store, nothing, lambda: heads.append(_head(store)))
    thrower = wat(
        """(module
          (type $node (struct (field $v i32)))
          (tag $e)
          (import "h" "probe" (func $probe))
          (func (export "throws")
            (local $a (ref null $node))
            (local.set $a (struct.new $node (i32.const 4)))
            (call $probe)
            (throw $e)))"""
    )
    plain = wat(
        """(module
          (import "g" "throws" (func $throws))
          (import "h" "probe" (func $probe))
          (func (export "run")
            (block $h (try_table (catch_all $h) (call $throws)))
            (call $probe)))"""
    )
    throws = cwasm.Instance(store, cwasm.Module(store.engine, thrower), [probe]).exports(store)
    run = cwasm.Instance(store, cwasm.Module(store.engine, plain), [throws["throws"], probe])
    run.exports(store)["run"](store)
    assert heads[0] != 0  # the thrower's area was linked while it ran
    assert heads[1] == 0  # and is gone after the catch
    assert _head(store) == 0
