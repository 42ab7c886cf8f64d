"""A small random generator of modules that throw and catch (exception handling).

wasm-smith's exception modules catch a lot but seldom throw (it only throws with a tag at
hand and counts a throw as a trap). This generator writes WAT from templates instead:

* 1-4 tags with 0-2 parameters (i32/i64);
* "thrower" functions ``(param i32 i32) (result i32)`` that, depending on their arguments,
  return, throw one of the tags, trap, or call a thrower defined before them (so the call
  chains are finite), recording their steps in an exported mutable global ``$log`` and in
  memory;
* exported test functions ``(param $s i32) (param $v i32) (result i32)`` combining
  ``try_table`` with ``catch``, ``catch_ref``, ``catch_all`` and ``catch_all_ref`` clauses
  (one or several, matching or not), ``throw_ref`` of a caught exception to an outer
  handler, nested handlers in one function and across calls, throws inside bounded loops,
  ``try_table`` with parameters and results, and uncaught throws that reach the host.
"""

from __future__ import annotations

import random

_VALS = ("i32", "i64")


class _Gen:
    """The state of one module's generation."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tags: list[list[str]] = []
        self.throwers = 0

    def const(self, ty: str) -> str:
        v = self.rng.choice([0, 1, -1, 3, 7, 0x7FFFFFFF, self.rng.getrandbits(12)])
        return f"({ty}.const {v})"

    def note(self, x: str) -> str:
        """Record ``x`` (an i32) in the log global and in memory."""
        return (
            f"(global.set $log (i32.add (i32.mul (global.get $log) (i32.const 31)) {x}))"
            f" (i32.store (i32.and (global.get $log) (i32.const 0xfffc)) (global.get $log))"
        )

    def payload(self, tag: int, src: str) -> str:
        """Values for ``tag``'s parameters, derived from the i32 ``src``."""
        out = []
        for p in self.tags[tag]:
            x = src if p == "i32" else f"(i64.extend_i32_s {src})"
            out.append(x if self.rng.random() < 0.6 else f"({p}.add {x} {self.const(p)})")
        return " ".join(out)

    def fold(self, tag: int) -> str:
        """Instructions folding ``tag``'s payload (on the stack, last parameter on top) into
        one i32."""
        code = "(local.set $acc2 (i32.const 0))"
        for p in reversed(self.tags[tag]):
            conv = " (i32.wrap_i64)" if p == "i64" else ""
            code += (
                f"{conv} (local.set $fold)"
                f" (local.set $acc2 (i32.add (i32.mul (local.get $acc2) (i32.const 7))"
                f" (local.get $fold)))"
            )
        return f"{code} (local.get $acc2)"

    # --- functions ---

    def thrower(self) -> str:
        r = self.rng
        k = self.throwers
        self.throwers += 1
        tag = r.randrange(len(self.tags))
        mask = r.choice([1, 3, 7])
        cases = [
            f"(if (i32.eq (i32.and (local.get 0) (i32.const {mask})) (i32.const {r.randint(0, mask)}))"
            f" (then {self.note('(i32.const ' + str(k + 1) + ')')}"
            f" (throw $e{tag} {self.payload(tag, '(local.get 1)')})))"
        ]
        if r.random() < 0.3:
            cases.append(
                f"(if (i32.eq (local.get 0) (i32.const {r.randint(0, 9)}))"
                f" (then (drop (i32.div_u (i32.const 1) (i32.const 0)))))"
            )
        if k and r.random() < 0.7:
            callee = r.randrange(k)
            cases.append(
                f"(if (i32.and (local.get 0) (i32.const {r.choice([2, 4, 8])}))"
                f" (then (return (i32.add (i32.const {k}) (call $thrower{callee}"
                f" (i32.shr_u (local.get 0) (i32.const 1)) (local.get 1))))))"
            )
        r.shuffle(cases)
        body = " ".join(cases)
        return (
            f'  (func $thrower{k} (export "thrower{k}") (param i32 i32) (result i32)\n'
            f"    {body}\n    {self.note('(local.get 1)')}\n"
            f"    (i32.add (local.get 0) (local.get 1)))"
        )

    def call_thrower(self) -> str:
        k = self.rng.randrange(self.throwers)
        a = "(local.get $s)" if self.rng.random() < 0.7 else self.const("i32")
        b = "(local.get $v)" if self.rng.random() < 0.7 else self.const("i32")
        return f"(call $thrower{k} {a} {b})"

    def direct_throw(self) -> str:
        tag = self.rng.randrange(len(self.tags))
        return (
            f"(if (result i32) (i32.and (local.get $v) (i32.const 1))"
            f" (then (throw $e{tag} {self.payload(tag, '(local.get $s)')}))"
            f" (else (i32.const 5)))"
        )

    def body_expr(self, depth: int) -> str:
        """An i32 expression that may throw."""
        r = self.rng.random()
        if depth > 0 and r < 0.4:
            return self.handled(depth - 1)
        if r < 0.75:
            return self.call_thrower()
        return self.direct_throw()

    def handled(self, depth: int) -> str:
        """A try_table around a throwing expression, its handlers folding what they catch."""
        r = self.rng
        tag = r.randrange(len(self.tags))
        kind = r.choice(["catch", "catch", "catch_ref", "catch_all", "catch_all_ref", "multi"])
        inner = self.body_expr(depth)
        results = " ".join(self.tags[tag])
        if kind == "catch":
            return (
                f"(block $done (result i32)\n"
                f"      (block $h (result {results})\n"
                f"        (br $done (try_table (result i32) (catch $e{tag} $h) {inner})))\n"
                f"      {self.fold(tag)} (i32.add (i32.const 1000)))"
                if results
                else f"(block $done (result i32)\n"
                f"      (block $h\n"
                f"        (br $done (try_table (result i32) (catch $e{tag} $h) {inner})))\n"
                f"      (i32.const 1000))"
            )
        if kind == "catch_all":
            return (
                f"(block $done (result i32)\n"
                f"      (block $h\n"
                f"        (br $done (try_table (result i32) (catch_all $h) {inner})))\n"
                f"      {self.note('(i32.const 77)')} (i32.const 2000))"
            )
        if kind == "catch_ref":
            # catch with the exception, note the payload, rethrow it to an outer catch_all
            res = f"{results} exnref".strip()
            keep = (
                f"(local.set $exn) {self.fold(tag)} (local.set $acc)"
                f" {self.note('(local.get $acc)')}"
            )
            return (
                f"(block $outer (result i32)\n"
                f"     (block $all\n"
                f"      (br $outer (try_table (result i32) (catch_all $all)\n"
                f"       (block $done (result i32)\n"
                f"        (block $h (result {res})\n"
                f"          (br $done (try_table (result i32) (catch_ref $e{tag} $h) {inner})))\n"
                f"        {keep} (throw_ref (local.get $exn))))))\n"
                f"     (i32.const 3000))"
            )
        if kind == "catch_all_ref":
            rethrow = r.random() < 0.5
            after = "(throw_ref (local.get $exn))" if rethrow else "(i32.const 4000)"
            return (
                f"(block $done (result i32)\n"
                f"      (local.set $exn (block $h (result exnref)\n"
                f"        (br $done (try_table (result i32) (catch_all_ref $h) {inner}))))\n"
                f"      {self.note('(i32.const 99)')} {after})"
            )
        # several clauses: the first matching one wins
        other = r.randrange(len(self.tags))
        res_o = " ".join(self.tags[other])
        drop_o = " ".join("(drop)" for _ in self.tags[other])
        drop_t = " ".join("(drop)" for _ in self.tags[tag])
        return (
            f"(block $done (result i32)\n"
            f"     (block $ha\n"
            f"      (block $ho (result {res_o})\n"
            f"       (block $ht (result {results})\n"
            f"        (br $done (try_table (result i32) (catch $e{tag} $ht) (catch $e{other} $ho)"
            f" (catch_all $ha) {inner})))\n"
            f"       {drop_t} (br $done (i32.const 5001)))\n"
            f"      {drop_o} (br $done (i32.const 5002)))\n"
            f"     (i32.const 5003))"
        )

    def test_body(self) -> str:
        r = self.rng.random()
        if r < 0.15:  # in a bounded loop
            return (
                f"(local.set $i (i32.const 0)) (local.set $acc (i32.const 0))\n"
                f"    (loop $l (local.set $acc (i32.add (local.get $acc) {self.handled(1)}))\n"
                f"      (local.set $s (i32.add (local.get $s) (i32.const 1)))\n"
                f"      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))"
                f" (i32.const {self.rng.randint(2, 6)}))))\n"
                f"    (local.get $acc)"
            )
        if r < 0.25:  # a try_table with a parameter
            return (
                f"(block $done (result i32)\n"
                f"    (local.get $v)\n"
                f"    (block $h (param i32)\n"
                f"      (br $done (try_table (param i32) (result i32) (catch_all $h)\n"
                f"        (i32.add {self.body_expr(1)}))))\n"
                f"    (i32.const 6000))"
            )
        if r < 0.35:  # may reach the host uncaught
            return self.body_expr(1)
        return self.handled(2)

    def module(self) -> str:
        """The module's WAT."""
        r = self.rng
        for _ in range(r.randint(1, 4)):
            self.tags.append([r.choice(_VALS) for _ in range(r.randint(0, 2))])
        out = ["(module", '  (memory (export "mem") 1 1)']
        out.append('  (global $log (export "log") (mut i32) (i32.const 0))')
        for i, params in enumerate(self.tags):
            ps = "".join(f" (param {p})" for p in params)
            out.append(f'  (tag $e{i} (export "e{i}"){ps})')
        for _ in range(r.randint(1, 4)):
            out.append(self.thrower())
        for k in range(r.randint(2, 4)):
            out.append(
                f'  (func (export "test{k}") (param $s i32) (param $v i32) (result i32)'
                f" (local $i i32) (local $acc i32) (local $acc2 i32) (local $fold i32)"
                f" (local $exn exnref)\n    {self.test_body()})"
            )
        out.append(")")
        return "\n".join(out) + "\n"


def generate_wat(rng: random.Random) -> str:
    """A random module of this kind, as WAT (every loop is bounded, every call chain finite)."""
    return _Gen(rng).module()
