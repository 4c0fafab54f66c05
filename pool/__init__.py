"""taskscope.pool: the process pool, its scheduler, workers and wire protocol.

No Jupyter imports here: a plain script can use the pool. See ``docs/protocol.md``.
"""
from __future__ import annotations

from .callsite import set_stacklevel
from .errors import (BadSignatureError, PoolBrokenError, PoolClosedError, ProtocolError,
                     RemoteTraceback, SerializationError, TaskCancelledError, TaskError,
                     TaskscopeError, TaskTimeoutError, WorkerDiedError,
                     WorkerMemoryError)
from .events import Subscriber, subscribe
from .executor import ProcessPoolExecutor
from .failures import FailedTask
from .pool import Pool
from .protocol import PROTOCOL_VERSION

__all__ = [
    "PROTOCOL_VERSION",
    "BadSignatureError",
    "FailedTask",
    "Pool",
    "PoolBrokenError",
    "PoolClosedError",
    "ProcessPoolExecutor",
    "ProtocolError",
    "RemoteTraceback",
    "SerializationError",
    "Subscriber",
    "TaskCancelledError",
    "TaskError",
    "TaskTimeoutError",
    "TaskscopeError",
    "WorkerDiedError",
    "WorkerMemoryError",
    "set_stacklevel",
    "subscribe",
]
