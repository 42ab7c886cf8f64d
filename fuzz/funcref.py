"""A small random generator of modules using typed function references.

wasm-smith generates typed function references only together with GC (struct and array
types everywhere), which neither cwasm nor the reference engines run here; this generator
writes WAT instead, from templates combined at random:

* a few function types over i32/i64 and, per type, a few leaf functions (arithmetic on the
  parameters and a constant; some trap);
* typed tables ``(ref null $t)`` filled partly by element segments, and non-nullable tables
  ``(ref $t)`` with an initializer expression; typed globals, mutable and not, nullable
  and not;
* exported test functions taking a selector and a value (both i32) whose bodies combine
  ``call_ref``, ``return_call_ref``, ``ref.as_non_null``, ``br_on_null``, ``br_on_non_null``,
  non-nullable locals, ``ref.is_null``, typed ``select``, ``table.get/set/grow/fill`` and
  ``global.set`` of typed references; a selector may be out of a table's bounds or pick a null
  element, so the null-reference and table traps are exercised too.

Every loop is bounded by a counter, so the modules terminate.
"""

from __future__ import annotations

import random

_VALS = ("i32", "i64")


class _Gen:
    """The state of one module's generation."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.types: list[tuple[list[str], str]] = []  # (params, result) per $tN
        self.leaves: dict[int, list[str]] = {}  # type -> leaf function names
        self.tables: list[tuple[str, int, int, bool]] = []  # (name, type, size, nullable)
        self.globals: list[tuple[str, int, bool, bool]] = []  # (name, type, mutable, nullable)
        self.lines: list[str] = []
        self.passive: list[tuple[str, int]] = []  # (passive element segment, type)
        #: whether the function being written is a test function (has $s and $v)
        self.in_test = False

    # --- pieces ---

    def const(self, ty: str) -> str:
        r = self.rng
        v = r.choice([0, 1, -1, 7, 0x7FFFFFFF, -0x80000000, r.getrandbits(16)])
        return f"({ty}.const {v})"

    def arg_expr(self, ty: str) -> str:
        """An argument of type ``ty`` derived from the test function's value parameter."""
        r = self.rng.random()
        base = "(local.get $v)" if ty == "i32" else "(i64.extend_i32_s (local.get $v))"
        if r < 0.5:
            return base
        if r < 0.8:
            return f"({ty}.add {base} {self.const(ty)})"
        return self.const(ty)

    def to_i32(self, ty: str, expr: str) -> str:
        return expr if ty == "i32" else f"(i32.wrap_i64 {expr})"

    def selector(self, size: int) -> str:
        """An index into a table of ``size``: usually in bounds, sometimes not."""
        r = self.rng.random()
        if not self.in_test:  # no selector parameter here
            return f"(i32.const {self.rng.randint(0, size)})"
        if r < 0.6:
            return f"(i32.rem_u (local.get $s) (i32.const {max(size, 1)}))"
        if r < 0.8:
            return "(local.get $s)"
        return f"(i32.const {self.rng.randint(0, size + 1)})"

    def ref_expr(self, t: int, nullable_ok: bool = True) -> tuple[str, bool]:
        """A reference of type ``$t``: (expression, whether it may be null)."""
        r = self.rng
        choices = []
        tabs = [tb for tb in self.tables if tb[1] == t]
        globs = [g for g in self.globals if g[1] == t]
        if tabs:
            choices.append("table")
        if globs:
            choices.append("global")
        choices.append("func")
        kind = r.choice(choices)
        if kind == "table":
            name, _, size, nullable = r.choice(tabs)
            return f"(table.get ${name} {self.selector(size)})", nullable
        if kind == "global":
            name, _, _, nullable = r.choice(globs)
            return f"(global.get ${name})", nullable
        return f"(ref.func ${r.choice(self.leaves[t])})", False

    def call_args(self, t: int) -> str:
        return " ".join(self.arg_expr(p) for p in self.types[t][0])

    # --- test-body templates: each leaves one i32 ---

    def t_call_ref(self) -> str:
        t = self.rng.randrange(len(self.types))
        ref, _ = self.ref_expr(t)
        res = self.types[t][1]
        return self.to_i32(res, f"(call_ref $t{t} {self.call_args(t)} {ref})")

    def t_as_non_null(self) -> str:
        t = self.rng.randrange(len(self.types))
        ref, _ = self.ref_expr(t)
        res = self.types[t][1]
        return self.to_i32(res, f"(call_ref $t{t} {self.call_args(t)} (ref.as_non_null {ref}))")

    def t_br_on_null(self) -> str:
        t = self.rng.randrange(len(self.types))
        ref, _ = self.ref_expr(t)
        res = self.types[t][1]
        call = self.to_i32(res, f"(call_ref $t{t} {self.call_args(t)} (local.get $r{t}))")
        # br_on_null leaves the non-null reference in a non-nullable local
        return (
            f"(block $done (result i32)\n"
            f"        (block $null\n"
            f"          (local.set $r{t} (br_on_null $null {ref}))\n"
            f"          (br $done {call}))\n"
            f"        (i32.const -2))"
        )

    def t_br_on_non_null(self) -> str:
        t = self.rng.randrange(len(self.types))
        ref, _ = self.ref_expr(t)
        res = self.types[t][1]
        call = self.to_i32(res, f"(call_ref $t{t} {self.call_args(t)})")
        return (
            f"(block $done (result i32)\n"
            f"        (drop (block $some (result (ref $t{t}))\n"
            f"          (br_on_non_null $some {ref})\n"
            f"          (br $done (i32.const -3))))\n"
            f"        (i32.const -4))"
            if self.rng.random() < 0.3
            else f"(block $done (result i32)\n"
            f"        {call[:-1]} (block $some (result (ref $t{t}))\n"
            f"          (br_on_non_null $some {ref})\n"
            f"          (br $done (i32.const -5)))))"
            if res == "i32"
            else f"(block $done (result i32)\n"
            f"        (i32.wrap_i64 (call_ref $t{t} {self.call_args(t)}"
            f" (block $some (result (ref $t{t}))\n"
            f"          (br_on_non_null $some {ref})\n"
            f"          (br $done (i32.const -5))))))"
        )

    def t_is_null(self) -> str:
        t = self.rng.randrange(len(self.types))
        ref, _ = self.ref_expr(t)
        return f"(ref.is_null {ref})"

    def t_select(self) -> str:
        t = self.rng.randrange(len(self.types))
        a, _ = self.ref_expr(t)
        b, _ = self.ref_expr(t)
        res = self.types[t][1]
        sel = f"(select (result (ref null $t{t})) {a} {b} (i32.and (local.get $v) (i32.const 1)))"
        return self.to_i32(res, f"(call_ref $t{t} {self.call_args(t)} {sel})")

    def t_table_set(self) -> str:
        tabs = [tb for tb in self.tables]
        name, t, size, nullable = self.rng.choice(tabs)
        ref, may_null = self.ref_expr(t)
        if not nullable and may_null:
            ref = f"(ref.as_non_null {ref})"
        return f"(table.set ${name} {self.selector(size)} {ref}) (i32.const 0)"

    def t_table_grow_fill(self) -> str:
        name, t, size, nullable = self.rng.choice(self.tables)
        ref, may_null = self.ref_expr(t)
        if not nullable and may_null:
            ref = f"(ref.as_non_null {ref})"
        if self.rng.random() < 0.5:
            return f"(table.grow ${name} {ref} (i32.and (local.get $v) (i32.const 3)))"
        return (
            f"(table.fill ${name} {self.selector(size)} {ref} (i32.and (local.get $v) (i32.const 3)))"
            f" (table.size ${name})"
        )

    def t_global_set(self) -> str:
        muts = [g for g in self.globals if g[2]]
        if not muts:
            return self.t_call_ref()
        name, t, _, nullable = self.rng.choice(muts)
        ref, may_null = self.ref_expr(t)
        if not nullable and may_null:
            ref = f"(ref.as_non_null {ref})"
        return f"(global.set ${name} {ref}) (i32.const 1)"

    def elem_items(self, t: int, n: int) -> str:
        """``n`` element expressions of type ``(ref null $t)``, some null."""
        return " ".join(
            f"(ref.null $t{t})"
            if self.rng.random() < 0.25
            else f"(ref.func ${self.rng.choice(self.leaves[t])})"
            for _ in range(n)
        )

    def t_apply(self) -> str:
        t = self.rng.randrange(len(self.types))
        ref, _ = self.ref_expr(t)
        return f"(call $apply{t} {ref} (local.get $v))"

    def t_table_init(self) -> str:
        name, t, size, nullable = self.rng.choice(self.tables)
        segs = [seg for seg, st in self.passive if st == t]
        if not nullable or not segs:
            return self.t_apply()
        seg = self.rng.choice(segs)
        n = "(i32.and (local.get $v) (i32.const 3))"
        drop = f" (elem.drop ${seg})" if self.rng.random() < 0.3 else ""
        return (
            f"(table.init ${name} ${seg} {self.selector(size)} (i32.const 0) {n}){drop}"
            f" (table.size ${name})"
        )

    def t_table_copy(self) -> str:
        dst = self.rng.choice(self.tables)
        # a non-nullable table's elements fit a nullable one of the same type, not back
        srcs = [tb for tb in self.tables if tb[1] == dst[1] and (dst[3] or not tb[3])]
        src = self.rng.choice(srcs)
        n = "(i32.and (local.get $v) (i32.const 3))"
        return (
            f"(table.copy ${dst[0]} ${src[0]} {self.selector(dst[2])} {self.selector(src[2])}"
            f" {n}) (i32.const 0)"
        )

    def t_loop(self) -> str:
        """A bounded loop calling through a reference each round."""
        t = self.rng.randrange(len(self.types))
        ref, _ = self.ref_expr(t)
        res = self.types[t][1]
        call = self.to_i32(res, f"(call_ref $t{t} {self.call_args(t)} {ref})")
        n = self.rng.randint(1, 5)
        return (
            f"(local.set $i (i32.const 0)) (local.set $acc (i32.const 0))\n"
            f"        (loop $l (local.set $acc (i32.add (local.get $acc) {call}))\n"
            f"          (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))"
            f" (i32.const {n}))))\n"
            f"        (local.get $acc)"
        )

    # --- the module ---

    def module(self) -> str:
        r = self.rng
        for _ in range(r.randint(1, 3)):
            params = [r.choice(_VALS) for _ in range(r.randint(0, 3))]
            self.types.append((params, r.choice(_VALS)))
        out = ["(module"]
        for i, (params, res) in enumerate(self.types):
            ps = "".join(f" (param {p})" for p in params)
            out.append(f"  (type $t{i} (func{ps} (result {res})))")
        # a type whose functions call through a reference they are given (return_call_ref)
        leaf_no = 0
        for i, (params, res) in enumerate(self.types):
            names = []
            for _ in range(r.randint(1, 3)):
                name = f"leaf{leaf_no}"
                leaf_no += 1
                names.append(name)
                body = self.const(res)
                for k, p in enumerate(params):
                    x = (
                        f"(local.get {k})"
                        if p == res
                        else (
                            f"(i64.extend_i32_u (local.get {k}))"
                            if res == "i64"
                            else f"(i32.wrap_i64 (local.get {k}))"
                        )
                    )
                    op = r.choice(["add", "sub", "mul", "xor", "div_s", "rotl"])
                    body = f"({res}.{op} {body} {x})"
                if r.random() < 0.15:
                    body = (
                        f"(if (result {res}) (local.get 0) (then {body}) (else (unreachable)))"
                        if (params and params[0] == "i32")
                        else body
                    )
                out.append(f'  (func ${name} (export "{name}") (type $t{i}) {body})')
            self.leaves[i] = names
        out.append(
            f"  (elem declare func {' '.join('$' + n for ns in self.leaves.values() for n in ns)})"
        )
        for k in range(r.randint(1, 3)):
            t = r.randrange(len(self.types))
            mutable = r.random() < 0.6
            nullable = r.random() < 0.5
            name = f"g{k}"
            self.globals.append((name, t, mutable, nullable))
            ty = f"(ref {'null ' if nullable else ''}$t{t})"
            if mutable:
                ty = f"(mut {ty})"
            init = (
                f"(ref.null $t{t})"
                if nullable and r.random() < 0.4
                else f"(ref.func ${r.choice(self.leaves[t])})"
            )
            out.append(f"  (global ${name} {ty} {init})")
        for k in range(r.randint(1, 3)):
            t = r.randrange(len(self.types))
            size = r.randint(0, 6)
            nullable = r.random() < 0.7
            name = f"tab{k}"
            self.tables.append((name, t, size, nullable))
            init = f"(ref.func ${r.choice(self.leaves[t])})"
            if nullable:
                out.append(f"  (table ${name} {size} {size + 4} (ref null $t{t}))")
                if size:
                    off = r.randint(0, size - 1)
                    n = r.randint(1, size - off)
                    out.append(
                        f"  (elem (table ${name}) (i32.const {off}) (ref null $t{t})"
                        f" {self.elem_items(t, n)})"
                    )
            else:
                out.append(f"  (table ${name} {size} {size + 4} (ref $t{t}) {init})")
            # a passive segment of the table's type, for table.init
            self.passive.append((f"p{k}", t))
            out.append(f"  (elem $p{k} (ref null $t{t}) {self.elem_items(t, r.randint(1, 4))})")
        # functions applying a reference they are given
        for i in range(len(self.types)):
            res = self.types[i][1]
            call = self.to_i32(res, f"(call_ref $t{i} {self.call_args(i)} (local.get $f))")
            out.append(f"  (func $apply{i} (param $f (ref null $t{i})) (param $v i32) (result i32)")
            out.append(f"    {call})")
        # a tail-calling dispatcher per type
        leaves = {i: list(names) for i, names in self.leaves.items()}
        for i, (params, _res) in enumerate(self.types):
            args = " ".join(f"(local.get {k})" for k in range(len(params)))
            # only true leaves here: a tail call through a table or global could reach a
            # tail function again and never end
            ref = f"(ref.func ${r.choice(leaves[i])})"
            out.append(
                f'  (func $tail{i} (export "tail{i}") (type $t{i})'
                f" (return_call_ref $t{i} {args} {ref}))"
            )
            self.leaves[i].append(f"tail{i}")
        self.in_test = True
        templates = [
            self.t_call_ref,
            self.t_as_non_null,
            self.t_br_on_null,
            self.t_br_on_non_null,
            self.t_is_null,
            self.t_select,
            self.t_table_set,
            self.t_table_grow_fill,
            self.t_global_set,
            self.t_loop,
            self.t_apply,
            self.t_table_init,
            self.t_table_copy,
        ]
        for k in range(r.randint(2, 4)):
            locals_ = " ".join(f"(local $r{i} (ref $t{i}))" for i in range(len(self.types)))
            parts = [r.choice(templates)() for _ in range(r.randint(1, 3))]
            body = "(i32.const 0)"
            for p in parts:
                body = f"(i32.add {body} (block (result i32) {p}))"
            out.append(
                f'  (func (export "test{k}") (param $s i32) (param $v i32) (result i32)'
                f" {locals_} (local $i i32) (local $acc i32)\n    {body})"
            )
        out.append(")")
        return "\n".join(out) + "\n"


def generate_wat(rng: random.Random) -> str:
    """A random module of this kind, as WAT (every loop is bounded, every call chain finite)."""
    return _Gen(rng).module()
