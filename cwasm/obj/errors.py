"""The artifact layer's error types: every one is an ``ArtifactError`` saying what is wrong."""

from __future__ import annotations

from cwasm.errors import ArtifactError


class ElfError(ArtifactError):
    """The bytes are not a well-formed ELF64 file (bad header, table out of bounds...)."""


class NotAnArtifactError(ArtifactError):
    """The bytes are not a compiled artifact at all (for example a ``.wasm`` module)."""


class CorruptArtifactError(ArtifactError):
    """The artifact's sections or metadata are missing, inconsistent or out of bounds."""


class ChecksumMismatchError(CorruptArtifactError):
    """The ``.cwasm.checksum`` digest does not match the file: it was modified or damaged."""


class IncompatibleArtifactError(ArtifactError):
    """The artifact is intact but was compiled for another target, format or settings."""


class ForeignArtifactError(IncompatibleArtifactError):
    """The artifact was produced by another engine (Wasmtime); cwasm can inspect, not run it."""


class UnauthenticatedArtifactError(ArtifactError):
    """The engine has an artifact key and the artifact's MAC does not verify under it."""
