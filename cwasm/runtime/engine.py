"""Engine: compilation settings, runtime limits and the engine-wide signature registry.

An ``Engine`` turns its ``Config`` (``cwasm.runtime.config``) into the ``EngineMetadata``
recorded in (and checked against) every artifact, and interns function types: two
modules loaded by the same engine agree on the id of a signature, which is what
``call_indirect`` compares.
"""

from __future__ import annotations

import ctypes
import functools
import platform
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cwasm.abi import guard_layout
from cwasm.closable import Closable
from cwasm.errors import CwasmError
from cwasm.obj.engine import DEFAULT_WASM_FEATURES, EngineMetadata
from cwasm.obj.integrity import check_key
from cwasm.runtime.config import Config
from cwasm.runtime.native import x86_cpuid1_ecx
from cwasm.runtime.type_registry import TypeRegistry
from cwasm.wasm.gc_types import CompositeType, SubType
from cwasm.wasm.types import FuncType

if TYPE_CHECKING:
    from cwasm.obj.info import CompiledModuleInfo
    from cwasm.runtime.func import HostFuncTemplate
    from cwasm.runtime.module_facts import ModuleFacts
    from cwasm.runtime.values import SlotCodec


@functools.cache  # the machine does not change while we run
def host_target() -> str:
    """The triple of this machine, without importing LLVM."""
    arch = platform.machine()
    if arch in ("AMD64", "amd64"):
        arch = "x86_64"
    if arch == "arm64":
        arch = "aarch64"
    system = platform.system().lower()
    if system == "linux":
        return f"{arch}-unknown-linux-gnu"
    if system == "darwin":
        return f"{arch}-apple-darwin"
    return f"{arch}-unknown-{system}"


#: CPUID leaf 1, ECX: SSE4.1; FMA, usable when the OS saves the AVX state (OSXSAVE, AVX)
_ECX_SSE4_1 = 1 << 19
_ECX_FMA_USABLE = (1 << 12) | (1 << 27) | (1 << 28)


@functools.cache  # the CPU does not change while we run
def _host_cpu_features() -> tuple[str, ...]:
    """The CPU features of this machine that compiled code may rely on: ``sse4.1`` and
    ``fma`` on x86-64."""
    if host_target().startswith("x86_64"):  # ask the CPU: quicker than /proc/cpuinfo
        try:
            ecx = x86_cpuid1_ecx()
            return _x86_features(bool(ecx & _ECX_SSE4_1), ecx & _ECX_FMA_USABLE == _ECX_FMA_USABLE)
        except (OSError, CwasmError):
            pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return _x86_features("sse4_1" in flags, {"fma", "avx"} <= flags)
    except OSError:
        pass
    return ()


def _x86_features(sse41: bool, fma: bool) -> tuple[str, ...]:
    return (("sse4.1",) if sse41 else ()) + (("fma",) if fma else ())


class Engine(Closable):
    """Compiles and loads modules for one target with one configuration.

    ``Engine(config)`` consumes ``config`` (wasmtime-py's rule): it cannot make another
    engine, nor be changed, afterwards. A configuration cwasm cannot honour is refused
    here with ``CwasmError``.
    """

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            config = Config()
        elif not isinstance(config, Config):
            raise TypeError("expected Config")
        config._check_open()
        config.check_supported()
        if not 0 <= config.opt_level <= 3:
            raise CwasmError(f"optimisation level must be 0..3, not {config.opt_level}")
        self._closed = False  # set, so that ``_check_open`` finds it without a miss
        self.config = config
        #: the WebAssembly proposals modules may use (``Config.wasm_simd``...)
        self.wasm_features = config.wasm_features(DEFAULT_WASM_FEATURES)
        self.target = self.config.target or host_target()
        if "relaxed_simd" in self.wasm_features and config.wasm_relaxed_simd_deterministic:
            if self.target.startswith("x86_64") and not self._host_fma():
                raise CwasmError(
                    "deterministic relaxed SIMD needs the FMA instructions, which this "
                    "target or host lacks (Config.wasm_relaxed_simd_deterministic = True)"
                )
            self.wasm_features += ("relaxed_simd_deterministic",)
        #: the bounds-check mode in force (``Config.bounds_checks`` resolved for the target)
        self.bounds_checks = guard_layout.resolve(self.config.bounds_checks, self.target)
        try:
            #: the key artifacts are written and loaded with (``Config.artifact_key``)
            self.artifact_key = check_key(self.config.artifact_key)
        except ValueError as e:
            raise CwasmError(str(e)) from None
        self._lock = threading.Lock()
        #: the epoch (``increment_epoch``): a native u64 that compiled code reads through
        #: the store context's ``STORE_EPOCH_PTR``
        self._epoch = ctypes.c_uint64(0)
        self.epoch_address = ctypes.addressof(self._epoch)
        self._epoch_lock = threading.Lock()
        #: engine-wide type ids (``cwasm.runtime.type_registry``)
        self.types = TypeRegistry()
        self._loading_metadata: EngineMetadata | None = None
        #: ``cwasm.runtime.func.HostFuncTemplate`` by signature
        self.host_func_templates: dict[Any, HostFuncTemplate] = {}
        #: ``cwasm.runtime.memory.memory_layout``'s answers, by the type's identity
        self.memory_layouts: dict[int, tuple[Any, tuple[int, int, bool, int, int]]] = {}
        #: engine type id -> the value codecs of a wasm function of that signature
        #: (``Func._init_codecs``)
        self.signature_codecs: dict[int, tuple[SlotCodec, ...]] = {}
        #: ``cwasm.runtime.module_facts``: by id of the verified info record, that record
        #: and its facts in this engine
        self.module_facts: dict[int, tuple[CompiledModuleInfo, ModuleFacts]] = {}
        config.close()  # consumed

    @property
    def is_native(self) -> bool:
        """Whether this engine's code runs on this machine (same architecture)."""
        return self.target.split("-")[0] == host_target().split("-")[0]

    def metadata(self, *, for_loading: bool = False) -> EngineMetadata:
        """The metadata this engine writes into artifacts (or accepts when loading; that
        one is made once: an engine's settings and the host do not change)."""
        if for_loading:
            meta = self._loading_metadata
            if meta is None:
                meta = self._loading_metadata = self._metadata(True)
            return meta
        return self._metadata(False)

    def _metadata(self, for_loading: bool) -> EngineMetadata:
        return EngineMetadata(
            target=self.target,
            cpu_features=_host_cpu_features() if for_loading else self.compile_cpu_features(),
            opt_level=self.config.opt_level,
            bounds_checks=self.bounds_checks,
            memory_guard_size=guard_layout.GUARD_SIZE if self.guard_pages else 0,
            wasm_features=self.wasm_features,
            consume_fuel=self.consume_fuel,
            epoch_interruption=self.epoch_interruption,
        )

    @property
    def consume_fuel(self) -> bool:
        """Whether compiled code consumes fuel (``Config.consume_fuel``)."""
        return bool(self.config.consume_fuel)

    @property
    def epoch_interruption(self) -> bool:
        """Whether compiled code checks the epoch deadline (``Config.epoch_interruption``)."""
        return bool(self.config.epoch_interruption)

    def increment_epoch(self) -> None:
        """Increments the epoch of this engine by one (wasmtime-py's ``increment_epoch``).

        Code of every store of this engine compiled with ``Config.epoch_interruption``
        traps with ``TrapCode.INTERRUPT`` once the epoch reaches its store's deadline.
        Safe from any thread, including while others run wasm: the counter is one
        aligned native 64-bit word, written whole (the lock only orders concurrent
        increments; wasm never takes it).
        """
        self._check_open()
        with self._epoch_lock:
            self._epoch.value = (self._epoch.value + 1) & 0xFFFF_FFFF_FFFF_FFFF

    @property
    def current_epoch(self) -> int:
        """The engine's epoch: how many times ``increment_epoch`` was called."""
        return self._epoch.value

    @property
    def guard_pages(self) -> bool:
        """Whether linear memories are bounds-checked by guard pages (no explicit checks)."""
        return self.bounds_checks == guard_layout.GUARD_PAGES

    def _host_fma(self) -> bool:
        return self.is_native and "fma" in _host_cpu_features()

    @property
    def uses_fma(self) -> bool:
        """Whether compiled code uses x86-64's FMA instructions: relaxed SIMD's
        multiply-adds are fused when this (native) host has them, as in Wasmtime."""
        return (
            self.target.startswith("x86_64")
            and "relaxed_simd" in self.wasm_features
            and self._host_fma()
        )

    @property
    def relaxed_simd_deterministic(self) -> bool:
        """Whether relaxed SIMD has the spec's deterministic semantics rather than the
        x86-64 instructions' (``Config.wasm_relaxed_simd_deterministic``)."""
        return "relaxed_simd_deterministic" in self.wasm_features

    def compile_cpu_features(self) -> tuple[str, ...]:
        """The CPU features the code this engine compiles relies on."""
        if not self.target.startswith("x86_64"):
            return ()
        return ("sse4.1", "fma") if self.uses_fma else ("sse4.1",)

    def type_id(self, ft: FuncType) -> int:
        """The engine-wide id of signature ``ft`` (the same in every module it loads)."""
        return self.types.type_id(ft)

    def type_ids_for(
        self, types: Sequence[CompositeType], sub_types: Sequence[SubType] = ()
    ) -> list[int]:
        """The engine-wide ids of a module's types, in order: equivalent types (typed
        references and GC's recursion groups included, see ``TypeRegistry``) of any two
        modules get one id."""
        return self.types.ids_for(types, sub_types)

    def func_type(self, type_id: int) -> FuncType:
        """The signature with engine-wide id ``type_id``."""
        return self.types.func_type(type_id)
