"""Controls that act on a pool from outside its process: cancel a call while its cell runs.

The notebook's kernel reads widget messages only between cells, so a button that must act
while a cell is busy goes through the Jupyter server instead, which sends a signed "control"
message to the pool's task socket (the driver's ROUTER):

    browser --POST--> server extension --control (signed, pool key)--> driver --> cancel_call

Only holders of the pool's key (this user's processes: the registry file is 0600) can send one.
"""
from __future__ import annotations

import os
import secrets
import threading
import time
from typing import Any

from . import _transport
from .protocol import Codec

__all__ = ["ACTIONS", "send_control"]

ACTIONS = ("cancel_call",)  # what a control message may ask for
LINGER_MS = 1000  # how long a closing socket keeps trying to deliver the message


def send_control(endpoint: str, key: bytes | str, action: str, **body: Any) -> None:
    """Send one signed control message to the pool whose task socket is `endpoint`.

    Parameters
    ----------
    endpoint, key:
        ``connection_info()["control"]`` and ``["key"]`` of the pool (or its registry entry).
    action:
        one of `ACTIONS`; e.g. ``send_control(ep, key, "cancel_call", call=7)``.
    """
    if action not in ACTIONS:
        raise ValueError(f"taskscope: unknown control {action!r}; known: {', '.join(ACTIONS)}")
    if isinstance(key, str):
        key = bytes.fromhex(key)
    codec = _codecs.get(key)
    if codec is None:
        # One source name per sending process and pool, numbered on: the driver's replay
        # guard keeps one entry for it, however many controls are sent.
        codec = _codecs[key] = Codec(key, f"control:{os.getpid()}:{secrets.token_hex(4)}")
    with _lock:
        frames = codec.encode("control", {"action": action, **body, "sent": time.time()})
        # A fresh socket identity each time: the ROUTER ignores a peer whose identity is
        # still connected, and the previous socket may still be lingering.
        sock = _transport.connect_dealer(endpoint, f"control-{secrets.token_hex(8)}".encode())
        try:
            _transport.send_frames(sock, frames)
        finally:
            sock.close(linger=LINGER_MS)


_codecs: dict[bytes, Codec] = {}
_lock = threading.Lock()  # numbers are sent in the order they are given
