"""The GC proposal's casts: ``ref.test``, ``ref.cast`` (and their ``_null`` forms),
``br_on_cast`` and ``br_on_cast_fail``, over every reference hierarchy.

A reference of the ``any`` hierarchy is one word (docs/gc.md): null, an ``i31`` (low
bit 1), a host reference (low bits ``10``, only ever an ``any``) or an object, whose
header holds its engine type id and the array bit (``cwasm.abi.gc_layout``). A
function reference is a ``VMFuncRef`` with its type id. A concrete target type passes
when the ids are equal, else when ``TYPE_IS_SUBTYPE`` finds it among the value's
declared supertypes (the engine's registry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cwasm.abi.builtins import Builtin
from cwasm.abi.gc_layout import GC_BIT_ARRAY, OBJ_GC_BITS, OBJ_TYPE_ID
from cwasm.abi.vmoffsets import FUNCREF_TYPE_ID
from cwasm.obj.traps import Trap
from cwasm.wasm.gc_types import ArrayType, StructType
from cwasm.wasm.types import CONCRETE_HEAP, HeapType, val_type

if TYPE_CHECKING:
    from cwasm.compile.translate.driver import FunctionTranslator, Handler

#: abstract heap types every non-null value of their hierarchy belongs to
_TOPS = frozenset((HeapType.ANY, HeapType.FUNC, HeapType.EXTERN, HeapType.EXN))
#: abstract heap types no non-null value belongs to
_BOTTOMS = frozenset((HeapType.NONE, HeapType.NOFUNC, HeapType.NOEXTERN, HeapType.NOEXN))


class _Test:
    """Builds the i1 of whether a reference matches a heap type, block by block: each
    outcome known in some block joins the final phi."""

    def __init__(self, t: FunctionTranslator) -> None:
        self.t = t
        self.incoming: list[tuple[str, str]] = []
        self.done = t.label()

    def give(self, value: str) -> None:
        """End the current block with ``value`` as the outcome."""
        self.incoming.append((value, self.t.cur_label))
        self.t.ins(f"br label %{self.done}")

    def split(self, cond: str, outcome_if_not: str) -> None:
        """Continue in a new block when ``cond`` holds, else the outcome is ``outcome_if_not``."""
        t = self.t
        go = t.label()
        self.incoming.append((outcome_if_not, t.cur_label))
        t.ins(f"br i1 {cond}, label %{go}, label %{self.done}")
        t.start_block(go)

    def finish(self) -> str:
        self.t.start_block(self.done)
        arms = ", ".join(f"[ {v}, %{lbl} ]" for v, lbl in self.incoming)
        return self.t.val(f"phi i1 {arms}")


def _subtype_of(t: FunctionTranslator, test: _Test, tid: str, type_index: int) -> None:
    """Give whether engine type id ``tid`` is type ``type_index`` or a declared subtype."""
    want = t.val(f"load i32, ptr {t.vm_field(t.offsets.type_id(type_index))}")
    same = t.val(f"icmp eq i32 {tid}, {want}")
    subs = t.module.sub_types
    if not subs or subs[type_index].final:
        test.give(same)
        return
    test.split(t.val(f"xor i1 {same}, true"), "true")
    r = t.call_python_builtin(Builtin.TYPE_IS_SUBTYPE, tid, want)
    test.give(t.val(f"icmp ne i32 {r}, 0"))


def ref_matches(t: FunctionTranslator, ref: str, heap: int, nullable: bool) -> str:
    """An i1: whether ``ref`` is a value of ``(ref null? heap)``."""
    test = _Test(t)
    non_null = t.val(f"icmp ne ptr {ref}, null")
    test.split(non_null, "true" if nullable else "false")
    if heap in _TOPS:
        test.give("true")
        return test.finish()
    if heap in _BOTTOMS:
        test.give("false")
        return test.finish()
    word = t.val(f"ptrtoint ptr {ref} to i64")
    low = t.val(f"and i64 {word}, 3")
    if heap == HeapType.I31:
        test.give(t.val(f"icmp ne i64 {t.val(f'and i64 {word}, 1')}, 0"))
        return test.finish()
    if heap == HeapType.EQ:  # an i31 or an object: not a host reference
        test.give(t.val(f"icmp ne i64 {low}, 2"))
        return test.finish()
    ct = t.module.types[heap - CONCRETE_HEAP] if heap >= CONCRETE_HEAP else None
    if ct is not None and type(ct) not in (StructType, ArrayType):  # a function type
        tid = t.val(f"load i32, ptr {t.field_of(ref, FUNCREF_TYPE_ID)}")
        _subtype_of(t, test, tid, heap - CONCRETE_HEAP)
        return test.finish()
    test.split(t.val(f"icmp eq i64 {low}, 0"), "false")  # an object
    if ct is None:  # struct or array
        bits = t.val(f"load i32, ptr {t.field_of(ref, OBJ_GC_BITS)}")
        is_array = t.val(f"and i32 {bits}, {GC_BIT_ARRAY}")
        op = "ne" if heap == HeapType.ARRAY else "eq"
        test.give(t.val(f"icmp {op} i32 {is_array}, 0"))
        return test.finish()
    tid = t.val(f"load i32, ptr {t.field_of(ref, OBJ_TYPE_ID)}")
    _subtype_of(t, test, tid, heap - CONCRETE_HEAP)
    return test.finish()


def _ref_test(nullable: bool) -> Handler:
    def handler(self: FunctionTranslator, heap: int) -> None:
        ref = self.pop()
        ok = ref_matches(self, ref, heap, nullable)
        self.push("i32", self.val(f"zext i1 {ok} to i32"))

    return handler


def _ref_cast(nullable: bool) -> Handler:
    def handler(self: FunctionTranslator, heap: int) -> None:
        _, ref = self.stack[-1]
        ok = ref_matches(self, ref, heap, nullable)
        self.trap_if(self.val(f"xor i1 {ok}, true"), Trap.CastFailure)

    return handler


def _br_on_cast(on_match: bool) -> Handler:
    def handler(self: FunctionTranslator, imm: tuple[int, int, int]) -> None:
        depth, _from, to = imm
        target_type = val_type(to)
        _, ref = self.stack[-1]  # carried to the label or kept on fall-through
        ok = ref_matches(self, ref, target_type.heap, target_type.nullable)
        if not on_match:
            ok = self.val(f"xor i1 {ok}, true")
        frame = self.frames[-1 - depth]
        target = self.add_edge(frame, self.branch_values(frame))
        cont = self.label()
        self.ins(f"br i1 {ok}, label %{target}, label %{cont}")
        self.start_block(cont)

    return handler


HANDLERS: dict[str, Handler] = {
    "ref.test": _ref_test(False),
    "ref.test_null": _ref_test(True),
    "ref.cast": _ref_cast(False),
    "ref.cast_null": _ref_cast(True),
    "br_on_cast": _br_on_cast(True),
    "br_on_cast_fail": _br_on_cast(False),
}
