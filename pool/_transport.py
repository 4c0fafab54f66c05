"""The only pool module that imports zmq: sockets, endpoints and framing on the wire.

Endpoints are ipc sockets in a private directory (mode 0700, made by mkdtemp), so only this
user's processes can connect; where ipc is unavailable, TCP on 127.0.0.1 with a random port.
"""
from __future__ import annotations

import os
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
        self.events = ctx.socket(zmq.XPUB)
        self.events.setsockopt(zmq.LINGER, 500)  # let the last event batch reach subscribers
        self.events.setsockopt(zmq.XPUB_VERBOSE, 1)  # tell us about every (re)subscription
        self.events.setsockopt(zmq.SNDHWM, 10_000)
        if sys.platform != "win32" and zmq.has("ipc"):
            self.dir = tempfile.mkdtemp(prefix="taskscope-")  # 0700: private to this user
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


def send_frames(sock: zmq.Socket, frames: Sequence[Any], identity: bytes | None = None) -> None:
    parts = [identity, *frames] if identity is not None else list(frames)
    copy = all(_nbytes(f) < COPY_THRESHOLD for f in parts)
    sock.send_multipart(parts, copy=copy)


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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
