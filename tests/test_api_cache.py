"""``Config.cache``: ``Module(engine, wasm)`` through the compile cache the CLI uses.

The cache is shared with ``cwasm run`` (same directory layout and key), safe under
concurrent processes (entries appear by atomic rename), and a corrupt entry is a miss
that is replaced. Results are compared with wasmtime-py's, whose ``Config.cache`` takes
the same kind of TOML file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import wasmtime

import cwasm
from cwasm.cache import KEY_FILE_NAME, CompileCache

ROOT = Path(__file__).resolve().parents[1]


def module_wat(scale: int, offset: int) -> str:
    """A module whose export ``f(x) = x * scale + offset`` tells modules apart."""
    return f"""(module
      (func (export "f") (param i32) (result i32)
        local.get 0 i32.const {scale} i32.mul i32.const {offset} i32.add))"""


def cache_config(tmp_path: Path, directory: Path, name: str = "cache.toml") -> str:
    """A Wasmtime cache configuration file enabling the cache in ``directory``."""
    path = tmp_path / name
    path.write_text(f'[cache]\nenabled = true\ndirectory = "{directory}"\n')
    return str(path)


def cwasm_engine(config_file: str) -> cwasm.Engine:
    config = cwasm.Config()
    config.cache = config_file
    return cwasm.Engine(config)


def call_f(api: object, engine: object, module: object, x: int) -> int:
    """``f(x)`` of a fresh instance of ``module`` (cwasm or wasmtime-py)."""
    store = api.Store(engine)  # type: ignore[attr-defined]
    instance = api.Instance(store, module, [])  # type: ignore[attr-defined]
    return int(instance.exports(store)["f"](store, x))


def wasmtime_f(tmp_path: Path, wat: str, x: int) -> int:
    """``f(x)`` under wasmtime-py, compiled through its own cache."""
    config = wasmtime.Config()
    config.cache = cache_config(tmp_path, tmp_path / "wasmtime-cache", "wasmtime.toml")
    engine = wasmtime.Engine(config)
    return call_f(wasmtime, engine, wasmtime.Module(engine, wat), x)


def test_module_constructor_uses_the_clis_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "cache"
    engine = cwasm_engine(cache_config(tmp_path, directory))
    wat = module_wat(3, 4)
    first = cwasm.Module(engine, wat)
    entry = CompileCache(directory).path(engine, bytes(cwasm.wat2wasm(wat)))
    assert entry.is_file()
    assert call_f(cwasm, engine, first, 1) == 7

    # a second construction is a hit: nothing is compiled
    def no_compile(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("compiled although the cache holds the module")

    monkeypatch.setattr("cwasm.cache.compile_artifact", no_compile)
    again = cwasm.Module(engine, wat)
    expected = wasmtime_f(tmp_path, wat, 7)
    assert call_f(cwasm, engine, again, 7) == expected == 25


def test_cache_key_covers_code_changing_settings(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    config_file = cache_config(tmp_path, directory)
    wasm = bytes(cwasm.wat2wasm(module_wat(2, 1)))
    default = cwasm_engine(config_file)
    config = cwasm.Config()
    config.cache = config_file
    config.cranelift_opt_level = "none"
    unoptimized = cwasm.Engine(config)
    cache = CompileCache(directory)
    assert cache.path(default, wasm) != cache.path(unoptimized, wasm)
    cwasm.Module(default, wasm)
    cwasm.Module(unoptimized, wasm)
    assert len(list(directory.rglob("*.cwasm"))) == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bit flip"])
def test_corrupt_entry_is_a_miss_and_is_replaced(tmp_path: Path, damage: str) -> None:
    directory = tmp_path / "cache"
    engine = cwasm_engine(cache_config(tmp_path, directory))
    wat = module_wat(5, -2)
    cwasm.Module(engine, wat)
    entry = CompileCache(directory).path(engine, bytes(cwasm.wat2wasm(wat)))
    good = entry.read_bytes()
    if damage == "garbage":
        entry.write_bytes(b"not an artifact")
    elif damage == "truncated":
        entry.write_bytes(good[: len(good) // 2])
    else:
        flipped = bytearray(good)
        flipped[len(flipped) // 3] ^= 0x10
        entry.write_bytes(bytes(flipped))
    module = cwasm.Module(engine, wat)
    assert call_f(cwasm, engine, module, 9) == wasmtime_f(tmp_path, wat, 9)
    assert entry.read_bytes() == good  # replaced by a complete, valid entry


#: run by each worker process: compile the shared modules and its own, print f(x) of each
_WORKER = """
import json, os, sys, time
import cwasm
config_file, go, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
while not os.path.exists(go):
    time.sleep(0.005)
config = cwasm.Config()
config.cache = config_file
engine = cwasm.Engine(config)
results = {}
for scale, offset in json.loads(sys.argv[4]):
    wat = f'''(module (func (export "f") (param i32) (result i32)
      local.get 0 i32.const {scale} i32.mul i32.const {offset} i32.add))'''
    module = cwasm.Module(engine, wat)
    store = cwasm.Store(engine)
    f = cwasm.Instance(store, module, []).exports(store)["f"]
    results[f"{scale},{offset}"] = f(store, 11)
print(json.dumps(results))
"""


def test_concurrent_processes_share_one_cache(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    config_file = cache_config(tmp_path, directory)
    go = tmp_path / "go"
    shared = [(7, 1), (13, -5)]
    plans = [shared + [(100 + i, i)] for i in range(4)]  # same modules, and one each
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, config_file, str(go), str(i), json.dumps(plan)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i, plan in enumerate(plans)
    ]
    time.sleep(0.5)  # let every worker reach the start line
    go.touch()
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err

    for plan, (out, _) in zip(plans, outputs, strict=True):
        got = json.loads(out.splitlines()[-1])
        want = {f"{s},{o}": wasmtime_f(tmp_path, module_wat(s, o), 11) for s, o in plan}
        assert got == want

    # no torn entries, no leftovers: every entry is a whole artifact under the cache key
    entries = sorted(directory.rglob("*.cwasm"))
    assert len(entries) == len(shared) + len(plans)
    assert not [p for p in directory.rglob("*") if p.name.endswith(".tmp")]
    key = (directory / KEY_FILE_NAME).read_bytes()
    engine = cwasm_engine(config_file)
    for s, o in {tuple(p) for plan in plans for p in plan}:
        wat = module_wat(s, o)
        entry = CompileCache(directory).path(engine, bytes(cwasm.wat2wasm(wat)))
        module = cwasm.Module.deserialize_authenticated(engine, entry.read_bytes(), key)
        assert call_f(cwasm, engine, module, 11) == s * 11 + o
