"""``wasmtime`` renamed to cwasm: the names of ``cwasm.api``, and nothing else.

Put the directory holding this package first on ``sys.path`` (``PYTHONPATH``) and
``import wasmtime`` / ``from wasmtime import *`` give cwasm's API: the one-line import
change wasmtime-py users are promised, used to run wasmtime-py's own tests on cwasm.
It must stay a pure rename: a name wasmtime-py has and ``cwasm.api`` lacks is a gap in
cwasm to fix there, not here.
"""

from cwasm.api import *  # noqa: F403
from cwasm.api import __all__ as __all__
