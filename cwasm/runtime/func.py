"""Func: calling wasm from Python and Python from wasm.

A wasm function is called through its module's entry trampoline with one ctypes
prototype for all of them, ``int (vmctx, values)``: the arguments are packed into a
preallocated ``u64x2`` buffer, the results read back from it. A non-zero status means
the call trapped or a host function raised; the store then raises the ``Trap`` or
re-raises the original exception.

A host function is a Python callable behind a ctypes callback. Compiled code reaches
it through a wasm-to-array trampoline with a *host context* as its vmctx. The
callback never lets an exception escape: it records it in the store and reports
failure, and the trampoline traps out to the nearest entry.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from cwasm.abi import vmoffsets as vo
from cwasm.abi.builtins import ENTRY_TRAMPOLINE, HOST_CALLBACK
from cwasm.errors import CwasmError
from cwasm.runtime.registry import INSTANCES
from cwasm.runtime.types import FuncType
from cwasm.runtime.values import ARGUMENT_MISMATCH, RESULT_MISMATCH, RefTypeMismatch, SlotCodec
from cwasm.wasm import types as wt

if TYPE_CHECKING:
    from cwasm.runtime.instance import Instance
    from cwasm.runtime.store import Store
    from cwasm.runtime.type_registry import TypeRegistry

#: every entry trampoline (``ENTRY_TRAMPOLINE``). A ``CFUNCTYPE`` call releases the GIL
#: until wasm returns; host functions and runtime routines are ctypes callbacks, which
#: take it back while they run. The arguments are ctypes objects (a ``c_void_p`` and the
#: values array), so no argtypes are declared, which makes the call cheaper.
ENTRY_PROTO = ctypes.CFUNCTYPE(ENTRY_TRAMPOLINE.ctypes_result)
#: every host callback (``HOST_CALLBACK``)
HOST_PROTO = HOST_CALLBACK.ctypes_prototype()

_codecs: dict[
    tuple[tuple[wt.ValueType, ...], tuple[wt.ValueType, ...] | None, bool, bool], SlotCodec
] = {}


def codec(
    types: tuple[wt.ValueType, ...],
    *,
    raw: bool,
    decode: bool,
    tops: tuple[wt.ValueType, ...] | None = None,
) -> SlotCodec:
    """The ``SlotCodec`` of ``types`` (made once); ``tops``: each type's representation
    where a concrete heap type is not a function type (``TypeRegistry.top``)."""
    key = (types, tops, raw, decode)
    c = _codecs.get(key)
    if c is None:
        c = _codecs[key] = SlotCodec(types, raw=raw, decode=decode, tops=tops)
    return c


@functools.cache
def _store_class() -> type[Store]:
    """``Store``, imported on first use (the store module imports this one)."""
    from cwasm.runtime.store import Store

    return Store


def _function_pointer(callback: Any) -> int:
    """The address a ctypes callback object holds (what ``ctypes.cast`` to ``c_void_p``
    gives, read straight from the object's buffer)."""
    return ctypes.c_void_p.from_address(ctypes.addressof(callback)).value or 0


def _codec_type(t: wt.ValueType, type_id: int | None) -> wt.ValueType:
    """The type a value of type ``t`` crosses the Python boundary as: numbers as they are,
    funcref/externref/exnref as they are, and a typed reference kept (the codec checks
    values against it). ``t`` is closed over the engine's type ids when ``type_id`` (the
    id of the signature ``t`` is in) is given, ``SELF_HEAP`` standing for that id;
    otherwise a concrete heap type names no engine type and only nullability is kept."""
    if not isinstance(t, wt.RefType) or t.heap < wt.SELF_HEAP:
        return t
    if type_id is None:
        return wt.ref_type(t.nullable, wt.HeapType.FUNC)
    if t.heap == wt.SELF_HEAP:
        return wt.ref_type(t.nullable, wt.CONCRETE_HEAP + type_id)
    return t


def _tops(
    types: tuple[wt.ValueType, ...], registry: TypeRegistry | None
) -> tuple[wt.ValueType, ...] | None:
    """Each type's representation (``TypeRegistry.top``) when one of ``types`` is a
    concrete heap type (whose kind the registry knows); None when ``t.top`` tells."""
    if registry is None or not any(
        isinstance(t, wt.RefType) and t.heap >= wt.CONCRETE_HEAP for t in types
    ):
        return None
    return tuple(registry.top(t) for t in types)


def _codecs_of(
    ty: wt.FuncType, type_id: int | None, registry: TypeRegistry | None
) -> tuple[SlotCodec, ...]:
    """API in/out, raw in/out, and what a host function receives and returns, for
    signature ``ty`` (closed over the ids of ``registry``, the engine's, when
    ``type_id``, its id, is given: see ``_codec_type``)."""
    p = tuple(_codec_type(t, type_id) for t in ty.params)
    r = tuple(_codec_type(t, type_id) for t in ty.results)
    pt, rt = _tops(p, registry), _tops(r, registry)
    return (
        codec(p, raw=False, decode=False, tops=pt),
        codec(r, raw=False, decode=True, tops=rt),
        codec(p, raw=True, decode=False, tops=pt),
        codec(r, raw=True, decode=True, tops=rt),
        codec(p, raw=False, decode=True, tops=pt),
        codec(r, raw=False, decode=False, tops=rt),
    )


#: makes the call path of one wasm function of a given signature (see ``_call_factory``)
CallFactory = Callable[..., Callable[[Sequence[Any]], Any]]
_call_factories: dict[tuple[SlotCodec, SlotCodec], CallFactory] = {}


def _call_factory(api_in: SlotCodec, out: SlotCodec) -> CallFactory:
    """Generate (once per signature) a factory of wasm call paths with the argument packing
    inlined; ``encode_into`` is the fallback that converts ``Val`` boxes or raises the right
    error, and the results are read back with one ``struct`` call when they are plain."""
    key = (api_in, out)
    make = _call_factories.get(key)
    if make is not None:
        return make
    nparams, n = len(api_in.types), len(out.types)
    # the count goes up before the thread test, with no call between them (see
    # ``Store.enter_thread``); the packing may raise, so it is inside the try as well
    body = [
        "me = get_ident()",
        "store.entries += 1",
        "try:",
        "    if me != store.thread:",
        "        store.enter_thread()",
        # a safe point for the externref collector: no argument is encoded yet
        "    if externs.due:",
        "        externs.collect()",
    ]
    if nparams == 0:
        body += ["    if params:", "        slow(store, buf, params)"]
    else:
        names = "".join(f"a{i}, " for i in range(nparams))
        body += [
            "    try:",
            f"        {names}= params",
            f"        pack_into(buf, 0, {', '.join(api_in.pack_exprs(raw=False))})",
            "    except Exception:",
            "        slow(store, buf, params)",
        ]
    # the GIL is released during ``entry`` (a CFUNCTYPE call)
    body += [
        "    status = entry(vm, buf)",
        "finally:",
        "    store.entries -= 1",
        "if status:",
        "    raise_trap()",
    ]
    if n == 0:
        body.append("return None")
    elif out.simple:
        body.append("return unpack(buf)[0]" if n == 1 else "return list(unpack(buf))")
    else:
        body.append("res = decode(store, buf)")
        body.append("return res[0]" if n == 1 else "return res")
    lines = [
        "def make(get_ident, store, externs, slow, pack_into, entry, vm, buf, raise_trap, unpack,"
        " decode):",
        "    def call(params):",
        *(f"        {line}" for line in body),
        "    return call",
    ]
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from a fixed template
    make = _call_factories[key] = namespace["make"]
    return make


class Caller:
    """What a host function created with ``access_caller=True`` receives first: access to
    the exports of the instance that called it. It is valid only during that call."""

    def __init__(self, store: Store, instance: Instance | None) -> None:
        self.store = store
        self._instance = instance

    def get(self, name: str) -> Any:
        """Looks up an export with ``name`` on the calling module.

        May return ``None`` if the export isn't found, if the function was not called by
        wasm, or if the caller has gone away and this ``Caller`` object has persisted too
        long."""
        if not isinstance(name, str):  # wasmtime-py encodes it first: an AttributeError there
            raise AttributeError(f"an export name must be a str, not {type(name).__name__}")
        if self._instance is None:
            return None
        return self._instance.exports(self.store).get(name)

    def __getitem__(self, name: str) -> Any:
        """Looks up an export with ``name`` on the calling module; ``KeyError`` if ``get``
        would return ``None``."""
        item = self.get(name)
        if item is None:
            raise KeyError(f"failed to find export {name}")
        return item

    def _invalidate(self) -> None:
        self._instance = None


#: a host function's context, as a ctypes array type
_HostCtx = ctypes.c_uint64 * (vo.HOSTCTX_SIZE // 8)
#: reads the object a host context names (``HOSTCTX_FUNC``)
_FuncWord: Any = ctypes.py_object


class HostCall(Protocol):
    """What ``run_host`` reads of a host function: a host ``Func``, or a linker's
    store-independent definition (``cwasm.runtime.host_defs``)."""

    _host: Callable[..., Any] | None
    _access_caller: bool
    _nres: int
    _host_args: SlotCodec
    _host_results: SlotCodec
    _view_t: Any


def _call_host(hostctx: int, caller_vmctx: int | None, values: int, count: int) -> int:
    """The callback of every host function (``HOST_CALLBACK``): runs the host function of
    the context ``hostctx`` through the object its ``HOSTCTX_FUNC`` word names (a borrowed
    reference): a ``Func`` whose own buffer the context is, or the block of a store's host
    contexts of linker definitions (``cwasm.runtime.host_defs``). The store keeps that
    object, and so the context, alive as long as compiled code can call through it."""
    owner: Any = _FuncWord.from_address(hostctx + vo.HOSTCTX_FUNC).value
    return owner._on_call(hostctx, caller_vmctx, values, count)


#: the one ctypes callback every host context points to (never freed)
_HOST_CALLBACK = HOST_PROTO(_call_host)
HOST_CALLBACK_ADDRESS = _function_pointer(_HOST_CALLBACK)
#: a ``VMFuncRef``, as a ctypes array type
_FuncRefWords = ctypes.c_uint64 * (vo.FUNCREF_SIZE // 8)


class HostFuncTemplate:
    """What every host ``Func`` of one signature in one engine shares (its type, type id,
    codecs and value-buffer type), made once, so that making one — seven per store for
    WASI — only sets up what is its own: the callback, the host context and the
    ``VMFuncRef``."""

    __slots__ = ("shared",)

    def __init__(self, type_id: int, ty: wt.FuncType, registry: TypeRegistry) -> None:
        codecs = _codecs_of(ty, type_id, registry)
        api_in, api_out, raw_in, raw_out, host_args, host_results = codecs
        n = max(len(ty.params), len(ty.results), 1)
        self.shared: dict[str, Any] = {
            "wasm_type": ty,
            "instance": None,
            "func_index": -1,
            "type_id": type_id,
            "_nres": len(ty.results),
            "_api_in": api_in,
            "_api_out": api_out,
            "_raw_in": raw_in,
            "_raw_out": raw_out,
            "_host_args": host_args,
            "_host_results": host_results,
            "_view_t": ctypes.c_char * (vo.VALUE_SLOT_SIZE * n),
        }

    @staticmethod
    def of(engine: Any, ty: wt.FuncType, type_id: int | None = None) -> HostFuncTemplate:
        """The template of signature ``ty`` in ``engine`` (made on first use), of engine
        type ``type_id`` (by default the final type of ``ty`` alone)."""
        templates: dict[Any, HostFuncTemplate] = engine.host_func_templates
        key = ty if type_id is None else (ty, type_id)
        template = templates.get(key)
        if template is None:
            tid = engine.type_id(ty) if type_id is None else type_id
            template = templates[key] = HostFuncTemplate(tid, ty, engine.types)
        return template

    def make(
        self,
        store: Store,
        func: Callable[..., Any],
        access_caller: bool,
        hostctx_address: int = 0,
    ) -> Func:
        """A host function of this signature in ``store`` calling ``func`` (what
        ``Func(store, ty, func, access_caller)`` makes, without its argument checks);
        ``hostctx_address``: the host context it is entered through when the store holds
        one for it already (``cwasm.runtime.host_defs``), else it gets its own."""
        f = Func.__new__(Func)
        self.fill(f, store, func, access_caller, hostctx_address)
        return f

    def fill(
        self,
        f: Func,
        store: Store,
        func: Callable[..., Any],
        access_caller: bool,
        hostctx_address: int = 0,
    ) -> None:
        """Make ``f`` a host function of this signature in ``store`` calling ``func``
        (``hostctx_address``: as for ``make``)."""
        d = f.__dict__
        d.update(self.shared)
        d["store"] = store
        d["_host"] = func
        d["_access_caller"] = access_caller
        d["_call"] = f._call_host_from_python
        if not hostctx_address:
            hostctx = d["_hostctx"] = _HostCtx()
            hostctx[vo.CTX_MAGIC // 8] = vo.HOSTCTX_MAGIC
            hostctx[vo.CTX_STORE // 8] = store.ctx_address
            hostctx[vo.HOSTCTX_CALLBACK // 8] = HOST_CALLBACK_ADDRESS
            hostctx[vo.HOSTCTX_FUNC // 8] = id(f)  # borrowed: ``f`` owns ``hostctx``
            hostctx_address = ctypes.addressof(hostctx)
        d["hostctx_address"] = hostctx_address
        funcref = d["_funcref"] = _FuncRefWords()
        funcref[vo.FUNCREF_VMCTX // 8] = hostctx_address
        funcref[vo.FUNCREF_TYPE_ID // 8] = self.shared["type_id"]
        funcref_addr = d["_funcref_addr"] = ctypes.addressof(funcref)
        store.refs.add_host_funcref(funcref_addr, f)
        store.keep(f)


class Func:
    """A function: host (``Func(store, FuncType, callable)``) or exported by an instance."""

    store: Store
    wasm_type: wt.FuncType
    instance: Instance | None
    func_index: int
    type_id: int
    _host: Callable[..., Any] | None
    _access_caller: bool
    _buf: Any
    _entry: Any
    _vmctx: ctypes.c_void_p
    _call: Callable[[Sequence[Any]], Any]
    _funcref_addr: int
    # a host function's own (``HostFuncTemplate.fill``)
    _view_t: Any
    _hostctx: ctypes.Array[ctypes.c_uint64]
    _funcref: ctypes.Array[ctypes.c_uint64]
    hostctx_address: int

    def __init__(
        self,
        store: Store,
        ty: FuncType,
        func: Callable[..., Any],
        access_caller: bool = False,
    ) -> None:
        """Creates a new func in ``store`` with the given ``ty`` which calls the closure
        given.

        The ``func`` is called with the parameters natively and they'll have native
        Python values rather than being wrapped in ``Val``. If ``access_caller`` is set to
        ``True`` then the first argument given to ``func`` is an instance of type
        ``Caller``. Its results are checked against ``ty`` wherever it is called from."""
        if not isinstance(store, _store_class()):
            raise TypeError("expected a Store")
        if not isinstance(ty, FuncType):
            raise TypeError("expected a FuncType")
        store._check_open()
        engine = store.engine
        HostFuncTemplate.of(engine, ty.wasm, ty.type_id_in(engine)).fill(
            self, store, func, access_caller
        )

    @classmethod
    def _from_raw(cls, store: Store, instance: Instance, func_index: int) -> Func:
        """The wasm function ``func_index`` defined by ``instance`` (whose vmctx holds its
        ``VMFuncRef``)."""
        self = cls.__new__(cls)
        self.store = store
        self.instance = instance
        self.func_index = func_index
        compiled = instance.compiled
        self.wasm_type = compiled.func_type(func_index)
        self._host = None
        self._access_caller = False
        self.type_id = compiled.type_ids[compiled.m.functions[func_index]]
        self._init_codecs()
        n = max(len(self.wasm_type.params), len(self.wasm_type.results), 1)
        self._buf = (ctypes.c_uint64 * (2 * n))()
        entry = compiled.entry_addrs[func_index - compiled.m.num_imported_funcs]
        self._entry = ENTRY_PROTO(entry) if entry else None
        self._vmctx = ctypes.c_void_p(instance.vmctx)
        self._call = self._make_call()
        self._funcref_addr = instance.funcref_address(func_index)
        return self

    def _init_codecs(self) -> None:
        ty = self.wasm_type
        # a wasm function's: its signature closed over the engine's type ids
        type_id = self.type_id
        engine = self.store.engine
        codecs = engine.signature_codecs.get(type_id)
        if codecs is None:
            codecs = _codecs_of(engine.func_type(type_id), type_id, engine.types)
            engine.signature_codecs[type_id] = codecs
        self._nres = len(ty.results)
        self._api_in, self._api_out, self._raw_in, self._raw_out, host_args, host_results = codecs
        if self._host is not None:  # what a host function receives, and returns
            self._host_args = host_args
            self._host_results = host_results

    # --- wasmtime-py API ---

    def type(self, store: Store | None = None) -> FuncType:
        """Gets the type of this func as a ``FuncType`` (typed references closed over the
        engine's type ids, as the types of imports and exports are)."""
        engine = self.store.engine
        if self._host is not None:
            return FuncType.from_wasm(self.wasm_type, engine, self.type_id)
        return FuncType.from_wasm(engine.func_type(self.type_id), engine, self.type_id)

    @property
    def param_arity(self) -> int:
        """The number of parameters."""
        return len(self.wasm_type.params)

    @property
    def result_arity(self) -> int:
        """The number of results."""
        return len(self.wasm_type.results)

    def __call__(self, store: Store, *params: Any) -> Any:
        """Calls this function with the given parameters.

        Parameters can either be a ``Val`` or a native python value which can be
        converted to a ``Val`` of the corresponding correct type (a ``TypeError``
        otherwise; a wrong count is a ``WasmtimeError``).

        Returns ``None`` if this func has 0 return types, a single value if it has 1
        return type, and a list if it has more than 1 return type."""
        return self._call(params)  # the host or the generated wasm call path

    def _make_call(self) -> Callable[[Sequence[Any]], Any]:
        """The call path of a wasm function: a closure over everything it touches, from a
        factory generated once per signature (see ``_call_factory``)."""
        entry = self._entry
        if entry is None:
            return lambda params: self._invoke(self._buf)
        api_in, out = self._api_in, self._api_out
        store = self.store
        make = _call_factory(api_in, out)
        return make(
            threading.get_ident,
            store,
            store.refs.externs,
            api_in.encode_arguments,
            api_in.struct.pack_into,
            entry,
            self._vmctx,
            self._buf,
            store.raise_trap,
            out.struct.unpack_from,
            out.decode_from,
        )

    def call_raw(self, store: Store, args: Sequence[Any]) -> list[Any]:
        """Call with raw bits: i32/i64 as unsigned patterns, f32/f64 as IEEE bits, v128 as
        a 128-bit int, references as objects or None. Returns the results the same way."""
        if self._host is not None:
            return self._call_host_raw(args)
        buf = self._buf
        self.store.check_owner()  # before the shared buffer is written
        self.store.refs.externs.collect_if_due()
        try:
            self._raw_in.encode(self.store, buf, args)
        except RefTypeMismatch as e:
            raise e.with_context(ARGUMENT_MISMATCH) from None
        self._invoke(buf)
        return self._raw_out.decode_from(self.store, buf)

    def _invoke(self, buf: Any) -> None:
        entry = self._entry
        if entry is None:
            raise CwasmError("this function cannot be called: it has no entry trampoline")
        store = self.store
        me = threading.get_ident()
        store.entries += 1  # before the thread test: see ``Store.enter_thread``
        try:
            if me != store.thread:
                store.enter_thread()
            status = entry(self._vmctx, buf)  # without the GIL
        finally:
            store.entries -= 1
        if status:
            store.raise_trap()

    # --- host functions called from Python ---

    def _call_host_from_python(self, params: Sequence[Any], caller_vmctx: int = 0) -> Any:
        """Call the host function as wasm would (``caller_vmctx``: the calling instance's),
        with the same checks of its arguments and results."""
        self.store._check_open()
        self.store.refs.externs.collect_if_due()
        n = max(len(self.wasm_type.params), self._nres, 1)
        buf = (ctypes.c_uint64 * (2 * n))()
        self._api_in.encode_arguments(self.store, buf, params)  # type-checks the arguments
        if run_host(self, self.store, self._view_t.from_buffer(buf), caller_vmctx) != 0:
            self.store.raise_trap()
        if self._nres == 0:
            return None
        results = self._api_out.decode_from(self.store, buf)
        return results[0] if self._nres == 1 else results

    def _call_host_raw(self, args: Sequence[Any]) -> list[Any]:
        self.store._check_open()
        n = max(len(self.wasm_type.params), len(self.wasm_type.results), 1)
        buf = (ctypes.c_uint64 * (2 * n))()
        self.store.refs.externs.collect_if_due()
        self._raw_in.encode_arguments(self.store, buf, args)
        view = self._view_t.from_buffer(buf)
        if run_host(self, self.store, view, None) != 0:
            self.store.raise_trap()
        return self._raw_out.decode_from(self.store, buf)

    # --- host functions called from wasm ---

    def _on_call(self, hostctx: int, caller_vmctx: int | None, values: int, count: int) -> int:
        # no further call before ``run_host``: the frames a host call takes stay as few
        status = run_host(self, self.store, self._view_t.from_address(values), caller_vmctx)
        if status == 0 or status == vo.HOST_RETHROW:
            set_completion(values, count, status)
        return status

    # --- references ---

    def funcref_address(self) -> int:
        """The address of this function's ``VMFuncRef``. A host function's gets its
        ``wasm_call`` from a module of the store with a trampoline of its type, now or when
        one is instantiated (``cwasm.runtime.module_registry``)."""
        if self._host is not None and self._funcref[vo.FUNCREF_WASM_CALL // 8] == 0:
            self.store.modules.fill_func_ref(self._funcref, self.type_id)
        return self._funcref_addr

    def vmfuncref(self) -> tuple[int, int, int, int]:
        """(wasm_call, vmctx, array_call, type_id) to copy into an importing vmctx."""
        words = (ctypes.c_uint64 * (vo.FUNCREF_SIZE // 8)).from_address(self._funcref_addr)
        return (
            words[vo.FUNCREF_WASM_CALL // 8],
            words[vo.FUNCREF_VMCTX // 8],
            words[vo.FUNCREF_ARRAY_CALL // 8],
            words[vo.FUNCREF_TYPE_ID // 8],
        )

    def __repr__(self) -> str:
        kind = "host" if self._host is not None else f"wasm function {self.func_index}"
        return f"<Func {kind} {self.wasm_type}>"


def set_completion(values: int, count: int, status: int) -> None:
    """Set the completion flag after the ``count`` value slots at ``values`` (see the
    wasm-to-array trampoline) for a host call that ended with ``status`` 0 (it returned)
    or ``HOST_RETHROW``."""
    ctypes.c_uint64.from_address(values + vo.VALUE_SLOT_SIZE * count).value = status or 1


def run_host(f: HostCall, store: Store, view: Any, caller_vmctx: int | None) -> int:
    """Run the host function on the arguments in ``view`` and leave its results there,
    checked as wasmtime-py checks them; 0, or 1 with the exception in the store, or
    ``HOST_RETHROW`` when it raised a wasm exception of the store, which the calling
    wasm may catch (``STORE_EXN``)."""
    host = f._host
    assert host is not None
    caller = None
    # the GC root chain as the calling wasm left it: a trap in wasm this host function
    # called (of a module without root areas in its entry trampoline) may leave it stale
    roots = store._ctx[vo.STORE_GC_ROOTS // 8]
    try:
        args = f._host_args.decode_from(store, view)
        if f._access_caller:
            caller = Caller(store, INSTANCES.at(caller_vmctx) if caller_vmctx else None)
            result = host(caller, *args)
        else:
            result = host(*args)
        n = f._nres
        if n == 1:
            f._host_results.encode_in_context(store, view, (result,), RESULT_MISMATCH)
        elif n == 0:
            if result is not None:
                raise CwasmError("callback produced results when it shouldn't")
        else:
            if len(result) != n:
                raise CwasmError("callback produced wrong number of results")
            f._host_results.encode_in_context(store, view, result, RESULT_MISMATCH)
        return 0
    except BaseException as e:  # noqa: BLE001 - re-raised at the Python boundary
        if store.exceptions.rethrow(e):
            return vo.HOST_RETHROW
        store.pending = e
        return 1
    finally:
        store._ctx[vo.STORE_GC_ROOTS // 8] = roots
        if caller is not None:
            caller._invalidate()
