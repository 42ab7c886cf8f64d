"""Run as ``python -m tests.runtime.sigint_storm BOUNDS_CHECKS``: calls into wasm while
another thread sends 300 SIGINTs to the main thread, ~1 ms apart, then prints the set of
outcomes, the store's entry count and whether the host function ran (see
``test_interrupt.test_a_storm_of_sigints_only_ever_raises_keyboard_interrupt``)."""

from __future__ import annotations

import signal
import sys
import threading

import cwasm.api as cw
from cwasm.runtime.config import Config

HOST_LOOP = """
(module
  (import "" "h" (func $h))
  (memory 1)
  (func (export "run") (param i32) (local i32)
    (loop
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (if (i32.eqz (i32.and (local.get 1) (i32.const 0xff))) (then (call $h)))
      (if (i32.eqz (i32.and (local.get 1) (i32.const 0xffff)))
        (then (memory.fill (i32.const 0) (local.get 1) (i32.const 0x8000))))
      (br_if 0 (i32.ne (local.get 1) (local.get 0))))))
"""


def main() -> None:
    config = Config()
    config.bounds_checks = sys.argv[1]
    store = cw.Store(cw.Engine(config))
    hits = [0]

    def host() -> None:
        hits[0] += 1

    func = cw.Func(store, cw.FuncType([], []), host)
    module = cw.Module(store.engine, HOST_LOOP)
    run = cw.Instance(store, module, [func]).exports(store)["run"]
    main_thread = threading.main_thread().ident or 0
    sent = threading.Event()

    def shoot() -> None:
        for _ in range(300):
            signal.pthread_kill(main_thread, signal.SIGINT)
            sent.wait(0.001)
        sent.set()

    outcomes: set[str] = set()
    shooter = threading.Thread(target=shoot)
    try:
        shooter.start()
    except KeyboardInterrupt:  # a first signal while it waited for the thread to start
        outcomes.add("interrupted")
    while True:
        try:
            if sent.is_set():
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a last one may be on its way
                break
            try:
                run(store, 2_000_000)
                outcomes.add("returned")
            except KeyboardInterrupt:
                outcomes.add("interrupted")
        except KeyboardInterrupt:  # landed in this loop's own bytecode
            outcomes.add("interrupted")
    run(store, 1000)
    print(",".join(sorted(outcomes)), store.entries, hits[0] > 0)


if __name__ == "__main__":
    main()
