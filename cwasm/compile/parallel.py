"""Parallel compilation: the parts of one module compiled by LLVM in worker processes.

llvmlite serialises every LLVM call of a process behind one lock, so compiling the
independent LLVM modules of one wasm module concurrently needs processes. Each
worker is a ``python`` running ``cwasm.compile.parallel`` (started with the same
interpreter and ``cwasm`` package): it reads requests from its stdin and answers on
its stdout, one pickled frame each way (``(ir text, loop-free functions, triple, opt
level)`` in, ``("ok", object bytes, stage seconds)`` or ``("error", message)`` out),
after a first ``"ready"`` frame it sends once it has imported LLVM.

The pool is started lazily by the first compilation that has more than one part (or
by ``start_early``, before the compiler is imported, for a big enough binary), the
workers stay warm for the later ones, and ``atexit`` closes them. While the
workers compile, the calling thread compiles parts as well (so ``n`` cores need
``n - 1`` workers). A worker that dies (or cannot be started) is dropped and its
part is compiled in the calling process instead: a compilation never waits on a
dead worker. The object bytes do not depend on where a part was compiled (the same
LLVM with the same options), so parallel and serial compilation give the same artifact.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

#: a part to compile: its IR text, the names of its loop-free functions and of those that
#: get the short pipeline (``compile_ir``'s ``loop_free`` and ``short``)
Part = tuple[str, tuple[str, ...], tuple[str, ...]]
#: a part's stage seconds, added up by stage name (``compile_ir``'s ``timings``)
Timings = dict[str, float]

_FRAME = struct.Struct("<Q")
#: parts waiting beyond one per worker before the calling thread, still producing parts,
#: compiles one itself
BACKLOG_PARTS = 4
#: a worker's first frame: it has imported LLVM and waits for parts
_READY = "ready"
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def available_cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _write_frame(stream: IO[bytes], payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError("the compile worker closed its pipe")
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the compile worker closed its pipe")
    return pickle.loads(data)


class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        env = dict(os.environ)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _PACKAGE_PARENT + (os.pathsep + path if path else "")
        self.proc = subprocess.Popen(
            # -P: not the current directory first on sys.path, so the worker imports
            # this very cwasm (through PYTHONPATH), never a checkout where it was started
            [sys.executable, "-P", "-m", "cwasm.compile.parallel"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # Ctrl-C goes to the caller, which then closes us
        )
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the worker's first frame, which it sends once it can compile
        (``EOFError``/``OSError`` if it died first)."""
        if not self.ready:
            assert self.proc.stdout is not None
            if _read_frame(self.proc.stdout) != _READY:
                raise EOFError("the compile worker did not start")
            self.ready = True

    def compile(self, part: Part, triple: str, opt_level: int) -> tuple[bytes, Timings]:
        """The object of one part (``EOFError``/``OSError`` if the worker died)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        _write_frame(self.proc.stdin, (part, triple, opt_level))
        reply = _read_frame(self.proc.stdout)
        if reply[0] == "error":
            from cwasm.compile.llvm_driver import CodegenError

            raise CodegenError(reply[1])
        return reply[1], reply[2]

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class WorkerPool:
    """Warm worker processes shared by every compilation of this process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Start the workers (without waiting for them to be ready)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            for _ in range(self.size):
                try:
                    self._idle.append(_Worker())
                except OSError:
                    break  # compile in this process instead

    def _take(self) -> _Worker | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        """Stop every idle worker; the pool starts new ones when used again."""
        with self._lock:
            workers, self._idle = self._idle, []
            self._started = False
        for w in workers:
            w.close()

    def compile_parts(
        self,
        parts: Iterable[Part],
        triple: str,
        opt_level: int,
        timings: Timings | None = None,
    ) -> list[bytes]:
        """The objects of ``parts`` (produced lazily), in order.

        Each idle worker gets a thread that feeds it parts as they are produced, once
        the worker is ready (a worker still starting takes none). The calling thread
        compiles a part itself whenever more than ``BACKLOG_PARTS`` wait beyond one per
        worker, and once every part is produced, the parts nobody has taken yet; then it
        waits for the workers' last ones. A part whose worker died is compiled here.
        """
        todo: queue.Queue[tuple[int, Part] | None] = queue.Queue()
        results: dict[int, bytes] = {}
        failures: list[BaseException] = []
        leftovers: list[tuple[int, Part]] = []
        settled = threading.Condition()
        #: parts the workers have answered, failed or handed back (as leftovers)
        answered = [0]

        def settle(
            index: int, obj: bytes | None, part_timings: Timings, error: BaseException | None
        ) -> None:
            with settled:
                if obj is not None:
                    results[index] = obj
                if error is not None:
                    failures.append(error)
                if timings is not None:
                    for stage, seconds in part_timings.items():
                        timings[stage] = timings.get(stage, 0.0) + seconds
                answered[0] += 1
                settled.notify_all()

        def hand_back(job: tuple[int, Part]) -> None:
            with settled:
                leftovers.append(job)
                answered[0] += 1
                settled.notify_all()

        def feed(worker: _Worker) -> None:
            try:
                worker.wait_ready()
                alive = True
            except (EOFError, OSError, pickle.UnpicklingError):
                alive = False
            while True:
                job = todo.get()
                if job is None:
                    break
                if not alive:
                    hand_back(job)
                    continue
                try:
                    obj, part_timings = worker.compile(job[1], triple, opt_level)
                except (EOFError, OSError, pickle.UnpicklingError):
                    alive = False
                    hand_back(job)
                    continue
                except BaseException as e:  # noqa: BLE001 - re-raised by the caller
                    settle(job[0], None, {}, e)
                    continue
                settle(job[0], obj, part_timings, None)
            if alive:
                self._give_back(worker)
            else:
                worker.proc.kill()
                worker.close()

        feeders = 0
        while (worker := self._take()) is not None:
            threading.Thread(target=feed, args=(worker,), daemon=True).start()
            feeders += 1
        count = here = 0
        local: Timings = {}
        try:

            def compile_one() -> bool:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return False
                assert job is not None
                results[job[0]] = _compile_part(job[1], triple, opt_level, local)
                return True

            for count, part in enumerate(parts, 1):
                todo.put((count - 1, part))
                # a backlog: this thread compiles one part before it produces the next,
                # so a module of many parts keeps every core busy while it is still
                # being translated (a small backlog is left to the workers: translating
                # on is what keeps them fed)
                if todo.qsize() > feeders + BACKLOG_PARTS and compile_one():
                    here += 1
            # the calling thread takes its share of the parts no worker has taken yet
            while compile_one():
                here += 1
            with settled:  # the parts the workers took
                settled.wait_for(lambda: here + answered[0] == count)
        except BaseException:
            while True:  # drop what is left, so the workers stop after their part
                try:
                    todo.get_nowait()
                except queue.Empty:
                    break
            raise
        finally:
            # a worker still starting or busy takes its stop when it gets there
            for _ in range(feeders):
                todo.put(None)
        for index, part in leftovers:  # the parts of workers that died
            results[index] = _compile_part(part, triple, opt_level, local)
        if timings is not None:
            for stage, seconds in local.items():
                timings[stage] = timings.get(stage, 0.0) + seconds
        if failures:
            raise failures[0]
        return [results[i] for i in range(count)]


def _compile_part(part: Part, triple: str, opt_level: int, timings: Timings) -> bytes:
    from cwasm.compile import llvm_driver  # not at import: ``start_early`` loads no LLVM

    return llvm_driver.compile_ir(
        part[0], triple, opt_level, loop_free=part[1], short=part[2], timings=timings
    )


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


#: a wasm binary of at least this many bytes probably holds enough code to be compiled
#: in parts (``compiler.PART_MIN_CODE_BYTES``), so ``start_early`` starts the workers
EARLY_START_BYTES = 32 * 1024


def start_early(wasm_size: int) -> None:
    """Start the shared pool's workers if a module of ``wasm_size`` bytes will likely
    use them, before the compiler itself is imported: the workers start up meanwhile."""
    if wasm_size >= EARLY_START_BYTES:
        shared_pool().start()


def shared_pool() -> WorkerPool:
    """The process's pool (``available_cores() - 1`` workers), created on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool(max(available_cores() - 1, 0))
            atexit.register(_pool.close)
        return _pool


def serve(
    read: IO[bytes], write: IO[bytes], compile_part: Callable[[Part, str, int, Timings], bytes]
) -> None:
    """The worker loop: load LLVM and say it is ready, then answer every request on
    ``read`` until it closes."""
    from cwasm.compile.llvm_driver import CodegenError, initialise

    initialise()
    _write_frame(write, _READY)
    while True:
        try:
            part, triple, opt_level = _read_frame(read)
        except EOFError:
            return
        timings: Timings = {}
        try:
            obj = compile_part(part, triple, opt_level, timings)
        except CodegenError as e:
            _write_frame(write, ("error", str(e)))
            continue
        _write_frame(write, ("ok", obj, timings))


if __name__ == "__main__":
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer, _compile_part)
    except KeyboardInterrupt:
        pass
