"""A fake guest for WASI tests: a bytearray memory, a bump allocator and typed calls."""

from __future__ import annotations

import struct

from cwasm.wasi import BytearrayMemory, WasiContext
from cwasm.wasi.abi import ALL_RIGHTS, IOVEC, Errno, LookupFlags

MEMORY_SIZE = 1 << 16


class Guest:
    """Places arguments in guest memory and calls ``WasiContext`` functions with them."""

    def __init__(self, context: WasiContext, size: int = MEMORY_SIZE) -> None:
        self.context = context
        self.memory = BytearrayMemory(size)
        self.top = 16

    def alloc(self, size: int, align: int = 8) -> int:
        self.top = (self.top + align - 1) // align * align
        ptr = self.top
        self.top += size
        assert self.top <= self.memory.size(), "guest test memory exhausted"
        return ptr

    def put(self, data: bytes) -> int:
        ptr = self.alloc(max(len(data), 1))
        self.memory.write(ptr, data)
        return ptr

    def path(self, text: str) -> tuple[int, int]:
        data = text.encode()
        return self.put(data), len(data)

    def call(self, name: str, *args: int) -> Errno:
        return Errno(self.context.call(name, self.memory, *args))

    def u32(self, ptr: int) -> int:
        value: int = struct.unpack_from("<I", self.memory.data, ptr)[0]
        return value

    def u64(self, ptr: int) -> int:
        value: int = struct.unpack_from("<Q", self.memory.data, ptr)[0]
        return value

    def read(self, ptr: int, length: int) -> bytes:
        return self.memory.read(ptr, length)

    # --- common calls, returning (errno, result) ---

    def open(
        self,
        dir_fd: int,
        path: str,
        oflags: int = 0,
        rights: int = ALL_RIGHTS,
        inheriting: int = ALL_RIGHTS,
        fdflags: int = 0,
        dirflags: int = LookupFlags.SYMLINK_FOLLOW,
    ) -> tuple[Errno, int]:
        ptr, length = self.path(path)
        out = self.alloc(4)
        errno = self.call(
            "path_open", dir_fd, dirflags, ptr, length, oflags, rights, inheriting, fdflags, out
        )
        return errno, self.u32(out)

    def iovecs(self, chunks: list[bytes]) -> int:
        vectors = b"".join(IOVEC.pack(self.put(chunk), len(chunk)) for chunk in chunks)
        return self.put(vectors)

    def write(self, fd: int, *chunks: bytes) -> tuple[Errno, int]:
        out = self.alloc(4)
        errno = self.call("fd_write", fd, self.iovecs(list(chunks)), len(chunks), out)
        return errno, self.u32(out)

    def read_fd(self, fd: int, *sizes: int) -> tuple[Errno, bytes]:
        buffers = [self.alloc(size) for size in sizes]
        vectors = self.put(b"".join(IOVEC.pack(b, n) for b, n in zip(buffers, sizes, strict=True)))
        out = self.alloc(4)
        errno = self.call("fd_read", fd, vectors, len(sizes), out)
        total = self.u32(out)
        data = b""
        for buf, size in zip(buffers, sizes, strict=True):
            take = min(size, total - len(data))
            data += self.read(buf, take)
        return errno, data

    def filestat(self, fd: int) -> tuple[Errno, bytes]:
        out = self.alloc(64)
        return self.call("fd_filestat_get", fd, out), self.read(out, 64)

    def path_filestat(self, fd: int, path: str, follow: bool = True) -> tuple[Errno, bytes]:
        ptr, length = self.path(path)
        out = self.alloc(64)
        errno = self.call(
            "path_filestat_get", fd, LookupFlags.SYMLINK_FOLLOW if follow else 0, ptr, length, out
        )
        return errno, self.read(out, 64)

    def path_call(self, name: str, fd: int, path: str) -> Errno:
        ptr, length = self.path(path)
        return self.call(name, fd, ptr, length)
