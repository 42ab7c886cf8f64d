"""Loading artifacts and running them: code memory, vmctx, instances, traps, the Python API."""
