"""The GC proposal's reference word (docs/gc.md): ``ref.i31``, ``i31.get_s/u``,
``ref.eq`` and the ``any``/``extern`` conversions.

Every reference of the ``any`` and ``extern`` hierarchies is one 64-bit word, carried
as an LLVM ``ptr``: 0 is null, a word with its low bit set is an ``i31`` (its value is
``word >> 1``), a word whose low bits are ``10`` is a host reference (an externref
handle, ``handle << 2 | 2``), and any other word is the address of a heap object. One
encoding for both hierarchies makes ``any.convert_extern`` and ``extern.convert_any``
the identity, and ``ref.eq`` one compare of the words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from cwasm.obj.traps import Trap

if TYPE_CHECKING:
    from cwasm.compile.translate.driver import FunctionTranslator, Handler

#: the low bit that marks an ``i31`` word
I31_TAG: Final = 1


def op_ref_i31(self: FunctionTranslator, _imm: Any) -> None:
    """``ref.i31``: the low 31 bits of an i32, shifted up, tagged with bit 0."""
    x = self.pop()
    shifted = self.val(f"shl i32 {x}, 1")
    tagged = self.val(f"or i32 {shifted}, {I31_TAG}")
    word = self.val(f"zext i32 {tagged} to i64")
    self.push("ptr", self.val(f"inttoptr i64 {word} to ptr"))


def _i31_get(shift: str) -> Handler:
    def handler(self: FunctionTranslator, _imm: Any) -> None:
        ref = self.pop()
        self.trap_if(self.val(f"icmp eq ptr {ref}, null"), Trap.NullReference)
        word = self.val(f"ptrtoint ptr {ref} to i64")
        low = self.val(f"trunc i64 {word} to i32")
        self.push("i32", self.val(f"{shift} i32 {low}, 1"))

    return handler


def op_ref_eq(self: FunctionTranslator, _imm: Any) -> None:
    """``ref.eq``: two references are equal when their words are."""
    b = self.pop()
    a = self.pop()
    same = self.val(f"icmp eq ptr {a}, {b}")
    self.push("i32", self.val(f"zext i1 {same} to i32"))


def op_convert(self: FunctionTranslator, _imm: Any) -> None:
    """``any.convert_extern`` / ``extern.convert_any``: the same word."""


HANDLERS: dict[str, Handler] = {
    "ref.i31": op_ref_i31,
    "i31.get_s": _i31_get("ashr"),
    "i31.get_u": _i31_get("lshr"),
    "ref.eq": op_ref_eq,
    "any.convert_extern": op_convert,
    "extern.convert_any": op_convert,
}
