"""``.cwasm.checksum``: a BLAKE2b-128 digest of the whole artifact with the digest bytes zeroed."""

from __future__ import annotations

import hashlib

CHECKSUM_SIZE = 16


def artifact_checksum(data: bytes | bytearray | memoryview, digest_offset: int) -> bytes:
    """The digest of ``data`` with its ``CHECKSUM_SIZE`` bytes at ``digest_offset`` taken as zero."""
    view = memoryview(data)
    h = hashlib.blake2b(digest_size=CHECKSUM_SIZE)
    h.update(view[:digest_offset])
    h.update(bytes(CHECKSUM_SIZE))
    h.update(view[digest_offset + CHECKSUM_SIZE :])
    return h.digest()
