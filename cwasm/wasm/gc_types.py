"""The composite types of the GC proposal (Wasm 3.0): structs, arrays, their field types,
and the subtype declarations (``sub``, ``sub final``) and recursion groups (``rec``) of
the type section; their decoding, and the iso-recursive equivalence of types.

A module's ``types`` holds one ``FuncType``, ``StructType`` or ``ArrayType`` per type
index; ``ModuleRecord.sub_types`` holds the ``SubType`` of each (its supertype, whether
it is final, its recursion group), or nothing when every type is a final function type
without a supertype in a group of its own, as in Wasm 2.0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import (
    CONCRETE_HEAP,
    KIND_ARRAY,
    KIND_FUNC,
    KIND_STRUCT,
    FuncType,
    RefType,
    TypeCanon,
    ValueType,
    canonical_types,
    ref_type,
    val_subtype,
)

if TYPE_CHECKING:
    pass

#: the binary forms of the type section's entries
REC_FORM: Final = 0x4E
SUB_FORM: Final = 0x50
SUB_FINAL_FORM: Final = 0x4F
FUNC_FORM: Final = 0x60
STRUCT_FORM: Final = 0x5F
ARRAY_FORM: Final = 0x5E
#: the forms that start a GC type definition (anything but a plain function type)
GC_TYPE_FORMS: Final = frozenset((REC_FORM, SUB_FORM, SUB_FINAL_FORM, STRUCT_FORM, ARRAY_FORM))

#: the packed storage types, by their binary encoding
I8: Final = 0x78
I16: Final = 0x77
PACKED: Final = frozenset((I8, I16))
_PACKED_TEXT: Final = {I8: "i8", I16: "i16"}


@dataclass(frozen=True, slots=True)
class FieldType:
    """A field of a struct or the element of an array: a storage type (a value type,
    or the packed ``I8`` / ``I16``) and whether it is mutable."""

    storage: ValueType | int
    mutable: bool

    @property
    def is_packed(self) -> bool:
        return self.storage in PACKED

    @property
    def unpacked(self) -> int:
        """The value type a read of the field yields (i32 for a packed field), as a code."""
        return 0x7F if self.storage in PACKED else int(self.storage)

    @property
    def text(self) -> str:
        s = self.storage
        t = _PACKED_TEXT[s] if s in PACKED else s.text  # type: ignore[union-attr]
        return f"(mut {t})" if self.mutable else t


@dataclass(frozen=True, slots=True)
class StructType:
    fields: tuple[FieldType, ...]

    def __str__(self) -> str:
        return "(struct" + "".join(f" (field {f.text})" for f in self.fields) + ")"


@dataclass(frozen=True, slots=True)
class ArrayType:
    element: FieldType

    def __str__(self) -> str:
        return f"(array {self.element.text})"


#: a composite type: what one type index defines
CompositeType = FuncType | StructType | ArrayType


@dataclass(frozen=True, slots=True)
class SubType:
    """A type's declaration around its composite type: its declared supertype (-1 for
    none), whether it is final, and its recursion group (first index, size)."""

    supertype: int = -1
    final: bool = True
    group_start: int = 0
    group_size: int = 1


def kind_of(t: CompositeType) -> int:
    """``KIND_FUNC``, ``KIND_STRUCT`` or ``KIND_ARRAY``."""
    if type(t) is FuncType:
        return KIND_FUNC
    return KIND_STRUCT if type(t) is StructType else KIND_ARRAY


def _field_type(r: BinaryReader, read_value_type: Callable[[BinaryReader], ValueType]) -> FieldType:
    b = r.peek()
    if b in PACKED:
        r.pos += 1
        storage: ValueType | int = b
    else:
        storage = read_value_type(r)
    at = r.pos
    mut = r.u8()
    if mut > 1:
        raise MalformedError("malformed mutability", at)
    return FieldType(storage, bool(mut))


def read_composite_type(
    r: BinaryReader, read_value_type: Callable[[BinaryReader], ValueType]
) -> CompositeType:
    """A function, struct or array type, after its form byte."""
    at = r.pos
    form = r.u8()
    if form == FUNC_FORM:
        params = tuple([read_value_type(r) for _ in range(r.len32())])
        results = tuple([read_value_type(r) for _ in range(r.len32())])
        return FuncType(params, results)
    if form == STRUCT_FORM:
        return StructType(tuple([_field_type(r, read_value_type) for _ in range(r.len32())]))
    if form == ARRAY_FORM:
        return ArrayType(_field_type(r, read_value_type))
    if form & 0x80:
        raise MalformedError("integer representation too long", r.pos)
    raise MalformedError("malformed function type", at)


def read_rec_group(
    r: BinaryReader,
    types: list[CompositeType],
    subs: list[tuple[int, SubType]],
    read_value_type: Callable[[BinaryReader], ValueType],
) -> None:
    """One entry of the type section (a recursion group, explicit or of one type): its
    types appended to ``types``, their (index, ``SubType``) to ``subs``."""
    start = len(types)
    if r.peek() == REC_FORM:
        r.pos += 1
        size = r.len32()
    else:
        size = 1
    for _ in range(size):
        form = r.peek()
        supertype, final = -1, True
        if form == SUB_FORM or form == SUB_FINAL_FORM:
            r.pos += 1
            final = form == SUB_FINAL_FORM
            supers = [r.u32() for _ in range(r.len32())]
            if len(supers) > 1:
                # several supertypes: kept as an impossible index, refused by validation
                supertype = -2
            elif supers:
                supertype = supers[0]
        subs.append((len(types), SubType(supertype, final, start, size)))
        types.append(read_composite_type(r, read_value_type))


def value_types(t: CompositeType) -> Iterator[ValueType | int]:
    """The value and storage types ``t`` refers to."""
    if type(t) is FuncType:
        yield from t.params
        yield from t.results
    elif type(t) is StructType:
        for f in t.fields:
            yield f.storage
    else:
        yield t.element.storage  # type: ignore[union-attr]


def full_sub_types(num_types: int, sub_types: Sequence[SubType]) -> Sequence[SubType]:
    """``sub_types`` or, when empty (no GC declaration), the default of every type."""
    if sub_types:
        return sub_types
    return [SubType(-1, True, i, 1) for i in range(num_types)]


# -- iso-recursive equivalence -------------------------------------------------------


def _ref_key(t: ValueType | int, start: int, canon: list[int]) -> object:
    if isinstance(t, RefType):
        index = t.type_index
        if index is not None:
            if index >= start:
                return ("rec", t.nullable, index - start)
            if index < len(canon):
                return int(ref_type(t.nullable, CONCRETE_HEAP + canon[index]))
    return int(t)


def _sub_key(t: CompositeType, s: SubType, start: int, canon: list[int]) -> object:
    def key(v: ValueType | int) -> object:
        return _ref_key(v, start, canon)

    if s.supertype < 0:
        sup: object = s.supertype
    elif s.supertype >= start:
        sup = ("rec", s.supertype - start)
    else:
        sup = canon[s.supertype] if s.supertype < len(canon) else ("bad", s.supertype)
    if type(t) is FuncType:
        body: object = (
            KIND_FUNC,
            tuple(map(key, t.params)),
            tuple(map(key, t.results)),
        )
    elif type(t) is StructType:
        body = (KIND_STRUCT, tuple((key(f.storage), f.mutable) for f in t.fields))
    else:
        e = t.element  # type: ignore[union-attr]
        body = (KIND_ARRAY, key(e.storage), e.mutable)
    return (sup, s.final, body)


def canonical_gc_types(types: Sequence[CompositeType], sub_types: Sequence[SubType]) -> TypeCanon:
    """Per type index, the first index of an iso-recursively equivalent type: the types
    at the same place of two recursion groups that are equal once their references to
    earlier groups are replaced by their representatives (references inside a group
    stay relative to it); with each type's kind and declared supertype."""
    canon: list[int] = []
    seen: dict[object, int] = {}
    n = len(types)
    i = 0
    while i < n:
        s = sub_types[i]
        start, end = i, i + s.group_size
        key = tuple(_sub_key(types[k], sub_types[k], start, canon) for k in range(start, end))
        rep = seen.setdefault(key, start)
        canon.extend(range(rep, rep + (end - start)))
        i = end
    return TypeCanon(
        canon,
        kinds=tuple(kind_of(t) for t in types),
        # a supertype is an earlier type (a later one is invalid: never followed)
        supers=tuple(s.supertype if 0 <= s.supertype < i else -1 for i, s in enumerate(sub_types)),
    )


# -- validation of the type section ----------------------------------------------------


def validate_types(types: Sequence[CompositeType], sub_types: Sequence[SubType]) -> TypeCanon:
    """Check the type section (references within reach: the types before a type's
    recursion group's end; declared supertypes: one at most, earlier, not final, of the
    same kind, with a composite type the type's matches) and return its ``TypeCanon``.
    Raises ``InvalidError`` with the reference interpreter's wording."""
    subs = full_sub_types(len(types), sub_types)
    for i, t in enumerate(types):
        s = subs[i]
        end = s.group_start + s.group_size
        for v in value_types(t):
            if isinstance(v, RefType):
                index = v.type_index
                if index is not None and index >= end:
                    raise InvalidError(f"unknown type {index}", 0)
        if s.supertype == -2:
            raise InvalidError("multiple supertypes", 0)
        if s.supertype >= end:
            raise InvalidError(f"unknown type {s.supertype}", 0)
        if s.supertype >= i:
            raise InvalidError(f"sub type {i} has forward super type {s.supertype}", 0)
    canon = canonical_gc_types(types, subs) if sub_types else TypeCanon(canonical_types(types))  # type: ignore[arg-type]
    for i, t in enumerate(types):
        j = subs[i].supertype
        if j < 0:
            continue
        if subs[j].final:
            raise InvalidError(f"sub type {i} has final super type {j}", 0)
        if not composite_subtype(t, types[j], canon):
            raise InvalidError(f"sub type {i} does not match super type {j}", 0)
    return canon


def _storage_matches(a: ValueType | int, b: ValueType | int, canon: Sequence[int]) -> bool:
    if a in PACKED or b in PACKED:
        return a == b
    return val_subtype(int(a), int(b), canon)


def _field_matches(a: FieldType, b: FieldType, canon: Sequence[int]) -> bool:
    """Whether field ``a`` may stand for field ``b`` of a supertype."""
    if a.mutable != b.mutable:
        return False
    ok = _storage_matches(a.storage, b.storage, canon)
    if a.mutable:  # invariant
        ok = ok and _storage_matches(b.storage, a.storage, canon)
    return ok


def composite_subtype(a: CompositeType, b: CompositeType, canon: Sequence[int]) -> bool:
    """Whether composite type ``a`` matches ``b``: functions contravariant in their
    parameters and covariant in their results, structs extending their fields'
    prefix, fields covariant when immutable and invariant when mutable."""
    if type(a) is not type(b):
        return False
    if type(a) is FuncType:
        fb = b
        return (
            len(a.params) == len(fb.params)  # type: ignore[union-attr]
            and len(a.results) == len(fb.results)  # type: ignore[union-attr]
            and all(
                val_subtype(int(q), int(p), canon)
                for p, q in zip(a.params, fb.params, strict=True)  # type: ignore[union-attr]
            )
            and all(
                val_subtype(int(p), int(q), canon)
                for p, q in zip(a.results, fb.results, strict=True)  # type: ignore[union-attr]
            )
        )
    if type(a) is StructType:
        fa, fb2 = a.fields, b.fields  # type: ignore[union-attr]
        return len(fa) >= len(fb2) and all(
            _field_matches(x, y, canon) for x, y in zip(fa, fb2, strict=False)
        )
    return _field_matches(a.element, b.element, canon)  # type: ignore[union-attr]


#: the start of the message of a module cwasm cannot compile for its use of GC
GC_NOT_COMPILED: Final = "GC instructions are not compiled yet"
