"""StoreLimits: the resource limits of a store (``Store.set_limits``), as Wasmtime's.

Wasmtime's ``StoreLimits`` bounds each linear memory's size in bytes and each table's
length in elements (no bound unless set), and counts the instances a store makes and
the memories and tables they define (10,000 of each unless set). A store consults them:

* when a memory or table is created (from Python or by an instantiation): its minimum
  size must be within the limit, else ``memory minimum size of N pages exceeds memory
  limits`` / ``table minimum size of N elements exceeds table limits``;
* when one grows (``memory.grow`` / ``table.grow`` in wasm, ``grow`` from Python): past
  the limit the growth fails (-1 in wasm, an error from Python) and nothing is
  committed; with ``trap_on_grow_failure`` (a Wasmtime CLI option) it traps instead;
* when a module is instantiated: ``resource limit exceeded: instance count too high at
  N`` (``memory``, ``table``: the counts of defined memories and tables).

A shared memory belongs to no store: a module's own is created within the instantiating
store's limits, and ``memory.grow`` in wasm asks the limits of the store it runs in
(whichever defined or imported the memory); a ``SharedMemory`` made or grown from Python
asks none, as in Wasmtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from cwasm.errors import CwasmError

#: Wasmtime's default limits on the counts of instances, memories and tables in a store
DEFAULT_INSTANCE_LIMIT = 10000
DEFAULT_TABLE_LIMIT = 10000
DEFAULT_MEMORY_LIMIT = 10000


class ResourceLimitError(CwasmError):
    """A store limit was reached (see ``StoreLimits``)."""


@dataclass(slots=True)
class StoreLimits:
    """The limits a store enforces (Wasmtime's ``StoreLimits``); ``None``: unbounded."""

    memory_size: int | None = None
    table_elements: int | None = None
    instances: int = DEFAULT_INSTANCE_LIMIT
    tables: int = DEFAULT_TABLE_LIMIT
    memories: int = DEFAULT_MEMORY_LIMIT
    trap_on_grow_failure: bool = False

    def memory_growing(self, desired: int, maximum: int | None) -> bool:
        """Whether a memory may grow to ``desired`` bytes (its maximum is ``maximum``)."""
        allow = (self.memory_size is None or desired <= self.memory_size) and (
            maximum is None or desired <= maximum
        )
        if not allow and self.trap_on_grow_failure:
            raise ResourceLimitError(f"forcing trap when growing memory to {desired} bytes")
        return allow

    def table_growing(self, desired: int, maximum: int | None) -> bool:
        """Whether a table may grow to ``desired`` elements (its maximum is ``maximum``)."""
        allow = (self.table_elements is None or desired <= self.table_elements) and (
            maximum is None or desired <= maximum
        )
        if not allow and self.trap_on_grow_failure:
            raise ResourceLimitError(f"forcing trap when growing table to {desired} elements")
        return allow


class ResourceCounts:
    """How many instances, and memories and tables defined by them, a store has made."""

    __slots__ = ("instances", "memories", "tables")

    def __init__(self) -> None:
        self.instances = 0
        self.memories = 0
        self.tables = 0

    def bump(self, limits: StoreLimits, memories: int, tables: int) -> None:
        """Count one more instance defining ``memories`` and ``tables``, or raise
        ``ResourceLimitError`` (counting nothing) if that passes a limit."""
        instances = self.instances + 1
        memories += self.memories
        tables += self.tables
        if instances > limits.instances or memories > limits.memories or tables > limits.tables:
            for what, new, limit in (
                ("instance", instances, limits.instances),
                ("memory", memories, limits.memories),
                ("table", tables, limits.tables),
            ):
                if new > limit:
                    raise ResourceLimitError(
                        f"resource limit exceeded: {what} count too high at {new}"
                    )
        self.instances = instances
        self.memories = memories
        self.tables = tables
