"""What a unit's refusal says: out of space, a file already gone, a read-back that
differs (the campaign decides from these what to record and what to tidy)."""

from __future__ import annotations

import re

from ..errors import UnitRpcError

__all__ = ["Mismatch", "missing", "out_of_space"]

# A unit out of room: mDash "fwrite(/spiffs/x) N, errno 28" (ENOSPC); Mongoose OS
# rpc-service-fs "failed to write data" (a short fwrite: a full file system).
_OUT_OF_SPACE = re.compile(r"errno 28\b|\bENOSPC\b|no space|failed to write data", re.I)


class Mismatch(UnitRpcError):
    """The file read back is not the file written."""


def out_of_space(e: UnitRpcError | str) -> bool:
    """Whether a unit's refusal (or what it said) says its file system is full."""
    return bool(_OUT_OF_SPACE.search(e if isinstance(e, str) else e.message))


def missing(e: UnitRpcError) -> bool:
    """FS.Remove of a file that is not there (Mongoose OS "remove failed", mDash "")."""
    return "remove failed" in e.message or e.message.rstrip().endswith("failed (500):")
