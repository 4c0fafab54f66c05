"""The only pool module that imports zmq: sockets, endpoints and framing on the wire.

Endpoints are ipc sockets in a private directory (mode 0700, made by mkdtemp), so only this
user's processes can connect; where ipc is unavailable, TCP on 127.0.0.1 with a random port.
The directory's name records the driver's pid (``taskscope-<pid>-<random>``): a driver killed
with SIGKILL cannot remove it, so new pools and registry readers remove such directories
whose process is gone (`sweep_stale_dirs`).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import zmq

__all__ = ["Endpoints", "Poller", "connect_dealer", "connect_sub", "recv_frames", "send_frames",
           "zmq_again"]

COPY_THRESHOLD = 64 * 1024  # frames larger than this are sent zero-copy
SUB_MAX_MSG_BYTES = 64 * 1024 * 1024  # event batches are small; refuse anything huge
HWM = 0  # never drop control messages; the driver bounds what it keeps in flight itself

zmq_again = zmq.Again
Poller = zmq.Poller
POLLIN = zmq.POLLIN


def _context() -> zmq.Context:
    return zmq.Context.instance()


class Endpoints:
    """Binds the driver's task (ROUTER) and event (XPUB) sockets."""

    def __init__(self) -> None:
        self.dir: str | None = None
        ctx = _context()
        self.router = ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.setsockopt(zmq.SNDHWM, HWM)
        self.router.setsockopt(zmq.RCVHWM, HWM)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)  # an unknown peer is an error, not silence
        self.events = _xpub(ctx)
        if sys.platform != "win32" and zmq.has("ipc"):
            sweep_stale_dirs()
            # 0700: private to this user; the pid lets others clean up after a killed driver
            self.dir = tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-")
            self.tasks_endpoint = f"ipc://{self.dir}/tasks"
            self.events_endpoint = f"ipc://{self.dir}/events"
            self.router.bind(self.tasks_endpoint)
            self.events.bind(self.events_endpoint)
        else:
            port = self.router.bind_to_random_port("tcp://127.0.0.1")
            self.tasks_endpoint = f"tcp://127.0.0.1:{port}"
            port = self.events.bind_to_random_port("tcp://127.0.0.1")
            self.events_endpoint = f"tcp://127.0.0.1:{port}"

    def close(self) -> None:
        self.router.close(linger=0)
        self.events.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _xpub(ctx: zmq.Context) -> zmq.Socket:
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 500)  # let the last event batch reach subscribers
    sock.setsockopt(zmq.XPUB_VERBOSE, 1)  # tell us about every (re)subscription
    sock.setsockopt(zmq.SNDHWM, 10_000)
    return sock


def bind_events() -> tuple[zmq.Socket, str, str | None]:
    """An event (XPUB) socket alone, for sources other than a pool's driver (the Dask
    watch): (socket, endpoint, private directory or None), bound as `Endpoints` binds."""
    sock = _xpub(_context())
    if sys.platform != "win32" and zmq.has("ipc"):
        directory = tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-")
        endpoint = f"ipc://{directory}/events"
        sock.bind(endpoint)
        return sock, endpoint, directory
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    return sock, f"tcp://127.0.0.1:{port}", None


def remove_dir(directory: str | None) -> None:
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


DIR_PREFIX = "taskscope-"
_DIR_RE = re.compile(r"taskscope-(\d+)-[A-Za-z0-9_]+\Z")


def sweep_stale_dirs(parent: str | None = None) -> list[str]:
    """Remove this user's ``taskscope-<pid>-*`` ipc directories whose driver is gone (killed
    without cleaning up); returns the paths removed. Cheap: one listdir of the temp dir."""
    parent = parent or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        m = _DIR_RE.match(name)
        if m is None:
            continue
        path = os.path.join(parent, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.getuid():
            continue
        pid = int(m.group(1))
        if pid_alive(pid) and not _started_after(pid, st.st_mtime):
            continue  # its driver (or at least a process that old with its pid) still runs
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _started_after(pid: int, when: float) -> bool:
    """True if process `pid` started after `when` (so it reuses a dead driver's pid)."""
    try:
        import psutil

        return float(psutil.Process(pid).create_time()) > when + 1.0
    except Exception:
        return False


def connect_dealer(endpoint: str, identity: bytes) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 2000)  # a worker's last result must get out before it exits
    sock.setsockopt(zmq.IDENTITY, identity)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    sock.connect(endpoint)
    return sock


def connect_sub(endpoint: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, SUB_MAX_MSG_BYTES)
    sock.setsockopt(zmq.RCVHWM, 100_000)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    return sock


def send_frames(sock: zmq.Socket, frames: Sequence[Any], identity: bytes | None = None) -> bool:
    """Send one message; to a ROUTER peer `identity` if given. Returns False (nothing sent)
    when that peer is not connected: a worker that died a moment ago, before the driver saw
    its process sentinel, which then accounts for what it had."""
    parts = [identity, *frames] if identity is not None else list(frames)
    copy = all(_nbytes(f) < COPY_THRESHOLD for f in parts)
    try:
        sock.send_multipart(parts, copy=copy)
    except zmq.ZMQError as exc:
        if identity is None or exc.errno != zmq.EHOSTUNREACH:
            raise
        return False
    return True


def recv_frames(sock: zmq.Socket, flags: int = 0) -> list[Any]:
    """Receive one multipart message; large frames stay zero-copy `zmq.Frame` objects."""
    return sock.recv_multipart(flags, copy=False)


def _nbytes(frame: Any) -> int:
    if isinstance(frame, (bytes, bytearray)):
        return len(frame)
    try:
        return memoryview(frame).nbytes
    except TypeError:
        return 0


def fileno_of(sock: zmq.Socket) -> int:
    return sock.getsockopt(zmq.FD)


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie (dead, waiting for its parent to
    reap it: a killed kernel stays one until the Jupyter server notices)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True  # no /proc (not Linux): existence is all we can tell
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")
