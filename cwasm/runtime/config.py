"""Config: the settings of an ``Engine``, wasmtime-py's and cwasm's own.

Every setting of wasmtime-py 28's ``Config`` exists, with its checks and errors; each
either works or makes ``Engine(config)`` refuse the configuration with an error saying
cwasm does not support it (as Wasmtime refuses invalid configurations when the engine
is created, not when a setting is made). Unknown attributes raise ``AttributeError``.
An ``Engine`` consumes its ``Config``: a second ``Engine(config)``, and any setting
made afterwards, raise ``ValueError`` (wasmtime-py's ``already closed``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from cwasm.closable import Closable
from cwasm.errors import CwasmError, error_chain
from cwasm.wasm.types import OFF_BY_DEFAULT_PROPOSALS, SWITCHABLE_PROPOSALS

_OPT_LEVELS = {"none": 0, "speed": 2, "speed_and_size": 2}

#: the WebAssembly proposals a Config can turn off: setting -> feature name (as the engine
#: metadata of artifacts records it)
WASM_FEATURE_SETTINGS = {f"wasm_{name}": name for name in SWITCHABLE_PROPOSALS}
#: boolean settings cwasm cannot honour when True: setting -> what it would turn on
UNSUPPORTED_SETTINGS = {
    "debug_info": "DWARF debug information for the generated code",
}
#: settings that add checks to the generated code (recorded in the artifact)
INTERRUPT_SETTINGS = ("consume_fuel", "epoch_interruption")
#: boolean settings that are recorded but change nothing in cwasm
_RECORDED_SETTINGS = (
    "wasm_relaxed_simd_deterministic",  # recorded as a wasm feature by the Engine
    "cranelift_debug_verifier",  # LLVM verifies every module it compiles anyway
)
_DEFAULTS: dict[str, bool] = {
    **dict.fromkeys(WASM_FEATURE_SETTINGS, True),
    **{f"wasm_{name}": False for name in OFF_BY_DEFAULT_PROPOSALS},
    **dict.fromkeys(UNSUPPORTED_SETTINGS, False),
    **dict.fromkeys(INTERRUPT_SETTINGS, False),
    **dict.fromkeys(_RECORDED_SETTINGS, False),
    "parallel_compilation": True,
}
#: the keys of a Wasmtime cache configuration file's ``[cache]`` table
_CACHE_KEYS = (
    "enabled",
    "directory",
    "worker-event-queue-size",
    "baseline-compression-level",
    "optimized-compression-level",
    "optimized-compression-usage-counter-threshold",
    "cleanup-interval",
    "optimizing-compression-task-timeout",
    "allowed-clock-drift-for-files-from-future",
    "file-count-soft-limit",
    "files-total-size-soft-limit",
    "file-count-limit-percent-if-deleting",
    "files-total-size-limit-percent-if-deleting",
)


def _setting(name: str, doc: str, check_bool: bool = True) -> property:
    """A boolean setting of wasmtime-py's ``Config`` (readable here, too)."""

    def get(self: Config) -> bool:
        return self._settings[name]

    def set(self: Config, enable: bool) -> None:
        self._check_open()
        if check_bool and not isinstance(enable, bool):
            raise TypeError("expected a bool")
        self._settings[name] = bool(enable)

    return property(get, set, doc=doc)


def read_cache_config(path: str) -> Path | bool:
    """The compile cache a Wasmtime cache configuration file (TOML) describes: its
    directory, ``True`` for the default one, or ``False`` if it disables caching."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise CwasmError(
            error_chain(
                [f"failed to read config file: {path}", f"{e.strerror} (os error {e.errno})"]
            )
        ) from None

    def fail(why: str) -> CwasmError:
        return CwasmError(error_chain([f"failed to parse config file: {path}", why]))

    try:
        doc = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise fail(str(e)) from None
    for key in doc:
        if key != "cache":
            raise fail(f"unknown field `{key}`, expected `cache`")
    table = doc.get("cache")
    if not isinstance(table, dict):
        raise fail("missing field `cache`")
    for key in table:
        if key not in _CACHE_KEYS:
            expected = ", ".join(f"`{k}`" for k in _CACHE_KEYS)
            raise fail(f"unknown field `{key}`, expected one of {expected}")
    enabled = table.get("enabled")
    if not isinstance(enabled, bool):
        raise fail("missing field `enabled`" if enabled is None else "invalid type for `enabled`")
    directory = table.get("directory")
    if not enabled:
        return False
    if directory is None:
        return True
    if not isinstance(directory, str):
        raise fail("invalid type for `directory`")
    return Path(directory).expanduser()


class Config(Closable):
    """Global configuration, used to create an ``Engine``.

    A ``Config`` houses a number of configuration options which tweaks how wasm code is
    compiled or generated. wasmtime-py's settings are below, each with its own
    docstring; cwasm's own are:

    ``opt_level`` 0–3 (default 2; ``cranelift_opt_level`` sets it by wasmtime-py's
    names), ``target`` (a triple; empty = this machine), ``max_wasm_stack`` (bytes of
    native stack wasm may use), ``memory_reservation`` (the most address space one
    linear memory reserves, which also caps how far it can grow),
    ``max_table_elements`` (the most elements a table may grow to) and
    ``bounds_checks`` (``"explicit"``, or ``"guard-pages"`` on x86-64 Linux: no checks,
    out-of-bounds accesses fault into a signal handler; ``None``, the default, picks
    ``CWASM_BOUNDS_CHECKS`` if set, else the platform's default).

    ``artifact_key`` (``None`` by default) is a secret of 16 to 64 bytes. With it, every
    artifact the engine writes carries a MAC under the key (keyed BLAKE2b in the
    ``.cwasm.mac`` section), and ``Module.deserialize`` refuses, before mapping any code,
    every artifact whose MAC does not verify under it: one written without a key, with
    another key, or modified since (``UnauthenticatedArtifactError``). Without a key an
    artifact is trusted as Wasmtime trusts its own (see ``docs/artifact-trust.md``); a
    keyed artifact then loads like any other.
    """

    __slots__ = (
        "opt_level",
        "target",
        "max_wasm_stack",
        "memory_reservation",
        "max_table_elements",
        "bounds_checks",
        "artifact_key",
        "_settings",
        "_strategy",
        "_profiler",
        "_cache",
    )

    def __init__(self) -> None:
        self.opt_level = 2
        self.target = ""
        self.max_wasm_stack = 1024 * 1024
        self.memory_reservation = 4 << 30
        self.max_table_elements = 10_000_000
        #: None: automatic (``CWASM_BOUNDS_CHECKS``, else the platform default)
        self.bounds_checks: str | None = None
        #: None: artifacts are trusted as they are; else the key that authenticates them
        self.artifact_key: bytes | None = None
        self._settings = dict(_DEFAULTS)
        self._strategy = "auto"
        self._profiler = "none"
        #: False: no compile cache; True: the default directory; else the directory
        self._cache: Path | bool = False

    # --- wasmtime-py's settings ---

    debug_info = _setting(
        "debug_info",
        """Configures whether DWARF debug information is emitted for the generated code.
        This can improve profiling and the debugging experience. (Not supported by cwasm:
        ``Engine`` refuses it.)""",
    )
    wasm_threads = _setting(
        "wasm_threads",
        """Configures whether the wasm [threads proposal] is enabled (the default, as in
        Wasmtime 28): shared memories (``SharedMemory``), atomic accesses and
        ``memory.atomic.wait32/64`` / ``memory.atomic.notify``.""",
    )
    wasm_tail_call = _setting(
        "wasm_tail_call",
        """Configures whether the wasm [tail call proposal] is enabled (the default, as in
        Wasmtime 28 on x86-64): ``return_call`` and ``return_call_indirect`` replace the
        caller's frame, so tail recursion runs in constant stack.""",
    )
    wasm_reference_types = _setting(
        "wasm_reference_types",
        """Configures whether the wasm [reference types proposal] is enabled (the
        default).""",
    )
    wasm_simd = _setting(
        "wasm_simd", "Configures whether the wasm [SIMD proposal] is enabled (the default)."
    )
    wasm_bulk_memory = _setting(
        "wasm_bulk_memory",
        "Configures whether the wasm [bulk memory proposal] is enabled (the default).",
    )
    wasm_multi_value = _setting(
        "wasm_multi_value",
        "Configures whether the wasm [multi value proposal] is enabled (the default).",
    )
    wasm_multi_memory = _setting(
        "wasm_multi_memory",
        """Configures whether the wasm [multi memory proposal] is enabled (the default,
        as in Wasmtime 28): several memories per module, imported or defined, and memory
        indices in every memory instruction and data segment.""",
    )
    wasm_memory64 = _setting(
        "wasm_memory64",
        """Configures whether the wasm [memory64 proposal] is enabled (the default, as a
        WebAssembly 3.0 feature; Wasmtime 28's default is off): 64-bit memories and
        tables, addressed and indexed by ``i64``.""",
    )
    wasm_relaxed_simd = _setting(
        "wasm_relaxed_simd",
        """Configures whether the wasm [relaxed simd proposal] is enabled (the default).
        Its instructions give the results Wasmtime's give on x86-64 (on other targets,
        the deterministic ones).""",
    )
    wasm_extended_const = _setting(
        "wasm_extended_const",
        """Configures whether the wasm [extended constant expressions proposal] is
        enabled (the default): ``i32``/``i64`` ``add``, ``sub`` and ``mul`` and
        ``global.get`` of a global defined earlier in constant expressions. (Wasmtime's
        setting; wasmtime-py 28 has no property for it.)""",
    )
    wasm_function_references = _setting(
        "wasm_function_references",
        """Configures whether the wasm [typed function references proposal] is enabled
        (the default): reference types ``(ref null? ht)`` with concrete function types,
        ``call_ref``, ``ref.as_non_null``, ``br_on_null``, ``br_on_non_null``,
        non-nullable locals and tables with initializer expressions. (Wasmtime's
        setting; wasmtime-py 28 has no property for it.)""",
    )
    wasm_exceptions = _setting(
        "wasm_exceptions",
        """Configures whether the wasm [exception handling proposal] is enabled (the
        default): tags, ``throw``, ``throw_ref``, ``try_table`` and ``exnref``
        (Wasmtime's and newer wasmtime-py's setting; see docs/exceptions.md).""",
    )
    wasm_gc = _setting(
        "wasm_gc",
        """Configures whether the wasm [GC proposal] is enabled: recursion groups,
        subtypes, struct and array types, the abstract heap types of the ``any``
        hierarchy, and their instructions (wasmtime-py's setting; see docs/gc.md). On
        by default, with the rest of WebAssembly 3.0 (Wasmtime 28 has it off).""",
    )
    wasm_relaxed_simd_deterministic = _setting(
        "wasm_relaxed_simd_deterministic",
        """Configures whether the wasm [relaxed simd proposal] is deterministic in is
        execution as opposed to having the most optimal implementation for the current
        platform. (Off by default; on, the instructions follow the proposal's
        deterministic semantics. Recorded in artifacts. On x86-64 it needs a host with
        FMA, which ``Engine`` checks.)""",
    )
    cranelift_debug_verifier = _setting(
        "cranelift_debug_verifier",
        """Configures whether the compiler's IR verifier runs. (Recorded: LLVM verifies
        every module cwasm compiles.)""",
    )
    consume_fuel = _setting(
        "consume_fuel",
        """Configures whether wasm code will consume *fuel* as part of its execution.

        Fuel is counted as Wasmtime counts it (most instructions cost 1; see
        ``docs/fuel-and-epochs.md``); a store starts with none: give it some with
        ``Store.set_fuel``. Running out traps with ``TrapCode.OUT_OF_FUEL``.""",
    )
    epoch_interruption = _setting(
        "epoch_interruption",
        """Configures whether wasm execution can be interrupted via epoch increments.

        Code checks the engine's epoch (``Engine.increment_epoch``) against the store's
        deadline (``Store.set_epoch_deadline``; 0, i.e. already reached, until set) at
        function entry and loop headers, and traps with ``TrapCode.INTERRUPT`` once
        it is reached.""",
        check_bool=False,
    )
    parallel_compilation = _setting(
        "parallel_compilation",
        """Configures whether parallel compilation is enabled for functions within a
        module. This is enabled by default. (cwasm compiles the parts of a large module
        in worker processes, one per further core; the code is the same either way.)""",
    )

    @property
    def strategy(self) -> str:
        """Configures the compilation strategy used for wasm code: ``"auto"`` or
        ``"cranelift"`` (cwasm compiles with LLVM either way)."""
        return self._strategy

    @strategy.setter
    def strategy(self, strategy: str) -> None:
        self._check_open()
        if strategy not in ("auto", "cranelift"):
            raise CwasmError(f"unknown strategy: {strategy}")
        self._strategy = strategy

    @property
    def cranelift_opt_level(self) -> str:
        """The optimisation level by wasmtime-py's names: ``"none"`` (``opt_level`` 0),
        ``"speed"`` or ``"speed_and_size"`` (``opt_level`` 2)."""
        return {0: "none"}.get(self.opt_level, "speed")

    @cranelift_opt_level.setter
    def cranelift_opt_level(self, opt_level: str) -> None:
        self._check_open()
        if opt_level not in _OPT_LEVELS:
            raise CwasmError(f"unknown opt level: {opt_level}")
        self.opt_level = _OPT_LEVELS[opt_level]

    @property
    def profiler(self) -> str:
        """The profiler to emit information for: ``"none"``, or ``"jitdump"`` (not supported
        by cwasm: ``Engine`` refuses it)."""
        return self._profiler

    @profiler.setter
    def profiler(self, profiler: str) -> None:
        self._check_open()
        if profiler not in ("none", "jitdump"):
            raise CwasmError(f"unknown profiler: {profiler}")
        self._profiler = profiler

    @property
    def cache(self) -> Path | bool:
        """Configures whether code caching is enabled for this ``Config``.

        The value ``True`` can be passed in here to enable the default caching
        configuration and location (cwasm's compile cache: ``$CWASM_CACHE_DIR``, else
        ``~/.cache/cwasm``), or a path to a file can be passed in which is a path to a
        TOML configuration file for the cache (Wasmtime's format: a ``[cache]`` table
        with ``enabled`` and an optional ``directory``). Reading it gives ``False``,
        ``True`` (the default directory) or the cache directory.
        """
        return self._cache

    @cache.setter
    def cache(self, enabled: bool | str) -> None:
        self._check_open()
        if isinstance(enabled, bool):
            if not enabled:
                raise CwasmError("caching cannot be explicitly disabled")
            self._cache = True
        elif isinstance(enabled, str):
            self._cache = read_cache_config(enabled)
        else:
            raise TypeError("expected string or bool")

    # --- for the Engine ---

    def wasm_features(self, default: tuple[str, ...]) -> tuple[str, ...]:
        """``default`` (the proposals artifacts record) without those turned off here,
        with those off by default (``OFF_BY_DEFAULT_PROPOSALS``) turned on here."""
        off = {f for s, f in WASM_FEATURE_SETTINGS.items() if not self._settings[s]}
        on = [f for f in OFF_BY_DEFAULT_PROPOSALS if f not in off and f not in default]
        return tuple(sorted([f for f in default if f not in off] + on))

    def check_supported(self) -> None:
        """Raise ``CwasmError`` for the first setting cwasm cannot honour."""
        for name, what in UNSUPPORTED_SETTINGS.items():
            if self._settings[name]:
                raise CwasmError(f"{what} is not supported by cwasm yet (Config.{name} = True)")
        if self._profiler != "none":
            raise CwasmError(
                f"the {self._profiler} profiler is not supported by cwasm yet "
                f"(Config.profiler = {self._profiler!r})"
            )
