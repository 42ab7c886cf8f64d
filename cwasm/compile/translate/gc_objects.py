"""The GC proposal's struct and array instructions over the store's heap (docs/gc.md).

Objects are laid out as ``cwasm.abi.gc_layout`` says. An allocation bumps the store's
free run (``STORE_GC_NEXT`` up to ``STORE_GC_END``) inline and writes the header's
engine type id (from the vmctx's type id slots); when the run cannot hold the object,
``Builtin.GC_ALLOC`` returns a new one (its header written, the rest zeroed) or 0 when
the heap cannot hold it. Fresh heap memory is zero, so the ``_default`` forms store
nothing. Accesses trap on null (``NullReference``), arrays outside their length
(``ArrayOutOfBounds``), and arrays whose size would pass ``MAX_ARRAY_BYTES`` or a heap
that cannot hold the object (``AllocationTooLarge``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cwasm.abi.builtins import Builtin
from cwasm.abi.gc_layout import (
    ARRAY_LENGTH,
    GC_BIT_ARRAY,
    OBJ_ALIGN,
    OBJ_GC_BITS,
    OBJ_TYPE_ID,
    ArrayLayout,
    array_layout,
    storage_size,
    struct_layout,
)
from cwasm.abi.vmoffsets import CTX_STORE, STORE_GC_END, STORE_GC_NEXT
from cwasm.compile.irmodule import ir_type
from cwasm.compile.translate import gc_roots
from cwasm.obj.traps import Trap
from cwasm.wasm.gc_types import I8, I16, ArrayType, FieldType, StructType

if TYPE_CHECKING:
    from cwasm.compile.translate.driver import FunctionTranslator, Handler

_PACKED_IR = {I8: "i8", I16: "i16"}


def _storage_ir(f: FieldType) -> str:
    """The IR type a field is stored as."""
    s = int(f.storage)
    return _PACKED_IR.get(s) or ir_type(f.storage)


def _align(f: FieldType) -> int:
    return min(storage_size(f), OBJ_ALIGN)


def _struct(self: FunctionTranslator, type_index: int) -> StructType:
    st = self.module.types[type_index]
    assert type(st) is StructType
    return st


def _array(self: FunctionTranslator, type_index: int) -> tuple[ArrayType, ArrayLayout]:
    at = self.module.types[type_index]
    assert type(at) is ArrayType
    return at, array_layout(at)


def allocate(self: FunctionTranslator, type_index: int, size: str) -> str:
    """A new object of type ``type_index`` and ``size`` bytes (an i64 operand, a
    multiple of 8): its address, its header written (type id, and the array bit)."""
    sctx = self.val(f"load ptr, ptr {self.vm_field(CTX_STORE)}")
    next_p = self.field_of(sctx, STORE_GC_NEXT)
    cur = self.val(f"load ptr, ptr {next_p}")
    end = self.val(f"load ptr, ptr {self.field_of(sctx, STORE_GC_END)}")
    nxt = self.val(f"getelementptr i8, ptr {cur}, i64 {size}")
    full = self.val(f"icmp ugt ptr {nxt}, {end}")
    fast, slow, join = self.label(), self.label(), self.label()
    self.ins(f"br i1 {full}, label %{slow}, label %{fast}, !prof !{self.mod.md_unlikely}")
    self.start_block(fast)
    self.ins(f"store ptr {nxt}, ptr {next_p}")
    type_id = self.val(f"load i32, ptr {self.vm_field(self.offsets.type_id(type_index))}")
    self.ins(f"store i32 {type_id}, ptr {self.field_of(cur, OBJ_TYPE_ID)}")
    if type(self.module.types[type_index]) is ArrayType:
        self.ins(f"store i32 {GC_BIT_ARRAY}, ptr {self.field_of(cur, OBJ_GC_BITS)}")
    self.ins(f"br label %{join}")
    self.start_block(slow)
    gc_roots.spill(self, self.gc_in_flight)
    fresh = self.call_python_builtin(Builtin.GC_ALLOC, str(type_index), size)
    self.trap_if(self.val(f"icmp eq ptr {fresh}, null"), Trap.AllocationTooLarge)
    slow_end = self.cur_label
    self.ins(f"br label %{join}")
    self.start_block(join)
    return self.val(f"phi ptr [ {cur}, %{fast} ], [ {fresh}, %{slow_end} ]")


def _non_null(self: FunctionTranslator, ref: str) -> None:
    self.trap_if(self.val(f"icmp eq ptr {ref}, null"), Trap.NullReference)


def _store_field(self: FunctionTranslator, f: FieldType, p: str, value: str) -> None:
    ty = _storage_ir(f)
    if int(f.storage) in _PACKED_IR:
        value = self.val(f"trunc i32 {value} to {ty}")
    self.ins(f"store {ty} {value}, ptr {p}, align {_align(f)}")


def _load_field(self: FunctionTranslator, f: FieldType, p: str, ext: str) -> None:
    ty = _storage_ir(f)
    v = self.val(f"load {ty}, ptr {p}, align {_align(f)}")
    if int(f.storage) in _PACKED_IR:
        v = self.val(f"{ext} {ty} {v} to i32")
        self.push("i32", v)
    else:
        self.push(ty, v)


# --- structs ---


def op_struct_new(self: FunctionTranslator, type_index: int) -> None:
    st = _struct(self, type_index)
    lay = struct_layout(st)
    typed = self.pop_n(len(st.fields))
    values = [v for _, v in typed]
    self.gc_in_flight = [v for ty, v in typed if ty == "ptr"]
    obj = allocate(self, type_index, str(lay.size))
    self.gc_in_flight = []
    for f, off, v in zip(st.fields, lay.offsets, values, strict=True):
        _store_field(self, f, self.field_of(obj, off), v)
    self.push("ptr", obj)


def op_struct_new_default(self: FunctionTranslator, type_index: int) -> None:
    lay = struct_layout(_struct(self, type_index))
    self.push("ptr", allocate(self, type_index, str(lay.size)))


def _struct_get(ext: str) -> Handler:
    def handler(self: FunctionTranslator, imm: tuple[int, int]) -> None:
        type_index, field = imm
        st = _struct(self, type_index)
        ref = self.pop()
        _non_null(self, ref)
        p = self.field_of(ref, struct_layout(st).offsets[field])
        _load_field(self, st.fields[field], p, ext)

    return handler


def op_struct_set(self: FunctionTranslator, imm: tuple[int, int]) -> None:
    type_index, field = imm
    st = _struct(self, type_index)
    value = self.pop()
    ref = self.pop()
    _non_null(self, ref)
    _store_field(
        self, st.fields[field], self.field_of(ref, struct_layout(st).offsets[field]), value
    )


# --- arrays ---


def _new_array(self: FunctionTranslator, type_index: int, length: str) -> str:
    """A new array of type ``type_index`` with ``length`` (an i32 operand) elements,
    zeroed: its address."""
    _, lay = _array(self, type_index)
    n = self.val(f"zext i32 {length} to i64")
    self.trap_if(self.val(f"icmp ugt i64 {n}, {lay.max_length()}"), Trap.AllocationTooLarge)
    raw = self.val(f"mul i64 {n}, {lay.element_size}")
    raw = self.val(f"add i64 {raw}, {lay.elements_offset + OBJ_ALIGN - 1}")
    size = self.val(f"and i64 {raw}, {-OBJ_ALIGN}")
    obj = allocate(self, type_index, size)
    self.ins(f"store i32 {length}, ptr {self.field_of(obj, ARRAY_LENGTH)}")
    return obj


def _element(self: FunctionTranslator, lay: ArrayLayout, obj: str, index: str) -> str:
    """A pointer to element ``index`` (an i32 operand, checked) of array ``obj``."""
    i = self.val(f"zext i32 {index} to i64")
    off = self.val(f"mul i64 {i}, {lay.element_size}")
    off = self.val(f"add i64 {off}, {lay.elements_offset}")
    return self.val(f"getelementptr inbounds i8, ptr {obj}, i64 {off}")


def _length(self: FunctionTranslator, obj: str) -> str:
    return self.val(f"load i32, ptr {self.field_of(obj, ARRAY_LENGTH)}")


def _fill(
    self: FunctionTranslator,
    at: ArrayType,
    lay: ArrayLayout,
    obj: str,
    start: str,
    n: str,
    value: str,
) -> None:
    """Store ``value`` into elements ``start .. start + n`` (i32 operands, checked)."""
    head, body, done = self.label(), self.label(), self.label()
    entry = self.cur_label
    self.ins(f"br label %{head}")
    self.start_block(head)
    k = self.val(f"phi i32 [ 0, %{entry} ], [ %{head}.next, %{body} ]")
    more = self.val(f"icmp ult i32 {k}, {n}")
    self.ins(f"br i1 {more}, label %{body}, label %{done}")
    self.start_block(body)
    i = self.val(f"add i32 {start}, {k}")
    _store_field(self, at.element, _element(self, lay, obj, i), value)
    self.ins(f"%{head}.next = add i32 {k}, 1")
    self.ins(f"br label %{head}")
    self.start_block(done)


def op_array_new(self: FunctionTranslator, type_index: int) -> None:
    at, lay = _array(self, type_index)
    n = self.pop()
    ty, value = self.stack.pop()
    self.gc_in_flight = [value] if ty == "ptr" else []
    obj = _new_array(self, type_index, n)
    self.gc_in_flight = []
    _fill(self, at, lay, obj, "0", n, value)
    self.push("ptr", obj)


def op_array_new_default(self: FunctionTranslator, type_index: int) -> None:
    n = self.pop()
    self.push("ptr", _new_array(self, type_index, n))


def op_array_new_fixed(self: FunctionTranslator, imm: tuple[int, int]) -> None:
    type_index, count = imm
    at, lay = _array(self, type_index)
    typed = self.pop_n(count)
    values = [v for _, v in typed]
    self.gc_in_flight = [v for ty, v in typed if ty == "ptr"]
    obj = _new_array(self, type_index, str(count))
    self.gc_in_flight = []
    for i, v in enumerate(values):
        _store_field(self, at.element, _element(self, lay, obj, str(i)), v)
    self.push("ptr", obj)


def _checked_element(self: FunctionTranslator, lay: ArrayLayout, obj: str, index: str) -> str:
    _non_null(self, obj)
    out = self.val(f"icmp uge i32 {index}, {_length(self, obj)}")
    self.trap_if(out, Trap.ArrayOutOfBounds)
    return _element(self, lay, obj, index)


def _array_get(ext: str) -> Handler:
    def handler(self: FunctionTranslator, type_index: int) -> None:
        at, lay = _array(self, type_index)
        index = self.pop()
        obj = self.pop()
        _load_field(self, at.element, _checked_element(self, lay, obj, index), ext)

    return handler


def op_array_set(self: FunctionTranslator, type_index: int) -> None:
    at, lay = _array(self, type_index)
    value = self.pop()
    index = self.pop()
    obj = self.pop()
    _store_field(self, at.element, _checked_element(self, lay, obj, index), value)


def op_array_len(self: FunctionTranslator, _imm: Any) -> None:
    obj = self.pop()
    _non_null(self, obj)
    self.push("i32", _length(self, obj))


def _check_range(self: FunctionTranslator, obj: str, start: str, n: str) -> None:
    """Trap unless ``start + n`` (i32 operands, summed in i64) is within ``obj``'s length."""
    s = self.val(f"zext i32 {start} to i64")
    k = self.val(f"zext i32 {n} to i64")
    end = self.val(f"add i64 {s}, {k}")
    length = self.val(f"zext i32 {_length(self, obj)} to i64")
    self.trap_if(self.val(f"icmp ugt i64 {end}, {length}"), Trap.ArrayOutOfBounds)


def op_array_fill(self: FunctionTranslator, type_index: int) -> None:
    at, lay = _array(self, type_index)
    n = self.pop()
    value = self.pop()
    start = self.pop()
    obj = self.pop()
    _non_null(self, obj)
    _check_range(self, obj, start, n)
    _fill(self, at, lay, obj, start, n, value)


def op_array_copy(self: FunctionTranslator, imm: tuple[int, int]) -> None:
    dst_type, src_type = imm
    _, dst_lay = _array(self, dst_type)
    _, src_lay = _array(self, src_type)
    n = self.pop()
    src_at = self.pop()
    src = self.pop()
    dst_at = self.pop()
    dst = self.pop()
    _non_null(self, dst)
    _non_null(self, src)
    _check_range(self, dst, dst_at, n)
    _check_range(self, src, src_at, n)
    pd = _element(self, dst_lay, dst, dst_at)
    ps = _element(self, src_lay, src, src_at)
    k = self.val(f"zext i32 {n} to i64")
    nbytes = self.val(f"mul i64 {k}, {dst_lay.element_size}")
    fn = self.builtin(Builtin.MEMMOVE)
    self.ins(Builtin.MEMMOVE.ir_call(fn, (pd, ps, nbytes)))


def _init_from_segment(
    self: FunctionTranslator,
    data: bool,
    segment: int,
    lay: ArrayLayout,
    obj: str,
    dst: str,
    src: str,
    n: str,
) -> None:
    """Copy ``n`` elements of data or element segment ``segment`` from ``src`` (element
    ``src`` of an element segment, byte ``src`` of a data segment) into ``obj`` from
    element ``dst`` (checked by the caller); a short segment traps."""
    p = _element(self, lay, obj, dst)
    if data:
        k = self.val(f"zext i32 {n} to i64")
        size = self.val(f"mul i64 {k}, {lay.element_size}")
        st = self.call_python_builtin(Builtin.ARRAY_INIT_DATA, str(segment), p, src, size)
        self.trap_if(self.val(f"icmp ne i32 {st}, 0"), Trap.MemoryOutOfBounds)
    else:
        st = self.call_python_builtin(Builtin.ARRAY_INIT_ELEM, str(segment), p, src, n)
        self.trap_if(self.val(f"icmp ne i32 {st}, 0"), Trap.TableOutOfBounds)


def _array_new_segment(data: bool) -> Handler:
    def handler(self: FunctionTranslator, imm: tuple[int, int]) -> None:
        type_index, segment = imm
        _, lay = _array(self, type_index)
        n = self.pop()
        src = self.pop()
        # a segment too short (at compile time: dropping only shortens it) traps before
        # the allocation could
        if data:
            have, unit, trap = (
                len(self.env.data[segment].data),
                lay.element_size,
                Trap.MemoryOutOfBounds,
            )
        else:
            have, unit, trap = len(self.module.elements[segment]), 1, Trap.TableOutOfBounds
        k = self.val(f"zext i32 {n} to i64")
        end = self.val(
            f"add i64 {self.val(f'zext i32 {src} to i64')}, {self.val(f'mul i64 {k}, {unit}')}"
        )
        self.trap_if(self.val(f"icmp ugt i64 {end}, {have}"), trap)
        obj = _new_array(self, type_index, n)
        _init_from_segment(self, data, segment, lay, obj, "0", src, n)
        self.push("ptr", obj)

    return handler


def _array_init_segment(data: bool) -> Handler:
    def handler(self: FunctionTranslator, imm: tuple[int, int]) -> None:
        type_index, segment = imm
        _, lay = _array(self, type_index)
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        obj = self.pop()
        _non_null(self, obj)
        _check_range(self, obj, dst, n)
        _init_from_segment(self, data, segment, lay, obj, dst, src, n)

    return handler


HANDLERS: dict[str, Handler] = {
    "array.new_data": _array_new_segment(True),
    "array.new_elem": _array_new_segment(False),
    "array.init_data": _array_init_segment(True),
    "array.init_elem": _array_init_segment(False),
    "struct.new": op_struct_new,
    "struct.new_default": op_struct_new_default,
    "struct.get": _struct_get("zext"),
    "struct.get_s": _struct_get("sext"),
    "struct.get_u": _struct_get("zext"),
    "struct.set": op_struct_set,
    "array.new": op_array_new,
    "array.new_default": op_array_new_default,
    "array.new_fixed": op_array_new_fixed,
    "array.get": _array_get("zext"),
    "array.get_s": _array_get("sext"),
    "array.get_u": _array_get("zext"),
    "array.set": op_array_set,
    "array.len": op_array_len,
    "array.fill": op_array_fill,
    "array.copy": op_array_copy,
}
