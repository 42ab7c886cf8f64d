"""The exception types every part of cwasm raises, rooted in one base class."""

from __future__ import annotations


class CwasmError(Exception):
    """Base of every error cwasm raises on purpose."""


class WasmError(CwasmError):
    """A WebAssembly binary could not be decoded or validated.

    ``message`` is the spec's wording where it has one (``unexpected end``,
    ``type mismatch``...), ``offset`` the byte offset in the module where the
    problem was found.
    """

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset:#x})")
        self.message = message
        self.offset = offset


class MalformedError(WasmError):
    """The bytes are not a well-formed binary module (the spec's *malformed*)."""


class InvalidError(WasmError):
    """The module decodes but does not validate (the spec's *invalid*)."""


class ArtifactError(CwasmError):
    """A compiled artifact is corrupt, truncated, foreign or incompatible."""


class LinkError(CwasmError):
    """Instantiation failed: an import is missing or has an incompatible type."""
