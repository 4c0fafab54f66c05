"""Each worker's running slot: 8 bytes in a file, the id of the task it is running now.

A "run" message may carry many small tasks, answered in parts. When a worker dies, the
driver must tell the task that killed it (it fails, or uses a retry) from the tasks of the
same message that were done but not yet answered, or not yet begun (both run again). The
worker writes the id into the slot before each task (one store into a shared mapping: no
system call), and 0 between messages; the driver reads the file after the death.

The file sits in the pool's private 0700 ipc directory (_transport.Endpoints), so it goes
when that directory goes, also after a driver killed with SIGKILL (sweep_stale_dirs).
"""
from __future__ import annotations

import mmap
import os
import struct

__all__ = ["Writer", "create", "read", "remove"]

_FORMAT = "<q"
SLOT_BYTES = struct.calcsize(_FORMAT)


def create(directory: str | None, worker_id: int) -> str | None:
    """Make worker `worker_id`'s slot (zero: running nothing); None without a directory."""
    if directory is None:
        return None
    path = os.path.join(directory, f"w{worker_id}.running")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, bytes(SLOT_BYTES))
    finally:
        os.close(fd)
    return path


def read(path: str) -> int | None:
    """The task id in the slot (0: between tasks), or None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(SLOT_BYTES)
    except OSError:
        return None
    return struct.unpack(_FORMAT, data)[0] if len(data) == SLOT_BYTES else None


def remove(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


class Writer:
    """The worker's side: `set(task_id)` is a store into the shared page."""

    def __init__(self, path: str | None) -> None:
        self._map: mmap.mmap | None = None
        if path is None:
            return
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return  # no slot: the driver then blames the whole message, as it did before
        try:
            self._map = mmap.mmap(fd, SLOT_BYTES)
        finally:
            os.close(fd)

    def set(self, task_id: int) -> None:
        if self._map is not None:
            struct.pack_into(_FORMAT, self._map, 0, task_id)
