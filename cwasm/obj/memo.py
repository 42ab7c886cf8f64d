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


class VerdictMemo(Generic[V]):
    """A bounded, thread-safe map from the full inputs of a check to its result."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._items: dict[Hashable, V] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The result remembered for exactly ``key``, or None."""
        return self._items.get(key)

    def put(self, key: Hashable, value: V) -> None:
        """Remember ``value`` for ``key``, forgetting the oldest entry when full."""
        with self._lock:
            items = self._items
            if key not in items and len(items) >= self.capacity:
                del items[next(iter(items))]
            items[key] = value

    def clear(self) -> None:
        """Forget everything (tests use it to measure the checks themselves)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
