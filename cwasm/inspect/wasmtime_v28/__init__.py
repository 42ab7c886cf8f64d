"""Decoders for the Wasmtime-specific sections of a genuine v28 artifact (FORMAT.md §2.1, §2.11)."""

from cwasm.inspect.wasmtime_v28.info import *  # noqa: F403
