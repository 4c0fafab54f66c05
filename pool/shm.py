"""Large pickle buffers through shared memory: one copy into a segment, zero-copy views.

::

    driver: task frames (pickle + out-of-band buffers, views of the caller's arrays)
       export(): each buffer >= SHM_MIN_BYTES copied into a segment (reused, pre-faulted)
       -> "run" {shm: [[frame index, name, nbytes]]} + an empty frame in its place
    worker: Mappings.attach(): the segment mapped (once: the mapping is kept while the
       segment exists), a view given to pickle.loads (no copy); after the message, a
       segment that the task's values still point into is "pinned": its mapping leaves
       the worker's cache, and the driver then unlinks that segment instead of reusing it
    worker -> driver: a large result is exported the same way into a segment the worker
       makes; the driver maps it and unlinks its name at once: the memory lives exactly as
       long as the values that point into it

Names are ``taskscope-shm-<driver pid>-<pool token>-<owner>-<n>`` in /dev/shm (0600, made
with O_EXCL; space reserved with posix_fallocate, so a full /dev/shm is an error here, never
a SIGBUS later). Nothing is left behind: the driver unlinks its segments when a message is
answered (or reuses them), a dead worker's segments when it exits, all of them at shutdown;
a driver killed with SIGKILL leaves names whose pid is gone, removed by the next pool's
`sweep_stale_segments`. Segment bytes are raw buffer contents, never unpickled: the signed
message names the segment and its size, and the pickle stream itself travels signed.
"""
from __future__ import annotations

import itertools
import mmap
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["Exporter", "Mappings", "SHM_MIN_BYTES", "attach_all", "close_all", "sweep",
           "sweep_stale_segments"]

SHM_DIR = "/dev/shm"
PREFIX = "taskscope-shm-"
# Below ~1 MiB a zmq frame moves as fast (measured: 4 MB arrays at ~1 GB/s by frames, while
# one memcpy here does 5-10 GB/s); above, a copy into shared memory is the only copy.
SHM_MIN_BYTES = 1024 * 1024
# Pre-faulted segments kept for reuse while the pool is busy, at most (a new segment costs
# 5x a memcpy: its pages are allocated on first touch); all freed once the pool is idle.
FREE_KEEP_BYTES = 256 * 1024 * 1024
_NAME_RE = re.compile(r"taskscope-shm-(\d+)-[0-9a-f]+-[dw0-9]+-\d+\Z")
_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # fault all pages in at once


def available() -> bool:
    """Shared memory is used where /dev/shm is writable, unless TASKSCOPE_SHM=0."""
    if os.environ.get("TASKSCOPE_SHM", "1") == "0":
        return False
    return os.path.isdir(SHM_DIR) and os.access(SHM_DIR, os.W_OK)


def _create(name: str, size: int) -> mmap.mmap:
    path = os.path.join(SHM_DIR, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)  # ENOSPC now rather than SIGBUS on first write
        return mmap.mmap(fd, size, flags=_MAP_FLAGS)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)


def _attach(name: str, nbytes: int, whole: bool = False) -> mmap.mmap:
    """Map `nbytes` of segment `name` (`whole`: all of it, to serve later messages too)."""
    if not _NAME_RE.match(name):
        raise ValueError(f"taskscope: {name!r} is not a taskscope shared-memory segment")
    fd = os.open(os.path.join(SHM_DIR, name), os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if size < nbytes:
            raise ValueError(f"taskscope: segment {name!r} is smaller than {nbytes} bytes")
        return mmap.mmap(fd, size if whole else nbytes, flags=_MAP_FLAGS)
    finally:
        os.close(fd)


def unlink(name: str) -> None:
    try:
        os.unlink(os.path.join(SHM_DIR, name))
    except OSError:
        pass


def _nbytes(frame: Any) -> int:
    if isinstance(frame, (bytes, bytearray)):
        return len(frame)
    try:
        return memoryview(frame).nbytes
    except TypeError:
        return 0


class Exporter:
    """Copies large frames into segments owned by one process (the driver, or a worker).

    The driver's segments are reused once the worker let go of them (`release`); a
    worker's are handed over (the driver unlinks them on arrival), so `reuse` is False.
    """

    def __init__(self, prefix: str, reuse: bool) -> None:
        self.prefix = prefix  # taskscope-shm-<pid>-<token>-<owner>-
        self.reuse = reuse and available()
        self.enabled = available()
        self._n = itertools.count()
        self._free: dict[int, list[tuple[str, mmap.mmap]]] = {}  # size -> segments
        self._free_bytes = 0
        self._busy: dict[str, tuple[int, mmap.mmap | None]] = {}  # name -> (size, map)

    def export(self, frames: Sequence[Any]) -> tuple[list[Any], list[list[Any]]]:
        """`frames` with each large one replaced by b"" and described in the second list."""
        if not self.enabled:
            return list(frames), []
        out, descs = list(frames), []
        for i, frame in enumerate(frames):
            n = _nbytes(frame)
            if n < SHM_MIN_BYTES:
                continue
            try:
                name, m = self._segment(n)
            except OSError:
                continue  # /dev/shm full or missing: this frame travels by zmq
            view = memoryview(m)
            try:
                view[:n] = memoryview(frame).cast("B")  # the one copy
            finally:
                view.release()
            if not self.reuse:
                self._busy.pop(name, None)
                m.close()  # the receiver maps it and unlinks the name
            out[i] = b""
            descs.append([i, name, n])
        return out, descs

    def _segment(self, n: int) -> tuple[str, mmap.mmap]:
        size = 1 << max(20, (n - 1).bit_length()) if self.reuse else n  # reusable classes
        free = self._free.get(size)
        if free:
            name, m = free.pop()
            self._free_bytes -= size
        else:
            name = f"{self.prefix}{next(self._n)}"
            m = _create(name, size)
        self._busy[name] = (size, m)
        return name, m

    def release(self, names: Sequence[str], pinned: Sequence[str] = ()) -> None:
        """The receiver is done with these segments: reuse them (or unlink, if `pinned`:
        the receiver's values still map it; its memory goes when they do)."""
        for name in names:
            size, m = self._busy.pop(name, (0, None))
            if m is None:
                continue
            if name in pinned or self._free_bytes + size > FREE_KEEP_BYTES:
                m.close()
                unlink(name)
            else:
                self._free.setdefault(size, []).append((name, m))
                self._free_bytes += size

    def trim(self) -> None:
        """Unlink the segments kept for reuse (the pool is idle: give the memory back)."""
        for segs in self._free.values():
            for name, m in segs:
                m.close()
                unlink(name)
        self._free.clear()
        self._free_bytes = 0

    @property
    def kept_bytes(self) -> int:
        return self._free_bytes

    def close(self) -> None:
        """Unlink every segment this exporter made (shutdown)."""
        for name, (_size, m) in list(self._busy.items()):
            if m is not None:
                m.close()
            unlink(name)
        self._busy.clear()
        for segs in self._free.values():
            for name, m in segs:
                m.close()
                unlink(name)
        self._free.clear()
        self._free_bytes = 0


def attach_all(frames: list[Any], descs: Sequence[Sequence[Any]], unlink_now: bool
               ) -> list[tuple[str, mmap.mmap]]:
    """Put a view of each described segment in `frames` (in place); the mappings returned
    are to be closed by `close_all` once the frames' values are gone. With `unlink_now`
    (results arriving at the driver) the name goes at once and the memory with the values.
    A segment that cannot be mapped leaves its frame empty: unpickling then fails, and
    that task fails with a SerializationError saying so."""
    maps = []
    for index, name, nbytes in descs:
        try:
            m = _attach(str(name), int(nbytes))
        except (OSError, ValueError):
            continue
        finally:
            if unlink_now:
                unlink(str(name))
        maps.append((str(name), m))
        frames[int(index)] = memoryview(m)
    return maps


class Mappings:
    """A worker's mappings of the driver's segments, kept from one message to the next.

    The driver reuses its segments by name. Mapping a 4 MB segment and unmapping it after
    its message cost the worker twice what numpy takes to sum it (page tables filled and
    torn down: measured 0.3 + 0.15 ms against 0.25 ms), so a mapping stays while its
    segment exists and serves every later message naming it. A message gets a view of it
    (`attach`); after the message (`let_go`), a segment whose memory a value still uses is
    pinned: its mapping leaves the cache and is closed once those values are gone, and the
    driver unlinks that segment instead of reusing it. Mappings of segments the driver has
    unlinked are closed by `forget_gone` (the worker calls it between messages and when idle).
    """

    def __init__(self) -> None:
        self._maps: dict[str, mmap.mmap] = {}
        self.pinned: list[tuple[str, mmap.mmap]] = []  # out of the cache, closed when free

    def __bool__(self) -> bool:
        return bool(self._maps or self.pinned)

    def attach(self, frames: list[Any], descs: Sequence[Sequence[Any]]) -> list[str]:
        """Put a view of each described segment in `frames` (in place); returns the names.
        A segment that cannot be mapped leaves its frame empty: unpickling then fails, and
        that task fails with a SerializationError saying so."""
        names = []
        for index, name, nbytes in descs:
            name, nbytes = str(name), int(nbytes)
            m = self._maps.get(name)
            if m is None or len(m) < nbytes:
                try:
                    m = self._maps[name] = _attach(name, nbytes, whole=True)
                except (OSError, ValueError):
                    continue
            names.append(name)
            frames[int(index)] = memoryview(m)[:nbytes]
        return names

    def let_go(self, names: Sequence[str]) -> list[str]:
        """The message is done and its frames dropped: returns the names of the segments
        that values still point into (pinned), which leave the cache."""
        pinned = []
        for name in names:
            # Every buffer exported by an mmap holds a reference to it, and this cache holds
            # the only other one: more than the dict's and the call's means a value (a view,
            # an array made from one) still reads this memory, so it must not be reused.
            if name in self._maps and sys.getrefcount(self._maps[name]) > 2:
                pinned.append(name)
                self.pinned.append((name, self._maps.pop(name)))
        self.pinned = close_all(self.pinned)
        return pinned

    def forget_gone(self) -> None:
        """Close the mappings of segments the driver has unlinked (trimmed or pinned), so
        their memory goes now rather than with this worker."""
        self.pinned = close_all(self.pinned)
        for name in [n for n in self._maps if not os.path.exists(os.path.join(SHM_DIR, n))]:
            m = self._maps.pop(name)
            try:
                m.close()
            except BufferError:  # cannot happen after let_go; kept safe all the same
                self.pinned.append((name, m))

    def close(self) -> None:
        for m in self._maps.values():
            try:
                m.close()
            except BufferError:
                pass
        self._maps.clear()


def close_all(maps: list[tuple[str, mmap.mmap]]) -> list[tuple[str, mmap.mmap]]:
    """Close the mappings nothing points into any more; returns those still in use."""
    still = []
    for name, m in maps:
        try:
            m.close()
        except BufferError:  # a value (an array) still points into it
            still.append((name, m))
    return still


def sweep(prefix: str) -> int:
    """Unlink every segment whose name starts with `prefix`; returns how many."""
    removed = 0
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return 0
    for name in names:
        if name.startswith(prefix):
            unlink(name)
            removed += 1
    return removed


def sweep_stale_segments(pid_alive: Any) -> int:
    """Unlink this user's segments whose driver process is gone (killed with SIGKILL)."""
    removed = 0
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return 0
    uid = os.getuid()
    for name in names:
        m = _NAME_RE.match(name)
        if m is None or pid_alive(int(m.group(1))):
            continue
        try:
            if os.stat(os.path.join(SHM_DIR, name)).st_uid != uid:
                continue
        except OSError:
            continue
        unlink(name)
        removed += 1
    return removed
