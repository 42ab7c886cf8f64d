"""``.wasmtime.bti``: the one-byte flag saying whether branch-target identification is on."""

from __future__ import annotations

from cwasm.obj.errors import CorruptArtifactError


def encode_bti(enabled: bool) -> bytes:
    return b"\x01" if enabled else b"\x00"


def decode_bti(section: bytes | memoryview) -> bool:
    """True if BTI is enabled; any nonzero byte counts, as in Wasmtime's loader."""
    if len(section) != 1:
        raise CorruptArtifactError(
            f"invalid `.wasmtime.bti` section: {len(section)} bytes, expected exactly 1"
        )
    return section[0] != 0
