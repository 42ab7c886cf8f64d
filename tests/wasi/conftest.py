"""Fixtures for WASI tests: a sandbox directory preopened as fd 3, and a directory beside it
that the guest must never reach."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cwasm.wasi import WasiConfig, WasiContext
from tests.wasi.guest import Guest

ROOT_FD = 3


@dataclass
class Dirs:
    root: Path  # preopened as "/sandbox"
    outside: Path  # a sibling of root, holding secret.txt


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    return Dirs(root, outside)


@pytest.fixture
def guest(dirs: Dirs) -> Iterator[Guest]:
    config = WasiConfig()
    config.preopen_dir(dirs.root, "/sandbox")
    with WasiContext(config) as context:
        yield Guest(context)
