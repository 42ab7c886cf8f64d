"""The engine's type registry: engine-wide type ids, equal for equivalent types of any two
modules, with each type's declared supertype.

Types are canonicalized a recursion group at a time, as the GC proposal's iso-recursive
equivalence has it: two groups are the same when their types are equal once references
to earlier groups are replaced by those types' engine ids and references inside the
group by their position in it. A function type alone in its group, final and without a
supertype (every type of a Wasm 2.0 module) is keyed by its closed signature
(``close_func_type``), so its id is the same whether a module declares it with or
without GC's forms. The registry also keeps, per id, the closed composite type, its
kind and its declared supertype's id, from which ``is_subtype`` and ``canon`` answer
subtyping between engine ids (imports, ``call_indirect`` of a non-final type).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from cwasm.wasm.gc_types import (
    ArrayType,
    CompositeType,
    FieldType,
    StructType,
    SubType,
    full_sub_types,
    kind_of,
)
from cwasm.wasm.types import (
    ANYREF,
    CONCRETE_HEAP,
    KIND_FUNC,
    FuncType,
    RefType,
    TypeCanon,
    ValueType,
    close_func_type,
    ref_type,
)


class TypeRegistry:
    """Engine type ids of function, struct and array types (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: closed signature -> id, for the final function types of singleton groups
        self._func_ids: dict[FuncType, int] = {}
        #: recursion group key -> the id of its first type (the others follow)
        self._group_ids: dict[tuple[object, ...], int] = {}
        #: per id: the closed composite type, its kind and its supertype's id (-1: none)
        self._types: list[CompositeType] = []
        self._kinds: list[int] = []
        self._supers: list[int] = []
        self._canon: TypeCanon | None = None

    def type_id(self, ft: FuncType) -> int:
        """The id of closed signature ``ft`` as a final type without supertype."""
        tid = self._func_ids.get(ft)
        if tid is None:
            with self._lock:
                tid = self._func_ids.get(ft)
                if tid is None:
                    tid = self._append(ft, -1)
                    self._func_ids[ft] = tid
        return tid

    def _append(self, t: CompositeType, supertype: int) -> int:
        tid = len(self._types)
        self._types.append(t)
        self._kinds.append(kind_of(t))
        self._supers.append(supertype)
        self._canon = None
        return tid

    def ids_for(
        self, types: Sequence[CompositeType], sub_types: Sequence[SubType] = ()
    ) -> list[int]:
        """The ids of a module's types, in order."""
        ids: list[int] = []
        if not sub_types:  # Wasm 2.0's types: final function types, one per group
            for i, ft in enumerate(types):
                ids.append(self.type_id(close_func_type(ft, i, ids)))  # type: ignore[arg-type]
            return ids
        subs = full_sub_types(len(types), sub_types)
        n = len(types)
        i = 0
        while i < n:
            s = subs[i]
            start, end = i, i + s.group_size
            if s.group_size == 1 and s.final and s.supertype < 0 and type(types[i]) is FuncType:
                ids.append(self.type_id(close_func_type(types[i], i, ids)))  # type: ignore[arg-type]
                i = end
                continue
            key = tuple(_sub_key(types[k], subs[k], start, ids) for k in range(start, end))
            first = self._group_ids.get(key)
            if first is None:
                with self._lock:
                    first = self._group_ids.get(key)
                    if first is None:
                        first = len(self._types)
                        for k in range(start, end):
                            sup = subs[k].supertype
                            sup_id = (
                                -1
                                if sup < 0
                                else (ids[sup] if sup < start else first + sup - start)
                            )
                            self._append(_close(types[k], start, first, ids), sup_id)
                        self._group_ids[key] = first
            ids.extend(range(first, first + (end - start)))
            i = end
        return ids

    def func_type(self, type_id: int) -> FuncType:
        """The closed signature of function type ``type_id``."""
        return self._types[type_id]  # type: ignore[return-value]

    def composite_type(self, type_id: int) -> CompositeType:
        """The closed composite type of ``type_id``."""
        return self._types[type_id]

    def kind(self, type_id: int) -> int:
        """The kind of type ``type_id``: ``KIND_FUNC``, ``KIND_STRUCT`` or ``KIND_ARRAY``."""
        return self._kinds[type_id]

    def top(self, t: ValueType) -> ValueType:
        """The type whose representation the values of ``t`` (a value type closed over
        these ids) share: ``t.top``, but anyref for a concrete struct or array type,
        which ``RefType.top`` cannot tell from a function type (its code is an engine id,
        whose kind only this registry knows)."""
        top = t.top
        if isinstance(t, RefType) and t.heap >= CONCRETE_HEAP:
            if self._kinds[t.heap - CONCRETE_HEAP] != KIND_FUNC:
                return ANYREF
        return top

    def is_subtype(self, a: int, b: int) -> bool:
        """Whether type ``a`` is ``b`` or declares it among its supertypes."""
        supers = self._supers
        while a >= 0:
            if a == b:
                return True
            a = supers[a]
        return False

    @property
    def canon(self) -> TypeCanon:
        """The ``TypeCanon`` of the engine's ids (each its own representative), for
        ``val_subtype`` of closed value types."""
        c = self._canon
        if c is None:
            with self._lock:
                n = len(self._types)
                c = TypeCanon(range(n), tuple(self._kinds[:n]), tuple(self._supers[:n]))
                self._canon = c
        return c


def _ref_key(t: ValueType | int, start: int, ids: Sequence[int]) -> object:
    if isinstance(t, RefType):
        index = t.type_index
        if index is not None:
            if index >= start:
                return ("rec", t.nullable, index - start)
            return int(ref_type(t.nullable, CONCRETE_HEAP + ids[index]))
    return int(t)


def _sub_key(t: CompositeType, s: SubType, start: int, ids: Sequence[int]) -> object:
    def key(v: ValueType | int) -> object:
        return _ref_key(v, start, ids)

    sup: object = -1
    if s.supertype >= start:
        sup = ("rec", s.supertype - start)
    elif s.supertype >= 0:
        sup = ids[s.supertype]
    if type(t) is FuncType:
        body: object = (0, tuple(map(key, t.params)), tuple(map(key, t.results)))
    elif type(t) is StructType:
        body = (1, tuple((key(f.storage), f.mutable) for f in t.fields))
    else:
        e = t.element  # type: ignore[union-attr]
        body = (2, key(e.storage), e.mutable)
    return (sup, s.final, body)


def _close(t: CompositeType, start: int, first: int, ids: Sequence[int]) -> CompositeType:
    """``t`` with its type indices replaced by engine ids (those of its own group's
    types: ``first`` + their position)."""

    def close(v: ValueType | int) -> ValueType | int:
        if isinstance(v, RefType) and v.type_index is not None:
            index = v.type_index
            tid = first + index - start if index >= start else ids[index]
            return ref_type(v.nullable, CONCRETE_HEAP + tid)
        return v

    if type(t) is FuncType:
        return FuncType(tuple(map(close, t.params)), tuple(map(close, t.results)))  # type: ignore[arg-type]
    if type(t) is StructType:
        return StructType(tuple(FieldType(close(f.storage), f.mutable) for f in t.fields))
    e = t.element  # type: ignore[union-attr]
    return ArrayType(FieldType(close(e.storage), e.mutable))
