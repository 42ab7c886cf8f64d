"""Incremental compilation: parts compiled before are reused, only the parts an edit
touches are compiled again, and the artifact is always the one a from-scratch compile
gives; a corrupt or misplaced cache entry is a miss."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

import cwasm.api as cw
from cwasm.cache import CACHE_DIR_ENV
from cwasm.compile import compiler
from cwasm.compile.artifact import compile_to_artifact
from cwasm.compile.compiler import CompileOptions, partition
from cwasm.compile.llvm_driver import host_triple
from cwasm.compile.partcache import PartCache
from cwasm.obj.engine import EngineMetadata
from cwasm.wasm.decoder import decode_module
from tests.runtime.wat import wat

FUNCTIONS = 24


def _module(constants: dict[int, int] | None = None, global_init: int = 3) -> bytes:
    """A module of ``FUNCTIONS`` exported loop functions that call their neighbour; the
    constant of function ``i`` is ``constants.get(i, 1000 + i)``."""
    constants = constants or {}
    funcs = []
    for i in range(FUNCTIONS):
        callee = f"(call $f{i - 1} (local.get 0))" if i else "(global.get $g)"
        funcs.append(
            f"""
  (func $f{i} (export "f{i}") (param i32) (result i32) (local $acc i32)
    (local.set $acc {callee})
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get 0)))
        (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const {constants.get(i, 1000 + i)}))
                                 (i32.div_u (local.get 0) (i32.const 3))))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $next)))
    (local.get $acc))"""
        )
    return wat(f"(module (global $g i32 (i32.const {global_init})) {''.join(funcs)})")


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of a few functions each (anchors every other function)."""
    monkeypatch.setattr(compiler, "PART_MIN_CODE_BYTES", 120)
    monkeypatch.setattr(compiler, "ANCHOR_PERIOD", 2)


def _compile(wasm: bytes, cache: PartCache | None, parallel: bool = False) -> bytes:
    triple = host_triple()
    return compile_to_artifact(
        wasm,
        CompileOptions(triple=triple),
        EngineMetadata(target=triple),
        parallel=parallel,
        part_cache=cache,
    )


def _cache(directory: Path) -> PartCache:
    return PartCache(directory, b"k" * 32, b"test salt")


def _part_holding(wasm: bytes, func_index: int) -> int:
    parts = partition(decode_module(wasm))
    assert len(parts) > 2
    return next(k for k, part in enumerate(parts) if func_index in part)


@pytest.mark.parametrize("parallel", [False, True])
def test_a_one_function_edit_recompiles_only_its_part(
    small_parts: None, tmp_path: Path, parallel: bool
) -> None:
    wasm, edited = _module(), _module({13: 1999})  # the same encoded size
    first = _cache(tmp_path)
    assert _compile(wasm, first, parallel) == _compile(wasm, None)
    assert first.hits == 0
    again = _cache(tmp_path)
    assert _compile(edited, again, parallel) == _compile(edited, None, parallel)
    assert again.misses == 1
    assert again.hits == len(again.looked_up) - 1
    changed = [
        k for k, (a, b) in enumerate(zip(first.looked_up, again.looked_up, strict=True)) if a != b
    ]
    assert changed == [_part_holding(wasm, 13)]


def test_an_edit_that_changes_a_body_size_leaves_later_parts_alone(
    small_parts: None, tmp_path: Path
) -> None:
    # a longer constant moves every later body, but their code and keys stay the same
    wasm, edited = _module(), _module({2: 1 << 30})
    _compile(wasm, _cache(tmp_path))
    again = _cache(tmp_path)
    assert _compile(edited, again) == _compile(edited, None)
    assert again.misses <= 2  # the part holding the function (and the next one if cut moved)
    assert again.hits >= len(again.looked_up) - 2


def test_a_changed_module_fact_misses_every_part(small_parts: None, tmp_path: Path) -> None:
    wasm, edited = _module(), _module(global_init=4)
    _compile(wasm, _cache(tmp_path))
    again = _cache(tmp_path)
    assert _compile(edited, again) == _compile(edited, None)
    function_parts = len(partition(decode_module(edited)))
    assert again.misses >= function_parts


def test_a_corrupt_or_renamed_entry_is_a_miss(small_parts: None, tmp_path: Path) -> None:
    wasm = _module()
    scratch = _compile(wasm, None)
    _compile(wasm, _cache(tmp_path))
    entries = sorted(tmp_path.rglob("*.part"))
    assert len(entries) > 2
    damaged = bytearray(entries[0].read_bytes())
    damaged[-1] ^= 0xFF
    entries[0].write_bytes(bytes(damaged))
    entries[2].write_bytes(entries[1].read_bytes())  # valid, but under another key
    entries[3].write_bytes(entries[3].read_bytes()[:20])
    again = _cache(tmp_path)
    assert _compile(wasm, again) == scratch
    assert again.misses == 3
    fixed = _cache(tmp_path)  # the misses were compiled and stored again
    assert _compile(wasm, fixed) == scratch
    assert fixed.misses == 0


def test_another_key_or_salt_misses(small_parts: None, tmp_path: Path) -> None:
    wasm = _module()
    _compile(wasm, _cache(tmp_path))
    for other in (
        PartCache(tmp_path, b"x" * 32, b"test salt"),
        PartCache(tmp_path, b"k" * 32, b"other salt"),
    ):
        assert _compile(wasm, other) == _compile(wasm, None)
        assert other.hits == 0


def test_config_cache_reuses_parts_and_runs_as_wasmtime(
    small_parts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    config = cw.Config()
    config.cache = True
    engine = cw.Engine(config)
    cw.Module(engine, _module())
    assert list((tmp_path / "parts").rglob("*.part"))
    edited = _module({5: 1234})
    store = cw.Store(engine)
    ours = cw.Instance(store, cw.Module(engine, edited), []).exports(store)
    wstore = wasmtime.Store()
    theirs = wasmtime.Instance(wstore, wasmtime.Module(wstore.engine, edited), []).exports(wstore)
    for i in (0, 5, 6, FUNCTIONS - 1):
        assert ours[f"f{i}"](store, 9) == theirs[f"f{i}"](wstore, 9)
