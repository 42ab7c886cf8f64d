"""The 3.0 suite's feature table: it covers the files there, and only files whose
features are implemented run, each with those features switched on."""

from __future__ import annotations

import pytest

from tests.spec import suite3
from tests.spec.run import run_config
from tests.spec.wast import SUITE3_PREFIX, spec3_dir, suite3_stems


@pytest.mark.skipif(not spec3_dir().is_dir(), reason="the 3.0 testsuite is not beside the 2.0 one")
def test_every_file_has_a_row() -> None:
    assert suite3_stems() == set(suite3.FEATURES)


def test_only_implemented_features_run() -> None:
    runnable = suite3.runnable()
    assert runnable
    for stem in suite3.FEATURES:
        assert (stem in runnable) == (set(suite3.FEATURES[stem]) <= suite3.IMPLEMENTED)


def test_a_file_runs_with_its_features_on() -> None:
    stem = next(s for s in suite3.runnable() if "relaxed_simd" in suite3.FEATURES[s])
    assert run_config(SUITE3_PREFIX + stem).wasm_relaxed_simd is True


def test_multi_memory_is_off_for_the_2_0_suite_and_on_for_its_files() -> None:
    # the 2.0 suite asserts "multiple memories" and reserved zero bytes
    assert run_config("memory").wasm_multi_memory is False
    assert "memory-multi" in suite3.runnable()
    assert run_config(SUITE3_PREFIX + "memory-multi").wasm_multi_memory is True
    # instance.wast needs exceptions too: it runs with both on
    assert "instance" in suite3.runnable()
    config = run_config(SUITE3_PREFIX + "instance")
    assert config.wasm_multi_memory is True and config.wasm_exceptions is True
