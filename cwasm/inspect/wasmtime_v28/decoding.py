"""What every Wasmtime v28 section decoder shares: the error type and small postcard readers."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TypeVar

from cwasm.errors import ArtifactError
from cwasm.obj.postcard import Reader

T = TypeVar("T")

#: ``FuncRefIndex`` / ``FilePos`` / trampoline-type value meaning "none".
RESERVED_INDEX = 0xFFFFFFFF


class WasmtimeFormatError(ArtifactError):
    """A Wasmtime section does not decode with the v28 schema."""


class decoding:
    """Context manager: re-raise stray Python errors of a decoder as format errors."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, (ValueError, IndexError, KeyError, OverflowError, struct.error)):
            if not isinstance(exc, ArtifactError):
                raise WasmtimeFormatError(f"cannot decode {self.what}: {exc}") from exc


def tuple_of(r: Reader, item: Callable[[], T]) -> tuple[T, ...]:
    return tuple(r.seq(item))


def range32(r: Reader) -> range:
    start, end = r.u32(), r.u32()
    if end < start:
        raise WasmtimeFormatError(f"range {start}..{end} ends before it starts")
    return range(start, end)


def range64(r: Reader) -> range:
    start, end = r.u64(), r.u64()
    if end < start:
        raise WasmtimeFormatError(f"range {start}..{end} ends before it starts")
    return range(start, end)
