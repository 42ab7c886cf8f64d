"""Externrefs: a store's table of the host objects wasm holds, and its collector.

Compiled code sees an externref as a 64-bit word (0 is null), the GC proposal's word
(docs/gc.md): a host object's is its *handle* shifted up and tagged, ``handle << 2 | 2``;
the store's ``ExternRefTable`` maps each such word to its object and keeps that object
alive. Handles count up from 1 and are never reused, so a handle that outlived its
object (which the collector rules out) would decode to an error, never to another
object. An externref made by ``extern.convert_any`` from an ``i31`` holds the ``i31``'s
word, which decodes to its ``AnyRef`` (``cwasm.runtime.anyref``).

Compiled code has no write barriers and no stack maps, so the collector works from
what the runtime can see (docs/externref.md says why this is safe and what it costs):

* roots: every element of the store's externref tables and every externref global,
  host-created or defined by an instance (``add_table`` / ``add_global``);
* while an activation of the store is live (the store context's entry depth is
  non-zero) wasm frames may hold any handle in registers or spill slots, so nothing is
  released then;
* the GC heap's live objects: ``collect`` collects the heap first, and its collector
  reports the host words it finds in live objects' fields and elements;
* the heap's other root sources: the instances' evaluated element segments and the
  exception arena (an exception's payload, an ``exnref`` stored away); the arena's
  words are taken as they are, so a payload word that only looks like a handle keeps
  that handle too (never the other way round);
* ``collect`` (``Store.gc()`` and the automatic collections) releases every handle no
  root holds; ``release_unreferenced`` releases one handle at once after Python
  overwrote the element or global that held it.

Collections run automatically once the table has grown by ``MIN_COLLECTION_INTERVAL``
handles or by as many as the last collection had to look at, whichever is more, so the
work per handle stays constant. The call paths from Python check ``due`` before they
encode their arguments: a handle encoded but not yet passed to wasm is held by no root.
"""

from __future__ import annotations

import ctypes
import sys
from typing import TYPE_CHECKING, Any, Final

from cwasm.errors import CwasmError
from cwasm.runtime.anyref import HOST_SHIFT, HOST_TAG, AnyRef, internal_word_to_anyref, is_host_word
from cwasm.runtime.types import Val
from cwasm.wasm.types import ANYREF, EXNREF, ValType

if TYPE_CHECKING:
    from cwasm.runtime.global_ import Global
    from cwasm.runtime.table import Table

#: the top types whose words may be host references (``any.convert_extern``)
HOST_HOLDING: Final = frozenset((ValType.EXTERNREF, ANYREF))

#: fewest handles created between two automatic collections
MIN_COLLECTION_INTERVAL: Final = 1024


def _may_hold_objects(t: Any) -> bool:
    """Whether values of type ``t`` may be GC objects: its words are roots of the GC
    heap (a concrete reference type counts: the collector follows only objects)."""
    return bool(t.is_ref) and t.top != EXNREF


_root_kinds_of: dict[Any, tuple[bool, bool]] = {}


def _root_kinds(t: Any) -> tuple[bool, bool]:
    """Whether values of type ``t`` may be host references (externref roots) and whether
    they may be GC objects (``_may_hold_objects``), worked out once per type."""
    kinds = _root_kinds_of.get(t)
    if kinds is None:
        kinds = _root_kinds_of[t] = (t.top in HOST_HOLDING, _may_hold_objects(t))
    return kinds


def _holds_word(data: bytes, word: bytes) -> bool:
    """Whether ``data``, a sequence of 8-byte words, contains ``word`` as one of them."""
    at = data.find(word)
    while at >= 0:
        if at % 8 == 0:
            return True
        at = data.find(word, at + 1)
    return False


class ExternRefTable:
    """A store's externrefs: handle ↔ object, the roots, and their collection."""

    __slots__ = (
        "due",
        "_depth",
        "_objects",
        "_handles",
        "_next_handle",
        "_tables",
        "_globals",
        "_collect_at",
        "gc_heap",
    )

    def __init__(self, entry_depth: ctypes.c_uint64) -> None:
        #: the table has grown enough that the next safe point should ``collect``
        self.due = False
        self._depth = entry_depth  # the store context's count of live entry trampolines
        self._objects: dict[int, Any] = {}  # word (handle << 2 | 2) -> object
        self._handles: dict[int, int] = {}  # id(object) -> word
        self._next_handle = 1
        self._tables: list[Table] = []
        self._globals: list[Global] = []
        self._collect_at = MIN_COLLECTION_INTERVAL
        #: the store's GC heap, whose objects an externref may hold (``extern.convert_any``)
        self.gc_heap: Any = None

    def __len__(self) -> int:
        """The number of live handles."""
        return len(self._objects)

    # --- conversions ---

    def to_bits(self, value: Any) -> int:
        """The word of ``value`` (unboxed from a ``Val``), its handle made on first use; 0
        for None. An ``AnyRef`` gives its own word (``extern.convert_any``)."""
        if isinstance(value, Val):
            value = value.value
        if value is None:
            return 0
        if type(value) is AnyRef:
            return value.word(self.to_bits, self.gc_heap)
        key = id(value)
        h = self._handles.get(key)
        if h is None:
            h = self._next_handle << HOST_SHIFT | HOST_TAG
            self._next_handle += 1
            self._objects[h] = value
            self._handles[key] = h
            if len(self._objects) >= self._collect_at:
                self.due = True
        return h

    def from_bits(self, bits: int) -> Any:
        """The object behind word ``bits``; None for 0, an ``AnyRef`` for an ``i31``'s or
        an object's."""
        if bits == 0:
            return None
        try:
            return self._objects[bits]
        except KeyError:
            if not is_host_word(bits):
                return internal_word_to_anyref(bits, self.gc_heap)
            raise CwasmError(f"invalid externref handle {bits:#x}") from None

    # --- roots ---

    def add_table(self, table: Table) -> None:
        """Count ``table``'s elements as roots if it holds externrefs (it must live as long
        as the store)."""
        host, objects = _root_kinds(table.wasm_type.element)
        if host:
            self._tables.append(table)
        if objects and self.gc_heap is not None:
            self.gc_heap.add_table(table)

    def add_global(self, glob: Global) -> None:
        """Count ``glob`` as a root if it holds an externref (it must live as long as the
        store)."""
        host, objects = _root_kinds(glob.wasm_type.content)
        if host:
            self._globals.append(glob)
        if objects and self.gc_heap is not None:
            self.gc_heap.add_global(glob)

    # --- collection ---

    def handle_bound(self) -> int:
        """One more than the largest handle handed out so far (0 when none is live): the
        GC heap's collector reports the handles below it that live objects hold."""
        return self._next_handle if self._objects else 0

    def collect(self, collect_heap: bool = True) -> int:
        """Release every handle no table element, global or live GC object holds; the
        number released. The GC heap is collected first (``collect_heap``; False when the
        caller just did), so that the handles its live objects hold are known. Releases
        nothing while an activation of the store is live."""
        if self._depth.value:
            return 0
        held: set[int] = set()
        heap = self.gc_heap
        if heap is not None:
            if heap.reserved:
                if collect_heap:
                    heap.collect()
                held.update(heap.held_handles)
            held.update(heap.source_words())
        scanned = len(self._globals)
        for table in self._tables:
            words = memoryview(table.raw_elements()).cast("Q")
            scanned += len(words)
            held.update(words)
        held.update(glob.read_raw() for glob in self._globals)
        dead = [h for h in self._objects if h not in held]
        released = [self._forget(h) for h in dead]
        live = len(self._objects)
        self._collect_at = live + max(MIN_COLLECTION_INTERVAL, live + scanned)
        self.due = False
        # the objects' destructors run here, once the table is consistent again
        released.clear()
        return len(dead)

    def collect_if_due(self) -> None:
        """``collect`` if the table has grown enough since the last collection."""
        if self.due:
            self.collect()

    def release_unreferenced(self, bits: int) -> None:
        """Release handle ``bits`` if no table element, global, element segment or
        exception holds it any more, after Python overwrote one that did. Keeps it while
        an activation of the store is live, and while the store's GC heap has objects
        (one of them may hold it)."""
        if bits == 0 or bits not in self._objects or self._depth.value:
            return
        heap = self.gc_heap
        if heap is not None:
            if heap.reserved:
                return  # a GC object may hold it: the next ``collect`` knows
            if bits in heap.source_words():
                return
        for glob in self._globals:
            if glob.read_raw() == bits:
                return
        word = bits.to_bytes(8, sys.byteorder)
        for table in self._tables:
            if _holds_word(table.raw_elements(), word):
                return
        released = self._forget(bits)
        del released  # its destructor runs here

    def _forget(self, bits: int) -> Any:
        """Drop handle ``bits``; its object, for the caller to let go of."""
        obj = self._objects.pop(bits)
        del self._handles[id(obj)]
        return obj
