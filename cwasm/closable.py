"""``Closable``: ``close()`` and ``with`` for the API objects wasmtime-py lets you close.

wasmtime-py's ``Config``, ``Engine``, ``Store``, ``Module``, ``Linker`` and ``WasiConfig``
own a native object that ``close()`` frees; using one afterwards raises ``ValueError``.
cwasm's objects keep that contract: Python frees their memory when the last reference
goes, and ``close()`` ends their use (and releases what they hold that Python would not
free by itself, such as a store's open WASI files).
"""

from __future__ import annotations

from typing import Any, Self


class Closable:
    """An object with wasmtime-py's ``close()`` and context-manager protocol."""

    # set by ``close()``; unset (open) until then, so subclasses need not initialise it
    # (those on hot paths set it to False: a missing attribute makes each check slower)
    __slots__ = ("_closed",)

    def close(self) -> None:
        """Closes this object, or deallocates it. Further usage of this object will raise a
        ``ValueError``. Closing it again does nothing."""
        if not getattr(self, "_closed", False):
            self._closed = True
            self._release()

    def _release(self) -> None:
        """Let go of what the object holds (run once, by the first ``close()``)."""

    def _check_open(self) -> None:
        """Raise ``ValueError`` (wasmtime-py's ``already closed``) if the object is closed."""
        if getattr(self, "_closed", False):
            raise ValueError("already closed")

    def __enter__(self) -> Self:
        """Entry part of the contextlib protocol: returns the object itself."""
        return self

    def __exit__(self, *exc: Any) -> None:
        """Exit part of the contextlib protocol: calls ``close``."""
        self.close()
