"""A host object held only by an exception's payload (an ``exnref`` stored in a global)
stays alive across collections: the exception arena is a root of the externref
collector, as it is of the GC heap's. (An element segment can hold a host word only
from an immutable global, which the store holds anyway; its words are roots too.)"""

from __future__ import annotations

import gc
import weakref

import cwasm

PAYLOAD = """(module
  (tag $t (param externref))
  (global $held (mut exnref) (ref.null exn))
  (func (export "keep") (param externref)
    (block $caught (result externref exnref)
      (try_table (catch_ref $t $caught) (throw $t (local.get 0)))
      (unreachable))
    (global.set $held) (drop))
  (func (export "take") (result externref)
    (block $caught (result externref)
      (try_table (catch $t $caught) (throw_ref (global.get $held)))
      (unreachable)))
  (func (export "forget") (global.set $held (ref.null exn))))"""


class Host:
    """A host object whose lifetime the tests watch."""


def test_an_exception_payload_keeps_its_host_object() -> None:
    store = cwasm.Store(cwasm.Engine())
    exports = cwasm.Instance(store, cwasm.Module(store.engine, PAYLOAD), []).exports(store)
    obj = Host()
    alive = weakref.ref(obj)
    exports["keep"](store, obj)
    del obj
    gc.collect()
    store.gc()
    assert alive() is not None
    assert exports["take"](store) is alive()
    exports["forget"](store)
    gc.collect()
    store.gc()
    # an exception handed out as an exnref stays in the arena while the store lives
    # (docs/exceptions.md), and so does what its payload holds
    assert alive() is not None
    del store, exports
    gc.collect()
    assert alive() is None  # and goes with the store
