"""cwasm.api next to wasmtime-py 28, one test body for both: boundary checks, Config,
lifetimes and the API's shape, error texts.

Each test runs once with ``import wasmtime`` and once with ``cwasm.api`` as ``w`` and
asserts what both do; what only cwasm does (where wasmtime-py aborts the process or has
no such rule) is tested on cwasm alone, at the end of each part.
"""

from __future__ import annotations

import collections.abc
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm import api

I32_I32 = "(func (param i32) (result i32))"


@pytest.fixture(params=["wasmtime", "cwasm"])
def w(request: pytest.FixtureRequest) -> ModuleType:
    """The API under test: wasmtime-py, or cwasm's through the same names."""
    return wasmtime if request.param == "wasmtime" else api


def text(exc: BaseException) -> str:
    """An error's text without the Rust backtrace ``RUST_BACKTRACE`` adds to Wasmtime's."""
    return str(exc).split("\n\nStack backtrace:")[0]


def i32(w: ModuleType) -> Any:
    return w.ValType.i32()


def instance(w: ModuleType, store: Any, source: str, imports: list[Any] | None = None) -> Any:
    return w.Instance(store, w.Module(store.engine, source), imports or [])


# --- item 3: boundary checks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "returned", "error", "message"),
    [
        ([], 1, "WasmtimeError", "callback produced results when it shouldn't"),
        (["i32", "i32"], 1, "TypeError", None),  # has no len()
        (["i32", "i32"], [1, 2, 3], "WasmtimeError", "callback produced wrong number of results"),
        (["i32"], "x", "TypeError", None),
        (["i32"], 1.5, "TypeError", None),
        (["i32"], ("Val.i64", 3), "TypeError", None),
    ],
)
def test_host_results_are_checked_from_python_and_from_wasm(
    w: ModuleType, results: list[str], returned: Any, error: str, message: str | None
) -> None:
    store = w.Store()
    if isinstance(returned, tuple):
        returned = w.Val.i64(returned[1])
    ty = w.FuncType([], [getattr(w.ValType, r)() for r in results])
    host = w.Func(store, ty, lambda: returned)
    sig = " ".join(results)
    calls = instance(
        w,
        store,
        f"""(module (import "" "f" (func $f (result {sig})))
              (func (export "g") (result {sig}) call $f))""",
        [host],
    ).exports(store)["g"]
    for f in (host, calls):
        with pytest.raises(getattr(w, error, None) or TypeError) as info:
            f(store)
        if message is not None:
            assert text(info.value) == message


def test_host_results_are_converted_like_arguments(w: ModuleType) -> None:
    store = w.Store()
    ty = w.FuncType([], [i32(w)])
    assert w.Func(store, ty, lambda: 2**32 + 5)(store) == 5
    assert w.Func(store, ty, lambda: 0xFFFFFFFF)(store) == -1
    assert w.Func(store, ty, lambda: w.Val.i32(3))(store) == 3
    two = w.FuncType([], [i32(w), w.ValType.f64()])
    assert w.Func(store, two, lambda: (1, 2.5))(store) == [1, 2.5]


def test_arguments_are_checked_for_wasm_and_host_functions(w: ModuleType) -> None:
    store = w.Store()
    wasm = instance(w, store, '(module (func (export "f") (param i32) (result i32) local.get 0))')
    host = w.Func(store, w.FuncType([i32(w)], [i32(w)]), lambda x: x)
    for f in (wasm.exports(store)["f"], host):
        assert f(store, w.Val.i32(7)) == 7
        with pytest.raises(TypeError):
            f(store, w.Val.i64(3))
        with pytest.raises(TypeError):
            f(store, 3.0)
        with pytest.raises(TypeError):
            f(store, "3")
        with pytest.raises(w.WasmtimeError) as many:
            f(store, 1, 2)
        assert text(many.value) == "too many parameters provided: given 2, expected 1"
        with pytest.raises(w.WasmtimeError) as few:
            f(store)
        assert text(few.value) == "too few parameters provided: given 0, expected 1"


def test_wrong_argument_types_raise_what_wasmtime_py_raises(w: ModuleType) -> None:
    store = w.Store()
    ty = w.FuncType([], [])
    module = w.Module(store.engine, '(module (import "" "" (func)))')
    cases: list[tuple[type[BaseException], Any]] = [
        (TypeError, lambda: w.Engine(3)),
        (TypeError, lambda: w.Store(3)),
        (TypeError, lambda: w.Func(1, ty, lambda: None)),
        (TypeError, lambda: w.Func(store, 1, lambda: None)),
        (TypeError, lambda: w.Global(store, 1, w.Val.i32(1))),
        (TypeError, lambda: w.Global(store, w.GlobalType(i32(w), True), w.Val.i64(1))),
        (TypeError, lambda: w.Global(store, w.GlobalType(w.ValType.f64(), True), "1.5")),
        (TypeError, lambda: w.Instance(store, module, [1])),
        (AttributeError, lambda: w.Linker(2)),
        (TypeError, lambda: w.Val.f32("")),
        (TypeError, lambda: w.Val.f32(1)),
        (TypeError, lambda: w.Val.f64(1)),
        (TypeError, lambda: w.Val.i32(1.5)),
        (TypeError, lambda: w.Val.i64("")),
        (TypeError, lambda: w.FuncType([1], [])),
        (TypeError, lambda: w.MemoryType(1)),
        (TypeError, lambda: w.TableType(w.ValType.funcref(), 1)),
        (TypeError, lambda: w.Module(w.Engine(), 2)),
        (TypeError, lambda: w.Module.validate(w.Engine(), 2)),
        (AttributeError, lambda: w.Module.validate(1, b"")),
    ]
    for error, make in cases:
        with pytest.raises(error):
            make()
    linker = w.Linker(store.engine)
    with pytest.raises(TypeError):
        linker.allow_shadowing = 2
    func = w.Func(store, ty, lambda: None)
    with pytest.raises(AttributeError):
        linker.define(store, 2, "", func)
    with pytest.raises(TypeError):
        linker.define(store, "", "", 2)
    with pytest.raises(TypeError):
        linker.define_func("", "", 1, lambda: None)


def test_val_f32_rounds_to_single_precision(w: ModuleType) -> None:
    assert w.Val.f32(1.1).value == 1.100000023841858
    assert w.Val.f64(1.1).value == 1.1


# --- item 4: Config ----------------------------------------------------------------------


BOOL_SETTINGS = [
    "debug_info",
    "wasm_threads",
    "wasm_tail_call",
    "wasm_reference_types",
    "wasm_simd",
    "wasm_bulk_memory",
    "wasm_multi_value",
    "wasm_multi_memory",
    "wasm_memory64",
    "wasm_relaxed_simd",
    "wasm_relaxed_simd_deterministic",
    "cranelift_debug_verifier",
    "consume_fuel",
    "parallel_compilation",
]


def test_config_settings_check_their_values(w: ModuleType) -> None:
    config = w.Config()
    for name in BOOL_SETTINGS:
        setattr(config, name, True)
        setattr(config, name, False)
        with pytest.raises(TypeError):
            setattr(config, name, 1)
    config.epoch_interruption = 1  # wasmtime-py takes any truthy value here
    for name, good, bad, message in [
        ("strategy", ["auto", "cranelift"], "winch", "unknown strategy: winch"),
        ("profiler", ["none", "jitdump"], "perfmap", "unknown profiler: perfmap"),
        ("cranelift_opt_level", ["none", "speed", "speed_and_size"], 3, "unknown opt level: 3"),
    ]:
        for value in good:
            setattr(config, name, value)
        with pytest.raises(w.WasmtimeError) as info:
            setattr(config, name, bad)
        assert text(info.value) == message


def test_config_cache(w: ModuleType, tmp_path: Path) -> None:
    config = w.Config()
    config.cache = True
    with pytest.raises(w.WasmtimeError) as off:
        config.cache = False
    assert text(off.value) == "caching cannot be explicitly disabled"
    with pytest.raises(TypeError):
        config.cache = 1
    missing = str(tmp_path / "missing.toml")
    with pytest.raises(w.WasmtimeError) as info:
        config.cache = missing
    assert text(info.value) == (
        f"failed to read config file: {missing}\n\nCaused by:\n"
        "    No such file or directory (os error 2)"
    )
    for body, why in [
        ("[cache]\n", "missing field `enabled`"),
        ("[other]\n", "unknown field `other`, expected `cache`"),
        ("[cache]\nenabled = true\nbogus = 1\n", "unknown field `bogus`, expected one of"),
    ]:
        path = tmp_path / "cache.toml"
        path.write_text(body)
        with pytest.raises(w.WasmtimeError) as bad:
            config.cache = str(path)
        assert text(bad.value).startswith(f"failed to parse config file: {path}\n\nCaused by:")
        assert why in text(bad.value)
    path.write_text(f'[cache]\nenabled = true\ndirectory = "{tmp_path / "dir"}"\n')
    config.cache = str(path)


def test_an_engine_consumes_its_config(w: ModuleType) -> None:
    config = w.Config()
    w.Engine(config)
    with pytest.raises(ValueError):
        w.Engine(config)
    with pytest.raises(ValueError):
        config.wasm_simd = True
    closed = w.Config()
    with closed:
        pass
    closed.close()
    with pytest.raises(ValueError):
        w.Engine(closed)
    with pytest.raises(ValueError):
        closed.cache = True


FEATURE_USES = [
    (
        "wasm_simd",
        "(module (func (result v128) v128.const i64x2 0 0))",
        "SIMD support is not enabled",
    ),
    ("wasm_simd", "(module (func (param v128)))", "SIMD support is not enabled"),
    (
        "wasm_reference_types",
        "(module (table 1 externref))",
        "reference types support is not enabled",
    ),
    ("wasm_reference_types", "(module (table 1 funcref) (table 1 funcref))", "multiple tables"),
    (
        "wasm_reference_types",
        "(module (func (drop (ref.null func))))",
        "reference types support is not enabled",
    ),
    (
        "wasm_bulk_memory",
        "(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))",
        "bulk memory support is not enabled",
    ),
    (
        "wasm_multi_value",
        "(module (func (result i32 i32) i32.const 0 i32.const 0))",
        "func type returns multiple values but the multi-value feature is not enabled",
    ),
    (
        "wasm_multi_value",
        "(module (type (func (result i32))) (func (result i32) (block (type 0) i32.const 1)))",
        "blocks, loops, and ifs may only produce a resulttype when multi-value is not enabled",
    ),
    ("wasm_threads", "(module (memory 1 1 shared))", "threads must be enabled for shared memories"),
    (
        "wasm_threads",
        "(module (memory 1 1) (func (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))))",
        "threads support is not enabled",
    ),
]


@pytest.mark.parametrize(("setting", "source", "message"), FEATURE_USES)
def test_a_proposal_turned_off_is_refused(
    w: ModuleType, setting: str, source: str, message: str
) -> None:
    config = w.Config()
    setattr(config, setting, False)
    config.wasm_relaxed_simd = False  # on by default in Wasmtime, and it needs SIMD
    engine = w.Engine(config)
    with pytest.raises(w.WasmtimeError) as compiled:
        w.Module(engine, source)
    with pytest.raises(w.WasmtimeError) as validated:
        w.Module.validate(engine, w.wat2wasm(source))
    for info in (compiled, validated):
        assert message in text(info.value)
    w.Module(engine, "(module (func (result i32) i32.const 0))")  # the rest still compiles


def test_cwasm_config_refuses_what_it_cannot_do_when_the_engine_is_made() -> None:
    config = api.Config()
    with pytest.raises(AttributeError):
        config.wasm_simdd = False  # type: ignore[attr-defined]
    config = api.Config()
    config.debug_info = True
    with pytest.raises(api.WasmtimeError, match="not supported by cwasm yet .*debug_info"):
        api.Engine(config)
    config = api.Config()
    config.profiler = "jitdump"
    with pytest.raises(api.WasmtimeError, match="jitdump profiler is not supported"):
        api.Engine(config)


def test_cwasm_artifacts_record_the_proposals_turned_off() -> None:
    config = api.Config()
    config.wasm_simd = False
    engine = api.Engine(config)
    artifact = api.Module(engine, "(module)").serialize()
    assert api.Module.deserialize(api.Engine(_no_simd()), artifact).serialize() == artifact
    with pytest.raises(api.WasmtimeError, match="wasm_features"):
        api.Module.deserialize(api.Engine(), artifact)


def _no_simd() -> api.Config:
    config = api.Config()
    config.wasm_simd = False
    return config


def test_cwasm_config_cache_compiles_once(tmp_path: Path) -> None:
    path = tmp_path / "cache.toml"
    path.write_text(f'[cache]\nenabled = true\ndirectory = "{tmp_path / "dir"}"\n')
    config = api.Config()
    config.cache = str(path)
    assert config.cache == tmp_path / "dir"
    engine = api.Engine(config)
    source = '(module (func (export "f") (result i32) i32.const 7))'
    api.Module(engine, source)
    [entry] = (tmp_path / "dir").glob("*/*.cwasm")
    again = api.Module(engine, source)
    assert again.serialize() == entry.read_bytes()  # loaded from the cache
    store = api.Store(engine)
    assert api.Instance(store, again, []).exports(store)["f"](store) == 7


# --- item 5: lifetimes and the API's shape -----------------------------------------------


def test_store_close_and_context_manager(w: ModuleType) -> None:
    with w.Store() as store:
        pass
    store = w.Store()
    f = instance(w, store, '(module (func (export "f")))').exports(store)["f"]
    host = w.Func(store, w.FuncType([], []), lambda: None)
    store.close()
    store.close()
    for use in [
        store.data,
        store.gc,
        lambda: store.set_wasi(w.WasiConfig()),
        lambda: f(store),
        lambda: host(store),
        lambda: w.Func(store, w.FuncType([], []), lambda: None),
        lambda: w.Memory(store, w.MemoryType(w.Limits(1, None))),
        lambda: w.Instance(store, w.Module(store.engine, "(module)"), []),
    ]:
        with pytest.raises(ValueError):
            use()


def test_other_objects_close(w: ModuleType) -> None:
    engine = w.Engine()
    module = w.Module(engine, "(module)")
    linker = w.Linker(engine)
    with w.WasiConfig() as wasi:
        pass
    with w.FuncType([], [w.ValType.i32()]) as ty:
        pass
    for obj in (module, linker, wasi, ty, w.ValType.i32(), w.MemoryType(w.Limits(1, None))):
        obj.close()
        obj.close()
    with pytest.raises(ValueError):
        w.Instance(w.Store(engine), module, [])
    with pytest.raises(ValueError):
        linker.define_wasi()
    with pytest.raises(ValueError):
        w.Store(engine).set_wasi(wasi)
    engine.close()
    with pytest.raises(ValueError):
        w.Store(engine)
    with pytest.raises(ValueError):
        w.Linker(engine)


def test_store_data(w: ModuleType) -> None:
    assert w.Store(w.Engine(), data={"x": 1}).data() == {"x": 1}
    assert w.Store().data() is None


def test_instance_exports_are_a_mapping(w: ModuleType) -> None:
    store = w.Store()
    exports = instance(
        w, store, '(module (func (export "a")) (global (export "b") i32 (i32.const 0)))'
    ).exports(store)
    assert isinstance(exports, collections.abc.Mapping)
    assert list(exports.keys()) == ["a", "b"]
    assert list(exports.values()) == list(exports.by_index)
    assert [name for name, _ in exports.items()] == ["a", "b"]
    assert exports.get("c", 7) == 7 and "a" in exports and len(exports) == 2


def test_star_import_and_wat2wasm(w: ModuleType) -> None:
    assert w.wat2wasm("(module)") == bytearray(b"\0asm\x01\0\0\0")
    assert isinstance(w.wat2wasm(b"(module)"), bytearray)
    with pytest.raises(w.WasmtimeError):
        w.wat2wasm("x")
    namespace: dict[str, Any] = {}
    exec(f"from {w.__name__} import *", namespace)  # noqa: S102
    assert {"Engine", "Store", "Module", "wat2wasm", "WasmtimeError"} <= namespace.keys()


def test_cwasm_star_import_brings_wasmtime_py_names() -> None:
    namespace: dict[str, Any] = {}
    exec("from cwasm import *", namespace)  # noqa: S102
    assert set(wasmtime.__all__) <= namespace.keys()
    assert set(cwasm.__all__) == set(api.__all__)


def test_memory_write_and_read_bounds(w: ModuleType) -> None:
    store = w.Store()
    memory = w.Memory(store, w.MemoryType(w.Limits(1, None)))
    size = memory.data_len(store)
    assert memory.write(store, b"abc", -3) == 3
    assert memory.read(store, -3) == bytearray(b"abc")
    assert memory.write(store, b"") == 0
    for data, start in [(b"ab", size - 1), (b"a", size), (b"", size), (b"a", 2 * size)]:
        with pytest.raises(IndexError):
            memory.write(store, data, start)
    assert memory.read(store, size + 1) == bytearray()
    with pytest.raises(w.WasmtimeError):
        memory.grow(store, -1)


@pytest.mark.parametrize(
    ("limits", "shared", "message"),
    [
        ((2**32, None), False, "minimum size too large"),
        ((1, 2**32), False, "maximum size too large"),
        ((2**32, None), True, "minimum size too large"),
        ((1, 2**32), True, "maximum size too large"),
    ],
)
def test_memory_type_limits(
    w: ModuleType, limits: tuple[int, int | None], shared: bool, message: str
) -> None:
    with pytest.raises(w.WasmtimeError) as info:
        w.MemoryType(w.Limits(*limits), shared=shared)
    assert text(info.value) == message
    ok = w.MemoryType(w.Limits(65536, 65536))
    assert ok.limits == w.Limits(65536, 65536)


@pytest.mark.parametrize(
    ("limits", "shared", "message"),
    [
        # wasmtime-py 28 aborts the process on these (a panic in its C API)
        ((65537, None), False, "minimum size is too large for this memory type's index type"),
        ((1, 65537), False, "maximum size is too large for this memory type's index type"),
        ((3, 2), False, "maximum page size cannot be smaller than the minimum page size"),
        ((1, None), True, "shared memories must have a maximum size"),
    ],
)
def test_cwasm_memory_type_limits_wasmtime_checks(
    limits: tuple[int, int | None], shared: bool, message: str
) -> None:
    with pytest.raises(api.WasmtimeError, match=re.escape(message)):
        api.MemoryType(api.Limits(*limits), shared=shared)


START_CALLS_HOST = """
(module
  (import "" "" (func))
  (memory (export "foo") 1)
  (start 0)
  (data (i32.const 0) "foo"))
"""


def test_caller_of_a_start_function_and_after_its_call(w: ModuleType) -> None:
    store = w.Store()
    seen: dict[str, Any] = {}

    def start(caller: Any) -> None:
        seen["caller"] = caller
        memory = caller.get("foo")
        seen["data"] = memory.read(caller, 0, 3)
        assert caller.get("bar") is None

    module = w.Module(store.engine, START_CALLS_HOST)
    w.Instance(store, module, [w.Func(store, w.FuncType([], []), start, access_caller=True)])
    assert seen["data"] == bytearray(b"foo")
    assert seen["caller"].get("foo") is None
    with pytest.raises(KeyError):
        seen["caller"]["foo"]

    def fails(caller: Any) -> None:
        seen["failed"] = caller
        raise w.WasmtimeError("foo")

    with pytest.raises(w.WasmtimeError):
        w.Instance(store, module, [w.Func(store, w.FuncType([], []), fails, access_caller=True)])
    assert seen["failed"].get("foo") is None
    # called from Python, a host function has no calling instance
    w.Func(store, w.FuncType([], []), lambda c: seen.update(py=c.get("foo")), True)(store)
    assert seen["py"] is None


# --- item 6: messages --------------------------------------------------------------------


def test_trap_new(w: ModuleType) -> None:
    trap = w.Trap("x")
    assert (text(trap), trap.trap_code, trap.frames) == ("x", None, [])
    assert trap.message.split("\n\nStack backtrace:")[0] == "x"


@pytest.mark.parametrize(
    "source",
    [
        """(module $m (func (export "f") call $inner) (func $inner unreachable))""",
        """(module (func (export "f") call 1) (func unreachable))""",
        """(module $m (func (export "f") (drop (i32.div_s (i32.const 1) (i32.const 0)))))""",
        """(module (func (export "f") (drop (i32.trunc_f32_s (f32.const nan)))))""",
    ],
)
def test_trap_text_is_wasmtimes(w: ModuleType, source: str) -> None:
    store = w.Store()
    f = instance(w, store, source).exports(store)["f"]
    with pytest.raises(w.Trap) as info:
        f(store)
    trap = info.value
    assert text(trap) == text_of_wasmtime(source)
    assert trap.message.split("\n\nStack backtrace:")[0] == text(trap)


def text_of_wasmtime(source: str) -> str:
    store = wasmtime.Store()
    f = instance(wasmtime, store, source).exports(store)["f"]
    with pytest.raises(wasmtime.Trap) as info:
        f(store)
    return text(info.value)


def test_trap_text_layout() -> None:
    store = api.Store()
    source = '(module $m (func (export "f") call $inner) (func $inner unreachable))'
    with pytest.raises(api.Trap) as info:
        instance(api, store, source).exports(store)["f"](store)
    assert str(info.value) == (
        "error while executing at wasm backtrace:\n"
        "    0:   0x24 - m!inner\n"
        "    1:   0x1f - m!<wasm function 0>\n"
        "\n"
        "Caused by:\n"
        "    wasm trap: wasm `unreachable` instruction executed"
    )
    assert info.value.description == "wasm trap: wasm `unreachable` instruction executed"


EXIT = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "exit") (param i32) local.get 0 call $exit))
"""


def test_exit_trap_text(w: ModuleType) -> None:
    linker = w.Linker(w.Engine())
    linker.define_wasi()
    store = w.Store(linker.engine)
    store.set_wasi(w.WasiConfig())
    exit_ = linker.instantiate(store, w.Module(linker.engine, EXIT)).exports(store)["exit"]
    with pytest.raises(w.ExitTrap) as info:
        exit_(store, 3)
    assert info.value.code == 3
    assert text(info.value) == (
        "error while executing at wasm backtrace:\n"
        "    0:   0x58 - <unknown>!<wasm function 1>\n"
        "\n"
        "Caused by:\n"
        "    Exited with i32 exit status 3"
    )
