"""Address → object lookups: ``AddressRegistry`` and the runtime's two registries.

Native code hands the runtime bare addresses — a vmctx, a funcref, a return address
— and the runtime must find the Python object behind each. An ``AddressRegistry``
maps non-overlapping half-open ranges ``[start, end)`` to live objects: ``at(start)``
finds the object registered at exactly ``start`` (one dict look-up, for the hot
paths), ``lookup(addr)`` the one whose range contains ``addr`` (a bisection). Objects
are held weakly and leave the registry when they die.

Both registries are process-wide, not per ``Store``:

* ``INSTANCES`` (vmctx range → ``Instance``): the builtins are plain C callbacks
  shared by every instance of every store (their addresses are in each module's
  vmctx image), and compiled code passes them only its vmctx, so they must find the
  instance from that address alone; a per-store registry would first need a
  process-wide store-by-context look-up on that path. Host functions (the caller's
  vmctx) and funcref values (an address inside some vmctx) use the same registry.
  The ``Store`` still owns its instances, in the sense that it keeps them alive;
  this registry only indexes them, and vmctx addresses are unique in the process.
* ``CODE`` (mapped ``.text`` range → ``CompiledModule``): a trap's return addresses
  may belong to any loaded module, and a module is shared by the stores of its
  engine.

Registration may happen on several threads (stores created in parallel) and is
serialised by a lock. Look-ups, on the host-call path, take it only to confirm a miss:
each change of the sorted start list is one list operation (atomic under the GIL), and
a hit is checked against its entry (its range contains the address and its object
lives; live ranges never overlap), so a look-up racing a registration can only miss,
and then retries under the lock. A dying object's weak-reference callback only queues
the reference; the next registration removes the entry (until then look-ups find the
reference dead), so the garbage collector never waits for the lock.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from cwasm.runtime.instance import Instance
    from cwasm.runtime.module import CompiledModule

T = TypeVar("T")


class _Ref(weakref.ref[T]):
    """A registered object's weak reference, which remembers where it was registered."""

    __slots__ = ("start",)
    start: int


class AddressRegistry(Generic[T]):
    """Live objects by the address range ``[start, end)`` each occupies; ranges never overlap."""

    def __init__(self, what: str) -> None:
        self.what = what  # what the ranges are, for error messages
        # reentrant: code run by the garbage collector inside a registration may look up
        self._lock = threading.RLock()
        #: the start addresses in ascending order
        self._starts: list[int] = []
        #: start -> (end, the object)
        self._entries: dict[int, tuple[int, _Ref[T]]] = {}
        #: the references of objects that died, for the next registration to remove
        self._dead: deque[_Ref[T]] = deque()

    def register(self, start: int, end: int, obj: T) -> None:
        """Map ``[start, end)`` to ``obj`` until ``obj`` dies or ``unregister(start)``.

        Raises ``ValueError`` for an empty range or one that overlaps a live object's.
        """
        if not 0 <= start < end:
            raise ValueError(f"empty {self.what} range [{start:#x}, {end:#x})")
        ref = _Ref(obj, self._dead.append)
        ref.start = start
        entry = (end, ref)
        with self._lock:
            if self._dead:
                self._remove_dead()
            starts, entries = self._starts, self._entries
            lo = bisect.bisect_left(starts, start)
            hi = bisect.bisect_left(starts, end, lo)
            if lo and self._live_end(starts[lo - 1]) > start:
                raise self._overlap(start, end)
            if lo == hi:
                entries[start] = entry
                starts.insert(lo, start)
            else:  # only dead objects, not yet removed, may start inside
                if any(self._live_end(starts[k]) > starts[k] for k in range(lo, hi)):
                    raise self._overlap(start, end)
                for k in range(lo, hi):
                    entries.pop(starts[k], None)
                entries[start] = entry
                starts[lo:hi] = [start]

    def unregister(self, start: int) -> None:
        """Forget the object registered at ``start`` (nothing if there is none)."""
        with self._lock:
            self._remove(start)

    def at(self, start: int) -> T | None:
        """The live object registered at exactly ``start``, or None."""
        entry = self._entries.get(start)
        return entry[1]() if entry is not None else None

    def lookup(self, addr: int) -> T | None:
        """The live object whose range contains ``addr``, or None."""
        found = self._find(addr)
        if found is None:  # a registration may have moved the list under our feet
            with self._lock:
                found = self._find(addr)
        return found

    def _find(self, addr: int) -> T | None:
        starts = self._starts
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0:
            return None
        try:
            start = starts[i]
        except IndexError:
            return None
        entry = self._entries.get(start)
        if entry is None or not start <= addr < entry[0]:
            return None
        return entry[1]()

    # --- under the lock ---

    def _overlap(self, start: int, end: int) -> ValueError:
        return ValueError(f"{self.what} range [{start:#x}, {end:#x}) overlaps a registered one")

    def _live_end(self, start: int) -> int:
        """The end of the range at ``start`` if its object lives, else ``start``."""
        entry = self._entries.get(start)
        if entry is None or entry[1]() is None:
            return start
        return entry[0]

    def _remove(self, start: int) -> None:
        starts = self._starts
        i = bisect.bisect_left(starts, start)
        if i < len(starts) and starts[i] == start:
            del starts[i]
        self._entries.pop(start, None)

    def _remove_dead(self) -> None:
        while self._dead:
            ref = self._dead.popleft()
            entry = self._entries.get(ref.start)
            if entry is not None and entry[1] is ref:  # not since reused by another object
                self._remove(ref.start)


#: every live instance, by the range of its vmctx
INSTANCES: AddressRegistry[Instance] = AddressRegistry("vmctx")
#: every loaded module mapped for execution, by the range of its code
CODE: AddressRegistry[CompiledModule] = AddressRegistry("code")
