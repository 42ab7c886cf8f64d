"""The exception types every part of cwasm raises, rooted in one base class, and the layout
of error texts with causes (``error_chain``)."""

from __future__ import annotations

from collections.abc import Sequence


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


def error_chain(messages: Sequence[str]) -> str:
    """An error and its causes (outermost first) in anyhow's ``{:?}`` layout, which is what
    Wasmtime's error texts are: ``head``, then ``Caused by:`` and the causes, indented (and
    numbered when there are several)."""
    head, *causes = messages
    if not causes:
        return head
    lines = [head, "", "Caused by:"]
    for n, cause in enumerate(causes):
        first, *rest = cause.split("\n")
        if len(causes) == 1:
            lines.append(f"    {first}")
            lines.extend(f"    {line}" for line in rest)
        else:
            lines.append(f"{n:>5}: {first}")
            lines.extend(f"       {line}" for line in rest)
    return "\n".join(lines)


class NotCompiledError(CwasmError):
    """The module validates, but uses a feature cwasm does not compile yet (the GC
    proposal's instructions and references)."""
