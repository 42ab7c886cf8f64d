"""The one place where cwasm's and wasmtime-py's APIs differ: a small shim per engine.

The runner (``fuzz.runner``) is written once against ``EngineShim``. Both engines share
wasmtime-py's names (``Engine``, ``Store``, ``Module``, ``Instance``, ``Memory``...); what
differs is handled here:

* values cross the boundary in a *canonical* form (see ``fuzz.values``): cwasm takes
  and returns v128 as a 128-bit int; wasmtime-py 28 has no v128 support at all in its
  ``Val``, so calls, host functions and globals go through its ctypes bindings directly,
  with v128 as 16 bytes (this also avoids a stray debug ``print`` in its externref
  conversion);
* traps: a ``Trap.message`` carries a backtrace and a ``Caused by:`` chain (Wasmtime's
  text, in both); the comparable part is its ``wasm trap: ...`` line, which is cwasm's
  ``Trap.description``;
* function identity (for funcref results and table elements): cwasm hands back the same
  ``Func`` object for a function, wasmtime a fresh wrapper whose raw ``VMFuncRef``
  address identifies it.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import struct
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: where the ``O2`` worker leaves each module's artifact for the ``roundtrip`` worker,
#: which runs the same module next, when the driver sets ``SHARE_ENV`` (both configs in
#: the run): the round trip then crosses processes and costs no second compilation
SHARE_ENV = "CWASM_FUZZ_SHARE_ARTIFACTS"
SHARED_ARTIFACTS = Path(tempfile.gettempdir()) / f"cwasm-fuzz-artifacts-{os.getuid()}"

#: value type names used throughout the fuzzer
VALTYPES = ("i32", "i64", "f32", "f64", "v128", "externref", "funcref")


class ExternObj:
    """A small host object passed as an externref; ``tag`` identifies it in records."""

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __repr__(self) -> str:
        return f"ExternObj({self.tag!r})"


class InternalRef:
    """An externref that is ``extern.convert_any`` of an internal reference (an ``i31``,
    a struct, an array): wasmtime-py 51 reads one as None (it has no host data, the FIXME
    of its ``Val._from_raw``), cwasm as an ``AnyRef``; both shims give this marker, so
    that null and non-null still compare."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "InternalRef()"


class TrapInfo(Exception):
    """An engine's trap or error, normalised: ``code`` (a TrapCode name or None),
    ``message`` (the ``wasm trap: ...`` line) and ``kind`` (``trap`` or ``error``)."""

    def __init__(self, kind: str, code: str | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message


#: a host callback: canonical args -> canonical results
HostFn = Callable[[list[Any]], list[Any]]


class EngineShim:
    """What the runner needs from an engine; the two subclasses below implement it."""

    name = "?"
    #: the API module (``cwasm`` or ``wasmtime``): both have wasmtime-py's type names
    api: Any = None

    def compile(self, wasm: bytes) -> Any:
        """Compile ``wasm`` into a module (raise on failure)."""
        raise NotImplementedError

    def new_store(self) -> Any:
        """A fresh store."""
        raise NotImplementedError

    def imports(self, module: Any) -> list[tuple[str, str, str, Any]]:
        """``(module, name, kind, type)`` per import; kind is func/global/memory/table."""
        return [(i.module, i.name or "", self._kind(i.type), i.type) for i in module.imports]

    def _kind(self, ty: Any) -> str:
        a = self.api
        if isinstance(ty, a.FuncType):
            return "func"
        if isinstance(ty, a.GlobalType):
            return "global"
        if isinstance(ty, a.MemoryType):
            return "memory"
        if isinstance(ty, a.TableType):
            return "table"
        return "tag"

    def exports(self, module: Any) -> list[tuple[str, str, Any]]:
        """``(name, kind, type)`` per export, in export order."""
        raise NotImplementedError

    def func_sig(self, ty: Any) -> tuple[list[str], list[str]]:
        """Parameter and result type names of a function type."""
        raise NotImplementedError

    def global_sig(self, ty: Any) -> tuple[str, bool]:
        """Content type name and mutability of a global type."""
        raise NotImplementedError

    def limits(self, ty: Any) -> tuple[int, int | None]:
        """Minimum and maximum of a memory or table type."""
        raise NotImplementedError

    def table_elem(self, ty: Any) -> str:
        """Element type name of a table type."""
        raise NotImplementedError

    def host_func(self, store: Any, ty: Any, fn: HostFn) -> Any:
        """A host function of type ``ty`` calling ``fn`` with canonical values."""
        raise NotImplementedError

    def new_global(self, store: Any, ty: Any, value: Any) -> Any:
        """A global of type ``ty`` holding the canonical ``value``."""
        raise NotImplementedError

    def new_memory(self, store: Any, ty: Any) -> Any:
        """A memory of type ``ty``."""
        return self.api.Memory(store, ty)

    def new_table(self, store: Any, ty: Any) -> Any:
        """A table of type ``ty`` filled with null."""
        return self.api.Table(store, ty, None)

    def instantiate(self, store: Any, module: Any, imports: Sequence[Any]) -> Any:
        """Instantiate; returns the instance (raises ``TrapInfo`` on a trap or error)."""
        try:
            return self.api.Instance(store, module, list(imports))
        except Exception as e:  # noqa: BLE001 - every failure becomes a record
            raise self.classify(e) from None

    def export_items(self, store: Any, instance: Any, names: list[str]) -> dict[str, Any]:
        """The instance's exports ``names``, by name."""
        ex = instance.exports(store)
        return {name: ex[name] for name in names}

    def call(
        self, store: Any, func: Any, params: list[str], results: list[str], args: list[Any]
    ) -> list[Any]:
        """Call ``func`` with canonical ``args``; canonical results (raises ``TrapInfo``)."""
        raise NotImplementedError

    def global_get(self, store: Any, glob: Any, ty: str) -> Any:
        """A global's canonical value."""
        raise NotImplementedError

    def memory_state(self, store: Any, mem: Any) -> tuple[int, bytes]:
        """A memory's size in pages and its bytes (a ``SharedMemory`` through its pointer)."""
        if isinstance(mem, self.api.SharedMemory):
            return int(mem.size()), ctypes.string_at(mem.data_ptr(), mem.data_len())
        return int(mem.size(store)), bytes(mem.read(store, 0, mem.data_len(store)))

    def table_elements(self, store: Any, table: Any) -> list[Any]:
        """The raw elements of a table (functions, objects or None)."""
        return [table.get(store, i) for i in range(table.size(store))]

    def func_key(self, store: Any, func: Any) -> Any:
        """A hashable identity of a function reference."""
        raise NotImplementedError

    def classify(self, e: BaseException) -> TrapInfo:
        """Turn an engine's exception into a ``TrapInfo``."""
        raise NotImplementedError


# --- canonical <-> Python values ---


def f32_from_bits(bits: int) -> float:
    """The Python float of an f32 bit pattern."""
    return float(struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0])


def f64_from_bits(bits: int) -> float:
    """The Python float of an f64 bit pattern."""
    return float(struct.unpack("<d", struct.pack("<Q", bits & 0xFFFFFFFFFFFFFFFF))[0])


def f32_bits(v: float) -> int:
    """The bit pattern of ``v`` as an f32."""
    return int(struct.unpack("<I", struct.pack("<f", v))[0])


def f64_bits(v: float) -> int:
    """The bit pattern of ``v`` as an f64."""
    return int(struct.unpack("<Q", struct.pack("<d", v))[0])


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def to_python(ty: str, canon: Any) -> Any:
    """Canonical value -> the Python value both APIs accept (v128 as an int)."""
    if ty == "i32":
        return _signed(canon, 32)
    if ty == "i64":
        return _signed(canon, 64)
    if ty == "f32":
        return f32_from_bits(canon)
    if ty == "f64":
        return f64_from_bits(canon)
    if ty == "v128":
        return int(canon, 16) if isinstance(canon, str) else int(canon)
    return canon  # references: ExternObj / None


# --- cwasm ---


#: the ``explicit`` configuration's ``compiler.PART_MIN_CODE_BYTES`` (with every other
#: function an anchor, most generated modules with code are compiled in parts)
FUZZ_PART_BYTES = 256


class CwasmShim(EngineShim):
    """cwasm under one configuration (``O2``, ``O0``, ``explicit``, ``roundtrip``)."""

    def __init__(self, config: str) -> None:
        import cwasm

        self.api = cwasm
        self.name = config
        cfg = cwasm.Config()
        cfg.opt_level = 0 if config == "O0" else 2
        if config == "explicit":
            cfg.bounds_checks = "explicit"
            # and small parts (this worker process only): the modules are compiled in
            # several LLVM modules, through the workers and the pre-linker
            from cwasm.compile import compiler

            compiler.PART_MIN_CODE_BYTES = FUZZ_PART_BYTES
            compiler.ANCHOR_PERIOD = 2
        self.roundtrip = config == "roundtrip"
        self.engine = cwasm.Engine(cfg)

    def compile(self, wasm: bytes) -> Any:
        shared = SHARED_ARTIFACTS / (hashlib.sha256(wasm).hexdigest() + ".cwasm")
        if self.roundtrip:
            try:
                artifact = shared.read_bytes()
                shared.unlink()
            except FileNotFoundError:  # no O2 worker ran first: compile here
                artifact = self.api.Module(self.engine, wasm).serialize()
            return self.api.Module.deserialize(self.engine, artifact)
        share = self.name == "O2" and os.environ.get(SHARE_ENV) == "1"
        if share:
            shared.unlink(missing_ok=True)  # never leave a stale one if compiling fails
        module = self.api.Module(self.engine, wasm)
        if share:
            SHARED_ARTIFACTS.mkdir(exist_ok=True)
            tmp = shared.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(module.serialize())
            os.replace(tmp, shared)
        return module

    def new_store(self) -> Any:
        return self.api.Store(self.engine)

    def exports(self, module: Any) -> list[tuple[str, str, Any]]:
        return [(e.name, self._kind(e.type), e.type) for e in module.exports]

    def func_sig(self, ty: Any) -> tuple[list[str], list[str]]:
        return [str(t) for t in ty.params], [str(t) for t in ty.results]

    def global_sig(self, ty: Any) -> tuple[str, bool]:
        return str(ty.content), bool(ty.mutable)

    def limits(self, ty: Any) -> tuple[int, int | None]:
        return ty.limits.min, ty.limits.max

    def table_elem(self, ty: Any) -> str:
        return str(ty.element)

    def host_func(self, store: Any, ty: Any, fn: HostFn) -> Any:
        params, results = self.func_sig(ty)

        def call(*args: Any) -> Any:
            canon = [self._ref(t, from_python(t, v)) for t, v in zip(params, args, strict=True)]
            out = [to_python(t, v) for t, v in zip(results, fn(canon), strict=True)]
            if len(out) == 1:
                return out[0]
            return out if out else None

        return self.api.Func(store, ty, call)

    def new_global(self, store: Any, ty: Any, value: Any) -> Any:
        return self.api.Global(store, ty, to_python(str(ty.content), value))

    def call(
        self, store: Any, func: Any, params: list[str], results: list[str], args: list[Any]
    ) -> list[Any]:
        py = [to_python(t, v) for t, v in zip(params, args, strict=True)]
        try:
            out = func(store, *py)
        except Exception as e:  # noqa: BLE001 - every failure becomes a record
            raise self.classify(e) from None
        if len(results) == 0:
            vals: list[Any] = []
        elif len(results) == 1:
            vals = [out]
        else:
            vals = list(out)
        return [self._ref(t, from_python(t, v)) for t, v in zip(results, vals, strict=True)]

    def global_get(self, store: Any, glob: Any, ty: str) -> Any:
        return self._ref(ty, from_python(ty, glob.value(store)))

    def table_elements(self, store: Any, table: Any) -> list[Any]:
        elem = self.table_elem(table.type(store))
        return [self._ref(elem, table.get(store, i)) for i in range(table.size(store))]

    def _ref(self, ty: str, v: Any) -> Any:
        """``v``, or ``InternalRef`` for an externref that is an internal reference."""
        return InternalRef() if ty == "externref" and isinstance(v, self.api.AnyRef) else v

    def func_key(self, store: Any, func: Any) -> Any:
        return id(func)

    def classify(self, e: BaseException) -> TrapInfo:
        if isinstance(e, self.api.Trap):
            code = e.trap_code
            return TrapInfo("trap", code.name if code is not None else None, e.description)
        # every error cwasm raises on purpose is a WasmtimeError (its CwasmError)
        name = "WasmtimeError" if isinstance(e, self.api.WasmtimeError) else type(e).__name__
        return TrapInfo("error", None, f"{name}: {trap_line(str(e))}")


# --- wasmtime-py ---

_WASM_KINDS = {0: "i32", 1: "i64", 2: "f32", 3: "f64", 4: "v128", 128: "externref", 129: "funcref"}


class WasmtimeShim(EngineShim):
    """wasmtime-py (28, or 51 in its own venv as ``wasmtime51``) with its default configuration
    plus memory64 and typed function references (and, on 51, exceptions): the reference."""

    def __init__(self, name: str = "wasmtime") -> None:
        import wasmtime
        from wasmtime import _ffi

        self.api = wasmtime
        self.ffi = _ffi
        self.name = name
        config = wasmtime.Config()
        config.wasm_memory64 = True
        # wasmtime-py 28 has no Python switch for function references: the C API's
        setter = _ffi.dll.wasmtime_config_wasm_function_references_set
        setter.argtypes = [ctypes.c_void_p, ctypes.c_bool]
        setter.restype = None
        setter(config.ptr(), True)
        if name == "wasmtime51":
            # (not in wasmtime-py 28; newer Wasmtime turns shared memories off by default)
            setattr(config, "wasm_exceptions", True)  # noqa: B010
            setattr(config, "wasm_gc", True)  # noqa: B010 (the ``gc`` group's reference)
            setattr(config, "shared_memory", True)  # noqa: B010
        self.engine = wasmtime.Engine(config)
        self._callbacks: list[Any] = []

    def _unroot(self, store: Any, raw: Any) -> None:
        """Release a raw value's root (wasmtime-py 51's binding takes no store argument)."""
        if self.name == "wasmtime51":
            unroot: Any = self.ffi.wasmtime_val_unroot
            unroot(ctypes.byref(raw))
        else:
            self.ffi.wasmtime_val_unroot(store._context(), ctypes.byref(raw))

    def compile(self, wasm: bytes) -> Any:
        return self.api.Module(self.engine, wasm)

    def new_store(self) -> Any:
        self._callbacks = []  # the previous module's store (and its host functions) is gone
        return self.api.Store(self.engine)

    def exports(self, module: Any) -> list[tuple[str, str, Any]]:
        return [(e.name, self._kind(e.type), e.type) for e in module.exports]

    def _vt(self, vt: Any) -> str:
        kind = int(self.ffi.wasm_valtype_kind(vt.ptr()))
        return _WASM_KINDS.get(kind, f"?{kind}")

    def func_sig(self, ty: Any) -> tuple[list[str], list[str]]:
        return [self._vt(t) for t in ty.params], [self._vt(t) for t in ty.results]

    def global_sig(self, ty: Any) -> tuple[str, bool]:
        return self._vt(ty.content), bool(ty.mutable)

    def limits(self, ty: Any) -> tuple[int, int | None]:
        return ty.limits.min, ty.limits.max

    def table_elem(self, ty: Any) -> str:
        return self._vt(ty.element)

    # raw values

    def _to_raw(self, ctx: Any, ty: str, canon: Any) -> Any:
        ffi = self.ffi
        if ty == "v128":
            raw = ffi.wasmtime_val_t(kind=ffi.WASMTIME_V128.value)
            data = int(canon, 16).to_bytes(16, "little")
            raw.of.v128 = (ctypes.c_uint8 * 16)(*data)
            return raw
        val = self.api.Val
        py = to_python(ty, canon)
        v = {
            "i32": val.i32,
            "i64": val.i64,
            "f32": val.f32,
            "f64": val.f64,
            "externref": val.externref,
            "funcref": val.funcref,
        }[ty](py)
        return v._new_raw(ctx)

    def _from_raw(self, ctx: Any, ty: str, raw: Any, owned: bool = True) -> Any:
        if ty == "v128":
            return bytes(raw.of.v128)[::-1].hex()
        if ty == "externref" and self.name == "wasmtime51" and raw.of.externref.store_id:
            # non-null (51's externref is a struct, null of store id 0) without host data
            if not self.ffi.wasmtime_externref_data(ctx._context(), raw.of.externref):
                if owned:
                    self._unroot(ctx, raw)
                return InternalRef()
        v = self.api.Val._from_raw(ctx, raw, owned=owned).value
        return from_python(ty, v)

    def host_func(self, store: Any, ty: Any, fn: HostFn) -> Any:
        ffi = self.ffi
        params, results = self.func_sig(ty)
        from wasmtime._func import Caller

        shim = self

        @ffi.wasmtime_func_callback_t
        def callback(env: Any, caller_ptr: Any, args: Any, nargs: int, res: Any, nres: int) -> int:
            caller = Caller(caller_ptr)
            try:
                canon = [
                    shim._from_raw(caller, t, args[i], owned=False) for i, t in enumerate(params)
                ]
                out = fn(canon)
                for i, t in enumerate(results):
                    res[i] = shim._to_raw(caller, t, out[i])
                return 0
            except Exception as e:  # noqa: BLE001 - reported as a trap
                trap = shim.api.Trap(f"host function failed: {e!r}")._consume()
                return int(ctypes.cast(trap, ctypes.c_void_p).value or 0)
            finally:
                caller._invalidate()

        self._callbacks.append(callback)
        out = ffi.wasmtime_func_t()
        ffi.wasmtime_func_new(
            store._context(), ty.ptr(), callback, None, _noop_finalizer(), ctypes.byref(out)
        )
        return self.api.Func._from_raw(out)

    def new_global(self, store: Any, ty: Any, value: Any) -> Any:
        ffi = self.ffi
        content, _ = self.global_sig(ty)
        raw = self._to_raw(store, content, value)
        out = ffi.wasmtime_global_t()
        err = ffi.wasmtime_global_new(
            store._context(), ty.ptr(), ctypes.byref(raw), ctypes.byref(out)
        )
        self._unroot(store, raw)
        if err:
            raise self.api.WasmtimeError._from_ptr(err)
        return self.api.Global._from_raw(out)

    def call(
        self, store: Any, func: Any, params: list[str], results: list[str], args: list[Any]
    ) -> list[Any]:
        ffi = self.ffi
        from wasmtime._func import enter_wasm

        n, m = len(params), len(results)
        pbuf = (ffi.wasmtime_val_t * max(n, 1))()
        rbuf = (ffi.wasmtime_val_t * max(m, 1))()
        for i, t in enumerate(params):
            pbuf[i] = self._to_raw(store, t, args[i])
        try:
            with enter_wasm(store) as trap:
                err = ffi.wasmtime_func_call(
                    store._context(), ctypes.byref(func._func), pbuf, n, rbuf, m, trap
                )
                if err:
                    raise self.api.WasmtimeError._from_ptr(err)
        except Exception as e:  # noqa: BLE001 - every failure becomes a record
            raise self.classify(e) from None
        finally:
            for i in range(n):
                self._unroot(store, pbuf[i])
        return [self._from_raw(store, t, rbuf[i]) for i, t in enumerate(results)]

    def global_get(self, store: Any, glob: Any, ty: str) -> Any:
        raw = self.ffi.wasmtime_val_t()
        self.ffi.wasmtime_global_get(
            store._context(), ctypes.byref(glob._global), ctypes.byref(raw)
        )
        return self._from_raw(store, ty, raw)

    def table_elements(self, store: Any, table: Any) -> list[Any]:
        if self.name != "wasmtime51" or self.table_elem(table.type(store)) != "externref":
            return super().table_elements(store, table)
        out = []  # raw, to tell an ``InternalRef`` from null (``_from_raw``)
        for i in range(table.size(store)):
            raw = self.ffi.wasmtime_val_t()
            self.ffi.wasmtime_table_get(
                store._context(), ctypes.byref(table._table), i, ctypes.byref(raw)
            )
            out.append(self._from_raw(store, "externref", raw))
        return out

    def memory_state(self, store: Any, mem: Any) -> tuple[int, bytes]:
        if isinstance(mem, self.api.SharedMemory):
            # (wasmtime-py 28's SharedMemory.size passes its pointer by reference: wrongly)
            ptr = mem.ptr()
            data = self.ffi.wasmtime_sharedmemory_data(ptr)
            size = int(self.ffi.wasmtime_sharedmemory_data_size(ptr))
            pages = int(self.ffi.wasmtime_sharedmemory_size(ptr))
            return pages, ctypes.string_at(data, size)
        return super().memory_state(store, mem)

    def func_key(self, store: Any, func: Any) -> Any:
        return int(self.ffi.wasmtime_func_to_raw(store._context(), ctypes.byref(func._func)) or 0)

    def classify(self, e: BaseException) -> TrapInfo:
        if isinstance(e, self.api.Trap):
            line = trap_line(e.message)
            late = _LATE_TRAP_CODES.get(line.removeprefix("wasm trap: "))
            if late is not None:  # wasmtime-py 28's C API aborts on asking these codes
                return TrapInfo("trap", late, line)
            code = e.trap_code
            return TrapInfo("trap", code.name if code is not None else None, line)
        return TrapInfo("error", None, f"{type(e).__name__}: {trap_line(str(e))}")


#: the trap codes after ``OUT_OF_FUEL`` by their message (wasmtime-py 28's
#: ``wasmtime_trap_code`` has no number for them and aborts the process)
_LATE_TRAP_CODES = {
    "atomic wait on non-shared memory": "ATOMIC_WAIT_NON_SHARED_MEMORY",
    "null reference": "NULL_REFERENCE",
    "out of bounds array access": "ARRAY_OUT_OF_BOUNDS",
    "allocation size too large": "ALLOCATION_TOO_LARGE",
    "cast failure": "CAST_FAILURE",
    "cannot enter component instance": "CANNOT_ENTER_COMPONENT",
}

_FINALIZER: list[Any] = []


def _noop_finalizer() -> Any:
    """A finalizer for host functions whose state the shim keeps alive itself."""
    if not _FINALIZER:
        _FINALIZER.append(ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda env: None))
    return _FINALIZER[0]


def trap_line(message: str) -> str:
    """The ``wasm trap: ...`` line of a wasmtime error chain (else its first line)."""
    if "thrown Wasm exception" in message:  # an uncaught wasm exception (wasmtime-py 51)
        return "thrown Wasm exception"
    for line in message.splitlines():
        s = line.strip()
        if s.startswith("wasm trap:"):
            return s
        if s.startswith(("0: ", "1: ")) and "wasm trap:" in s:
            return s[s.index("wasm trap:") :]
    return message.splitlines()[0] if message else ""


def from_python(ty: str, v: Any) -> Any:
    """A Python value from either API -> canonical (NaN-free compare by bits)."""
    if ty == "i32":
        return int(v) & 0xFFFFFFFF
    if ty == "i64":
        return int(v) & 0xFFFFFFFFFFFFFFFF
    if ty in ("f32", "f64"):
        f = float(v)
        if f != f:
            return "nan"
        return f32_bits(f) if ty == "f32" else f64_bits(f)
    if ty == "v128":
        if isinstance(v, (bytes, bytearray)):
            return bytes(v)[::-1].hex()
        return f"{int(v) & ((1 << 128) - 1):032x}"
    return v  # references are tagged by the runner


def make_shim(config: str) -> EngineShim:
    """The shim for a configuration name (``wasmtime`` or a cwasm config)."""
    if config in ("wasmtime", "wasmtime51"):
        return WasmtimeShim(config)
    return CwasmShim(config)
