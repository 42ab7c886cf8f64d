"""``WasiConfig``: what a WASI program may see (arguments, environment, stdio, directories).

The shape follows wasmtime-py's ``WasiConfig`` so code written for one works
with the other. A configuration is only a description; ``WasiContext``
opens the files and directories it names.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from cwasm.closable import Closable
from cwasm.errors import CwasmError

PathArg = str | bytes | os.PathLike[str] | os.PathLike[bytes]


class WasiConfigError(CwasmError):
    """A WASI configuration names a file or directory that cannot be used."""


class DirPerms(enum.Flag):
    """What a guest may do to a preopened directory itself."""

    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_WRITE = 3


class FilePerms(enum.Flag):
    """The most a guest may do to files inside a preopened directory."""

    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_WRITE = 3


class StdioMode(enum.Enum):
    """Where a standard stream goes."""

    NULL = "null"  # stdin reads end-of-file, stdout/stderr discard
    INHERIT = "inherit"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class Stdio:
    mode: StdioMode
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Preopen:
    """A host directory made visible to the guest under ``guest_path``."""

    host_path: str
    guest_path: str
    dir_perms: DirPerms
    file_perms: FilePerms


def _fspath(path: PathArg) -> str:
    value = os.fspath(path)
    return os.fsdecode(value) if isinstance(value, bytes) else value


class WasiConfig(Closable):
    """The WASI view a program gets: by default no arguments, no environment,
    an empty stdin, discarded stdout/stderr and no directories.

    Unlike wasmtime-py's, ``Store.set_wasi`` does not consume it: one configuration
    may serve several stores. A closed one cannot be given to ``Store.set_wasi``."""

    def __init__(self) -> None:
        self._argv: list[str] = []
        self._env: list[tuple[str, str]] = []
        self.stdin = Stdio(StdioMode.NULL)
        self.stdout = Stdio(StdioMode.NULL)
        self.stderr = Stdio(StdioMode.NULL)
        self.preopens: list[Preopen] = []

    @property
    def argv(self) -> list[str]:
        """The program's arguments, ``argv[0]`` (conventionally its name) included."""
        return list(self._argv)

    @argv.setter
    def argv(self, argv: Iterable[str]) -> None:
        self._argv = [str(arg) for arg in argv]

    def inherit_argv(self) -> None:
        """Uses this Python process's arguments."""
        self._argv = list(sys.argv)

    @property
    def env(self) -> list[tuple[str, str]]:
        """The environment as ``(name, value)`` pairs, in order."""
        return list(self._env)

    @env.setter
    def env(self, pairs: Iterable[Iterable[str]]) -> None:
        env: list[tuple[str, str]] = []
        for pair in pairs:
            name, value = pair
            env.append((str(name), str(value)))
        self._env = env

    def inherit_env(self) -> None:
        """Uses this Python process's environment."""
        self._env = list(os.environ.items())

    @property
    def stdin_file(self) -> str | None:
        """The file reads of stdin read (set it to a path that must exist)."""
        return self.stdin.path

    @stdin_file.setter
    def stdin_file(self, path: PathArg) -> None:
        host = _fspath(path)
        try:
            os.close(os.open(host, os.O_RDONLY | os.O_CLOEXEC))
        except OSError as e:
            raise WasiConfigError(f"failed to set stdin file {host!r}: {e.strerror}") from e
        self.stdin = Stdio(StdioMode.FILE, host)

    def inherit_stdin(self) -> None:
        """Reads of stdin read this Python process's stdin."""
        self.stdin = Stdio(StdioMode.INHERIT)

    @property
    def stdout_file(self) -> str | None:
        """The file writes to stdout go to (set it to a path: created or truncated now)."""
        return self.stdout.path

    @stdout_file.setter
    def stdout_file(self, path: PathArg) -> None:
        self.stdout = Stdio(StdioMode.FILE, _create_output(path, "stdout"))

    def inherit_stdout(self) -> None:
        """Writes to stdout go to this Python process's stdout."""
        self.stdout = Stdio(StdioMode.INHERIT)

    @property
    def stderr_file(self) -> str | None:
        """The file writes to stderr go to (set it to a path: created or truncated now)."""
        return self.stderr.path

    @stderr_file.setter
    def stderr_file(self, path: PathArg) -> None:
        self.stderr = Stdio(StdioMode.FILE, _create_output(path, "stderr"))

    def inherit_stderr(self) -> None:
        """Writes to stderr go to this Python process's stderr."""
        self.stderr = Stdio(StdioMode.INHERIT)

    def preopen_dir(
        self,
        path: PathArg,
        guest_path: str,
        dir_perms: DirPerms = DirPerms.READ_WRITE,
        file_perms: FilePerms = FilePerms.READ_WRITE,
    ) -> None:
        """Lets the guest reach the host directory ``path`` (and only what is below it)
        under the name ``guest_path``."""
        host = _fspath(path)
        if not os.path.isdir(host):
            raise WasiConfigError(f"failed to add preopen dir {host!r}: not a directory")
        self.preopens.append(Preopen(host, guest_path, dir_perms, file_perms))


def _create_output(path: PathArg, stream: str) -> str:
    host = _fspath(path)
    try:
        os.close(os.open(host, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666))
    except OSError as e:
        raise WasiConfigError(f"failed to set {stream} file {host!r}: {e.strerror}") from e
    return host
