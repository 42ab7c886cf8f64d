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
import re
import threading
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


#: humantime's units (which Wasmtime's CLI parses durations with), in seconds
_DURATION_UNITS = {
    **dict.fromkeys(("nsec", "ns"), 1e-9),
    **dict.fromkeys(("usec", "us"), 1e-6),
    **dict.fromkeys(("msec", "ms"), 1e-3),
    **dict.fromkeys(("seconds", "second", "sec", "s"), 1.0),
    **dict.fromkeys(("minutes", "minute", "min", "m"), 60.0),
    **dict.fromkeys(("hours", "hour", "hr", "h"), 3600.0),
    **dict.fromkeys(("days", "day", "d"), 86400.0),
    **dict.fromkeys(("weeks", "week", "w"), 604800.0),
    **dict.fromkeys(("months", "month", "M"), 2630016.0),
    **dict.fromkeys(("years", "year", "y"), 31557600.0),
}
_DURATION_PART = re.compile(r"\s*(\d+)\s*([A-Za-z]*)")


def parse_duration(value: str | None) -> float:
    """A Wasmtime CLI duration in seconds: a bare integer is seconds, otherwise numbers
    with units as ``1s``, ``500ms``, ``1m 30s`` (humantime's syntax)."""
    if value is None:
        raise ValueError("value must be specified with `key=val` syntax")
    if not value.strip():
        raise ValueError("value was empty")
    if value.isdigit():
        return float(value)
    total, pos = 0.0, 0
    while pos < len(value):
        m = _DURATION_PART.match(value, pos)
        if m is None:
            if value[pos:].strip():
                raise ValueError(f"expected number at {pos}")
            break
        number, unit = m.groups()
        if not unit:
            raise ValueError("time unit needed, for example 1sec or 1ms")
        if unit not in _DURATION_UNITS:
            raise ValueError(
                f'unknown time unit "{unit}", supported units: ns, us, ms, sec, min, '
                "hours, days, weeks, months, years (and few variations)"
            )
        total += int(number) * _DURATION_UNITS[unit]
        pos = m.end()
    return total


def format_duration(seconds: float) -> str:
    """``seconds`` as the CLI shows a timeout (``1s``, ``500ms``)."""
    if seconds >= 1 and seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds * 1000:g}ms"


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


def _consume_fuel(config: Config, value: int) -> None:
    config.consume_fuel = True


def _set_fuel(store: Store, value: int) -> None:
    store.set_fuel(value)


def _epoch_interruption(config: Config, value: float) -> None:
    config.epoch_interruption = True


def _start_timeout(store: Store, seconds: float) -> None:
    """As Wasmtime's CLI: a deadline one epoch ahead, and a thread that ends the epoch
    once the time is up (the GIL is released while wasm runs, so it gets to run)."""
    store.set_epoch_deadline(1)
    timer = threading.Timer(seconds, store.engine.increment_epoch)
    timer.daemon = True
    timer.start()


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
        WasmOption(
            "fuel",
            "=N",
            "enable execution fuel with N units of fuel, trapping after running out of fuel "
            "(most instructions consume 1 unit; see docs/fuel-and-epochs.md)",
            parse_number,
            configure=_consume_fuel,
            prepare=_set_fuel,
        ),
        WasmOption(
            "timeout",
            "=N|Ns|Nms|..",
            "execution timeout for the program (built on epoch interruption): the guest "
            "traps once it runs longer",
            parse_duration,
            configure=_epoch_interruption,
            prepare=_start_timeout,
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


def timeout_of(options: list[tuple[WasmOption, Any]]) -> float | None:
    """The ``-W timeout`` in force (the last one given), if any."""
    found = None
    for option, value in options:
        if option.name == "timeout":
            found = value
    return found
