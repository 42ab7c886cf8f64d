"""``cwasm inspect``: decode and show everything inside an artifact, cwasm's or Wasmtime v28's.

:func:`inspect_artifact` (``report``) builds one JSON-ready dict from the bytes of an
artifact; :func:`format_inspection` (``text``) renders it. ``wasmtime_v28`` decodes the
Wasmtime-specific sections of a genuine Wasmtime artifact. Only ``cwasm.cli`` imports
this package; it reads artifacts through ``cwasm.obj`` and never compiles or runs them.
"""

from cwasm.inspect.convert import to_json
from cwasm.inspect.report import inspect_artifact
from cwasm.inspect.text import format_inspection

__all__ = ["format_inspection", "inspect_artifact", "to_json"]
