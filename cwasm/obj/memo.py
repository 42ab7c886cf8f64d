"""Verdicts of the artifact checks, remembered by the exact bytes they were made on.

Decoding and checking an artifact's metadata (the engine record, the info record) is a
pure function of bytes: the same bytes always decode to the same immutable record and
pass or fail the same checks. A process that loads the same artifact again (a server
instantiating one module per request, a test suite) therefore need not redo that work.
A ``VerdictMemo`` keeps the results of the last few *successful* checks, keyed by
everything the check read — the section's bytes themselves (compared in full, not by a
digest) and every size it was checked against — so a lookup can only return what the
full check would have returned. Failures are never remembered: a bad artifact is checked
(and refused, with its message) every time.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

#: how many verdicts each memo keeps (the oldest goes first)
DEFAULT_CAPACITY = 64
#: how many bytes of keys each memo keeps at most (the keys hold whole sections)
DEFAULT_MAX_BYTES = 8 << 20


def _key_bytes(key: Hashable) -> int:
    """The bytes a key holds (its ``bytes`` parts)."""
    if isinstance(key, bytes):
        return len(key)
    if isinstance(key, tuple):
        return sum(len(k) for k in key if isinstance(k, bytes))
    return 0


class VerdictMemo(Generic[V]):
    """A bounded, thread-safe map from the full inputs of a check to its result: at most
    ``capacity`` entries and ``max_bytes`` bytes of keys; a key larger than that is not
    remembered at all."""

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.held_bytes = 0
        self._items: dict[Hashable, tuple[V, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The result remembered for exactly ``key``, or None."""
        item = self._items.get(key)
        return None if item is None else item[0]

    def put(self, key: Hashable, value: V, size: int | None = None) -> None:
        """Remember ``value`` for ``key``, forgetting the oldest entries to make room;
        ``size`` is what the entry holds (by default the bytes of its key)."""
        if size is None:
            size = _key_bytes(key)
        if size > self.max_bytes:
            return
        with self._lock:
            items = self._items
            old = items.pop(key, None)
            if old is not None:
                self.held_bytes -= old[1]
            while items and (
                len(items) >= self.capacity or self.held_bytes + size > self.max_bytes
            ):
                self.held_bytes -= items.pop(next(iter(items)))[1]
            items[key] = (value, size)
            self.held_bytes += size

    def clear(self) -> None:
        """Forget everything (tests use it to measure the checks themselves)."""
        with self._lock:
            self._items.clear()
            self.held_bytes = 0

    def __len__(self) -> int:
        return len(self._items)


class SameBytesMemo(VerdictMemo[bytes]):
    """Whole byte strings a check passed on, found by a cheap ``tag`` (say, their length
    and the checksum they carry) and then compared in full: ``seen`` is true only for
    the very bytes the check passed on, for the price of a ``memcmp`` instead of the
    check. Bounded as ``VerdictMemo`` is, by the strings' bytes (it holds the caller's
    immutable ``bytes`` objects, not copies); thread-safe."""

    def seen(self, tag: Hashable, data: bytes) -> bool:
        """Whether ``data`` is, byte for byte, the string remembered under ``tag``."""
        remembered = self.get(tag)
        return remembered is not None and remembered == data

    def remember(self, tag: Hashable, data: bytes) -> None:
        """Remember that the check passed on ``data`` (found again under ``tag``),
        forgetting the oldest strings to make room."""
        self.put(tag, data, len(data))
