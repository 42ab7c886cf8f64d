"""A one-line compile progress display on a terminal (``\\r[####    ] 45/120 functions``).

The compiler reports ``(stage, done, total)``: ``translate`` per function, then the
LLVM stages ``optimize`` and ``codegen``, whose progress LLVM does not report, so
they show the elapsed time instead. A small thread redraws the line a few times a
second; it stays silent until the compilation has run for ``delay`` seconds, so
quick compilations print nothing (``delay=0`` shows it from the start).
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

_STAGE_TEXT = {"optimize": "LLVM optimizing", "codegen": "LLVM generating code"}


class CompileProgress:
    """Draws the compiler's progress reports on ``stream``; use as a context manager."""

    def __init__(
        self, stream: TextIO, *, delay: float = 1.0, width: int = 30, interval: float = 0.2
    ) -> None:
        self.stream = stream
        self.delay = delay
        self.width = width
        self.interval = interval
        self.stage = "translate"
        self.done = 0
        self.total = 0
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = 0  # length of the last line drawn, 0 = nothing on screen

    def __call__(self, stage: str, done: int, total: int) -> None:
        """The compiler's progress callback."""
        self.stage = stage
        if stage == "translate":
            self.done, self.total = done, total

    def __enter__(self) -> CompileProgress:
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="cwasm-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            elapsed = time.monotonic() - self._start
            ok = exc[0] is None
            summary = (
                f"compiled {self.total} functions in {elapsed:.1f}s" if ok else "compilation failed"
            )
            self._draw(summary)
            self.stream.write("\n")
            self.stream.flush()

    def line(self) -> str:
        """The text describing the current state."""
        elapsed = time.monotonic() - self._start
        if self.stage == "translate" and self.total == 0:
            return f"[{' ' * self.width}] decoding and validating {elapsed:.1f}s"
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + " " * (self.width - filled)
        text = f"[{bar}] {self.done}/{self.total} functions translated"
        if self.stage != "translate":
            text += f"; {_STAGE_TEXT.get(self.stage, self.stage)}"
        return f"{text} {elapsed:.1f}s"

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        while True:
            self._draw(self.line())
            if self._stop.wait(self.interval):
                return

    def _draw(self, text: str) -> None:
        pad = " " * max(self._drawn - len(text), 0)
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self._drawn = len(text)


__all__ = ["CompileProgress"]
