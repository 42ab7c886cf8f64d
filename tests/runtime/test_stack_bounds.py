"""``thread_stack_bounds`` is asked of libc once per thread and stays right per thread."""

from __future__ import annotations

import threading

from cwasm.runtime.native import _query_stack_bounds, thread_stack_bounds


def test_bounds_are_cached_per_thread_and_match_libc() -> None:
    main = thread_stack_bounds()
    assert main is not None and main == _query_stack_bounds() == thread_stack_bounds()
    seen: list[tuple[object, object]] = []

    def worker() -> None:
        seen.append((thread_stack_bounds(), _query_stack_bounds()))

    for _ in range(3):  # sequential threads may reuse a thread id, never a cached answer
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    for cached, fresh in seen:
        assert cached == fresh and cached != main
