"""``cwasm run -W KEY[=VALUE]``: the Wasmtime CLI's ``-W`` (``--wasm``) options.

As in Wasmtime's CLI, ``-W`` may be repeated and each takes a comma-separated list
(``-W max-memory-size=65536,trap-on-grow-failure``); an unknown key is refused
(``unknown -W / --wasm option: KEY``), as is a value that does not parse (``failed to
parse -W option `KEY=VALUE`: ...``). Numbers may contain ``_`` and start with ``0x``;
booleans are ``y``/``yes``/``true`` (or nothing) and ``n``/``no``/``false``.

Every key is one entry of ``WASM_OPTIONS``: its value parser, its help text, and what
it does to the ``Config`` before the engine is made (``configure``) or to the store
before the program is instantiated (``prepare``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cwasm.runtime.config import Config
    from cwasm.runtime.store import Store


def parse_number(value: str | None) -> int:
    """A Wasmtime CLI number: decimal or ``0x`` hexadecimal, ``_`` ignored."""
    if value is None:
        raise ValueError("value must be specified with `key=val` syntax")
    text = value.replace("_", "")
    if text.startswith("0x"):
        return int(text[2:], 16)
    if not text.isdigit():
        raise ValueError(f"invalid digit found in string `{value}`")
    return int(text)


def parse_bool(value: str | None) -> bool:
    """A Wasmtime CLI boolean: nothing, ``y``, ``yes``, ``true``; ``n``, ``no``, ``false``."""
    if value in (None, "y", "yes", "true"):
        return True
    if value in ("n", "no", "false"):
        return False
    raise ValueError(f"unknown boolean flag `{value}`, only yes,no,<nothing> accepted")


@dataclass(frozen=True, slots=True)
class WasmOption:
    """One ``-W`` key."""

    name: str
    value_help: str
    help: str
    parse: Callable[[str | None], Any]
    #: applied to the engine's ``Config`` before the engine is made
    configure: Callable[[Config, Any], None] | None = None
    #: applied to the store before the program is instantiated
    prepare: Callable[[Store, Any], None] | None = None


def _limit(name: str) -> Callable[[Store, Any], None]:
    """Set one of ``Store.set_limits``' limits, keeping the others."""

    def prepare(store: Store, value: int) -> None:
        setattr(store.limits, name, value)

    return prepare


def _trap_on_grow_failure(store: Store, value: bool) -> None:
    store.limits.trap_on_grow_failure = value


#: every ``-W`` key cwasm knows, by its Wasmtime CLI spelling
WASM_OPTIONS: dict[str, WasmOption] = {
    o.name: o
    for o in (
        WasmOption(
            "max-memory-size",
            "=N",
            "maximum size, in bytes, that a linear memory is allowed to reach "
            "(memory.grow past it returns -1)",
            parse_number,
            prepare=_limit("memory_size"),
        ),
        WasmOption(
            "max-table-elements",
            "=N",
            "maximum size, in table elements, that a table is allowed to reach",
            parse_number,
            prepare=_limit("table_elements"),
        ),
        WasmOption(
            "max-instances",
            "=N",
            "maximum number of WebAssembly instances allowed to be created",
            parse_number,
            prepare=_limit("instances"),
        ),
        WasmOption(
            "max-tables",
            "=N",
            "maximum number of WebAssembly tables allowed to be created",
            parse_number,
            prepare=_limit("tables"),
        ),
        WasmOption(
            "max-memories",
            "=N",
            "maximum number of WebAssembly linear memories allowed to be created",
            parse_number,
            prepare=_limit("memories"),
        ),
        WasmOption(
            "trap-on-grow-failure",
            "[=y|n]",
            "trap when memory.grow or table.grow fails instead of returning -1",
            parse_bool,
            prepare=_trap_on_grow_failure,
        ),
    )
}


def parse_wasm_options(text: str) -> list[tuple[WasmOption, Any]]:
    """One ``-W`` argument: ``KEY[=VALUE][,KEY[=VALUE]...]`` (argparse's ``type``)."""
    result = []
    for item in text.split(","):
        key, eq, value = item.partition("=")
        option = WASM_OPTIONS.get(key)
        if option is None:
            raise argparse.ArgumentTypeError(f"unknown -W / --wasm option: {key}")
        try:
            result.append((option, option.parse(value if eq else None)))
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"failed to parse -W option `{item}`: {e}") from e
    return result


def configure(config: Config, options: list[tuple[WasmOption, Any]]) -> None:
    """Apply the options that change the engine's configuration (later ones win)."""
    for option, value in options:
        if option.configure is not None:
            option.configure(config, value)


def prepare(store: Store, options: list[tuple[WasmOption, Any]]) -> None:
    """Apply the options that change the store (later ones win)."""
    for option, value in options:
        if option.prepare is not None:
            option.prepare(store, value)
