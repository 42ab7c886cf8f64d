"""Process isolation: one persistent worker process per engine configuration.

A worker (``python -m fuzz worker CONFIG``) reads jobs as JSON lines on stdin
(``{"path": ..., "arg_seed": ..., "arg_count": ...}``) and answers each with one JSON
line: the record of ``fuzz.runner.run_module``. Its real stdout is kept for the
protocol only; anything the engines print goes to stderr.

``Worker`` is the parent's handle on one: it starts it, sends a job, and waits at most
the per-module timeout. A worker that dies (a signal, an abort) yields a
``{"status": "crash", "signal": N}`` record; one that does not answer in time is
killed and yields ``{"status": "hang"}``. Either way the next job starts a new worker.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from fuzz.groups import REFERENCE_51, wasmtime51_python

ROOT = Path(__file__).resolve().parent.parent

#: restart a worker after this many jobs (keeps leaks and fragmentation in check)
JOBS_PER_WORKER = 300


def worker_main(config: str, debug: list[str]) -> int:
    """The worker loop. ``debug`` entries ``abort:SUBSTR`` / ``hang:SUBSTR`` make the worker
    abort or hang on a job whose path contains SUBSTR (for testing the parent)."""
    out: IO[str] = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from fuzz.engines import make_shim
    from fuzz.runner import run_module

    shim = make_shim(config)
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        path = job["path"]
        for d in debug:
            action, _, needle = d.partition(":")
            if needle and needle in path:
                if action == "abort":
                    os.abort()
                if action == "hang":
                    time.sleep(3600)
        try:
            wasm = Path(path).read_bytes()
            rec = run_module(
                shim, wasm, arg_seed=job.get("arg_seed", 0), arg_count=job.get("arg_count", 4)
            )
        except Exception as e:  # noqa: BLE001 - a harness failure is reported, not fatal
            rec = {"engine": config, "status": "worker_error", "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(rec) + "\n")
        out.flush()
    return 0


class Worker:
    """A persistent worker process for one configuration, restarted when needed."""

    def __init__(self, config: str, *, debug: list[str] | None = None, log: Path | None = None):
        self.config = config
        self.debug = debug or []
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.jobs = 0
        self._buf = b""

    def _start(self) -> subprocess.Popen[bytes]:
        python = sys.executable
        if self.config == REFERENCE_51:
            python = wasmtime51_python(ROOT) or python
        cmd = [python, "-m", "fuzz", "worker", self.config]
        for d in self.debug:
            cmd += ["--debug", d]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        stderr: Any = subprocess.DEVNULL
        if self.log is not None:
            stderr = open(self.log, "ab")  # noqa: SIM115 - inherited by the child
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=ROOT
        )
        if stderr is not subprocess.DEVNULL:
            stderr.close()
        self.jobs = 0
        self._buf = b""
        return self.proc

    def run(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one job; the worker's record, or a crash/hang record."""
        proc = self.proc
        if proc is None or proc.poll() is not None or self.jobs >= JOBS_PER_WORKER:
            self.close()
            proc = self._start()
        self.jobs += 1
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write((json.dumps(job) + "\n").encode())
            proc.stdin.flush()
        except OSError:
            return self._died(proc)
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill(proc)
                return {"engine": self.config, "status": "hang", "timeout": timeout}
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return self._died(proc)
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        rec: dict[str, Any] = json.loads(line)
        return rec

    def _died(self, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            rc = proc.returncode
        self.proc = None
        rec: dict[str, Any] = {"engine": self.config, "status": "crash"}
        if rc is not None and rc < 0:
            rec["signal"] = -rc
            try:
                rec["signal_name"] = signal.Signals(-rc).name
            except ValueError:
                pass
        else:
            rec["exit"] = rc
        return rec

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()  # this very process, by its id
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def close(self) -> None:
        """Stop the worker (EOF on stdin, then kill if it lingers)."""
        proc = self.proc
        self.proc = None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
