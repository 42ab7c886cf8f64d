"""``WasiConfig`` has wasmtime-py's shape and checks the files it is given."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cwasm.wasi import DirPerms, FilePerms, WasiConfig, WasiConfigError
from cwasm.wasi.config import StdioMode


def test_defaults_are_empty_and_closed() -> None:
    config = WasiConfig()
    assert config.argv == []
    assert config.env == []
    assert config.stdin.mode is StdioMode.NULL
    assert config.stdout.mode is StdioMode.NULL
    assert config.stderr.mode is StdioMode.NULL
    assert config.preopens == []


def test_argv_and_env_round_trip() -> None:
    config = WasiConfig()
    config.argv = ["prog", "a b", "ü"]
    config.env = [["A", "1"], ("B", "two=2")]
    assert config.argv == ["prog", "a b", "ü"]
    assert config.env == [("A", "1"), ("B", "two=2")]
    config.argv.append("ignored")  # the property hands out a copy
    assert len(config.argv) == 3


def test_inherit_argv_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["host", "--flag"])
    monkeypatch.setenv("CWASM_WASI_TEST", "yes")
    config = WasiConfig()
    config.inherit_argv()
    config.inherit_env()
    assert config.argv == ["host", "--flag"]
    assert ("CWASM_WASI_TEST", "yes") in config.env


def test_stdio_files(tmp_path: Path) -> None:
    config = WasiConfig()
    with pytest.raises(WasiConfigError):
        config.stdin_file = tmp_path / "missing"
    with pytest.raises(WasiConfigError):
        config.stdout_file = str(tmp_path / "no-such-dir" / "out")
    source = tmp_path / "in.txt"
    source.write_text("input")
    config.stdin_file = source
    assert config.stdin_file == str(source)
    out = tmp_path / "out.txt"
    out.write_text("old contents")
    config.stdout_file = str(out)
    assert out.read_text() == ""  # created or truncated when configured
    config.stderr_file = tmp_path / "err.txt"
    assert (tmp_path / "err.txt").exists()
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    assert {config.stdin.mode, config.stdout.mode, config.stderr.mode} == {StdioMode.INHERIT}


def test_preopen_dir(tmp_path: Path) -> None:
    config = WasiConfig()
    config.preopen_dir(str(tmp_path), "/data")
    config.preopen_dir(tmp_path, ".", DirPerms.READ_ONLY, FilePerms.READ_ONLY)
    assert [(p.host_path, p.guest_path) for p in config.preopens] == [
        (str(tmp_path), "/data"),
        (os.fspath(tmp_path), "."),
    ]
    assert config.preopens[1].file_perms is FilePerms.READ_ONLY
    (tmp_path / "file").write_text("")
    with pytest.raises(WasiConfigError):
        config.preopen_dir(tmp_path / "file", "/f")
    with pytest.raises(WasiConfigError):
        config.preopen_dir(tmp_path / "missing", "/m")
