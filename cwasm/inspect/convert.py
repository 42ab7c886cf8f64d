"""Decoded records as JSON values, and short previews of byte strings, for ``cwasm inspect``."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]

PREVIEW_BYTES = 64


def to_json(value: Any) -> Any:
    """Convert decoded records (dataclasses, enums, ranges, bytes...) to JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, range):
        return {"start": value.start, "end": value.stop}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Sequence) and not isinstance(value, str):  # packed tables too
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def preview(data: bytes) -> Json:
    head = data[:PREVIEW_BYTES]
    return {
        "size": len(data),
        "nonzero_bytes": len(data) - data.count(0),
        "preview_hex": head.hex(),
        "preview_text": head.decode("latin-1").encode("unicode_escape").decode("ascii"),
    }


def nonzero_ranges(body: bytes, base: int, limit: int = 16) -> list[Json]:
    """Runs of non-zero bytes in a memory image, as linear-memory address ranges."""
    runs: list[Json] = []
    i, n = 0, len(body)
    while i < n and len(runs) < limit:
        while i < n and body[i] == 0:
            i += 1
        if i == n:
            break
        j = i
        while j < n and body[j] != 0:
            j += 1
        runs.append({"start": base + i, "end": base + j})
        i = j
    return runs
