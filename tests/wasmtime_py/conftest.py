"""The vendored wasmtime-py tests run only through ``test_upstream_suite.py`` (in a
subprocess with the ``wasmtime`` shim first on the path), never collected directly."""

collect_ignore = ["upstream", "shim"]
