"""The wire protocol: one envelope for every message, and the event-stream schema.

This module is the only encoder/decoder of taskscope messages (see ``docs/protocol.md``).

Frames of every message, on every socket::

    [signature, header, *payload]

    signature  HMAC-SHA256 over header and payload frames (signing.py)
    header     msgpack map {"v": [major, minor], "kind": str, "seq": int, "src": str,
                            "ts": float, "body": {...}}
    payload    opaque frames: pickled task data between driver and workers (only ever
               unpickled after the signature checked), absent on the event stream

The event stream sends ``kind == "events"`` messages whose body is
``{"events": [event, ...]}``, each event ``{"kind", "seq", "ts", "src", "body"}`` with its own
sequence number so a subscriber sees gaps.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .errors import BadSignatureError, ProtocolError
from .signing import ReplayGuard, Signer

__all__ = [
    "EVENT_KINDS",
    "PROTOCOL_VERSION",
    "Codec",
    "Event",
    "Message",
    "check_event",
]

PROTOCOL_VERSION = (1, 7)  # major: incompatible change; minor: new optional fields or kinds
MAX_HEADER_BYTES = 32 * 1024 * 1024  # a snapshot of a big pool fits; anything larger is hostile

# Every event kind and the body fields it always carries (more may be present: readers
# ignore unknown fields and unknown kinds, so a newer minor version stays readable).
EVENT_KINDS: dict[str, tuple[str, ...]] = {
    "pool.started": ("id", "name", "pid", "n_workers", "start_method", "memory_limit"),
    "pool.status": ("status",),  # running | interrupted | closed | broken
    "worker.started": ("worker", "pid"),  # process launched
    "worker.ready": ("worker", "pid", "startup", "init"),  # connected, initializer done
    "worker.exited": ("worker", "pid", "exitcode", "signal", "reason", "insights"),
    "call.started": ("call", "api", "fn", "module", "file", "line", "callsite", "total"),
    "call.ended": ("call", "status"),  # done | erred | cancelled | interrupted
    "call.total": ("call", "total"),  # the length of a lazy input, once known
    "task.waiting": ("call", "task", "n"),  # submitted; its inputs are not all ready (1.1)
    "task.queued": ("call", "task", "n"),
    "task.processing": ("call", "task", "worker", "n"),
    "task.finished": ("call", "task", "worker", "n", "n_erred", "start", "end", "state",
                      "nbytes", "insights"),
    "task.erred": ("call", "task", "worker", "pid", "index", "exc_type", "message",
                   "traceback", "arg"),
    "task.cancelled": ("call", "task", "n"),
    "task.released": ("call", "task", "n"),
    "tasks": ("of", "call", "tasks", "n"),  # per-task events folded into one (1.2; coalesce.py)
    "worker.samples": ("samples",),  # [[worker, cpu_percent, rss_bytes, managed_bytes], ...]
    "snapshot": ("pool", "workers", "calls"),
    # 1.2: sources that aggregate at the source (the Dask adapter, pool/dask/)
    "call.counts": ("call", "counts", "submitted"),  # absolute counts of a call
    "worker.info": ("workers",),  # [{worker, ...facts}], set (not added)
    "task.stream": ("records",),  # [[start, end, lane, call, count, flags], ...]
    # 1.4: the statistical profiler's stack samples per call (pool/profile_store.py)
    "profile": ("interval", "profiles"),  # profiles: [{call, fn, module, tree}, ...]
}

def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _unpack(data: bytes | memoryview) -> Any:
    if len(data) > MAX_HEADER_BYTES:
        raise ProtocolError(f"taskscope: message header of {len(data)} bytes is over the "
                            f"{MAX_HEADER_BYTES}-byte limit; dropped")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several types for bad input
        raise ProtocolError(f"taskscope: undecodable message header ({exc})") from None


# Payload frames under this size travel joined in one frame (1.5): pyzmq sends each frame
# of a message with its own call, which lets go of the GIL, and getting it back behind a
# busy caller thread cost the driver up to a switch interval per frame (a run message of 64
# submitted tasks had 65 frames: measured 20x slower to send than one frame, with another
# thread running Python). Larger frames stay frames of their own: sent zero-copy. As
# out-of-band pickle buffers are never smaller than this (_pickle.OOB_MIN_BYTES), joined
# frames are pickle streams, which unpickle into objects of their own: no value keeps a
# view of a joined frame (and with it the rest of its message) alive.
JOIN_BELOW = 64 * 1024


def _join_small(frames: list[Any]) -> tuple[list[int] | None, list[Any]]:
    """(sizes, wire frames): the small frames joined into the first wire frame, in order;
    `sizes` has each payload frame's size, or -1 for a frame sent on its own. (None, frames)
    when fewer than two frames are small."""
    sizes = []
    for f in frames:
        n = f.nbytes if isinstance(f, memoryview) else len(f) if isinstance(f, bytes) \
            else memoryview(f).nbytes
        sizes.append(n if n < JOIN_BELOW else -1)
    small = [f for f, n in zip(frames, sizes) if n >= 0]
    if len(small) < 2:
        return None, frames
    return sizes, [b"".join(small), *(f for f, n in zip(frames, sizes) if n < 0)]


def _split_small(wire: list[Any], sizes: Any) -> list[Any]:
    """The payload frames of a message whose small frames were joined (`_join_small`):
    zero-copy slices of the joined frame, and the others in their places."""
    if not (isinstance(sizes, list) and wire and all(type(n) is int and n >= -1 for n in sizes)):
        raise ProtocolError("taskscope: message header has a malformed frame join")
    joined, rest = memoryview(wire[0]).cast("B"), iter(wire[1:])
    out, pos = [], 0
    for n in sizes:
        if n < 0:
            f = next(rest, None)
            if f is None:
                raise ProtocolError("taskscope: message has fewer frames than its header says")
            out.append(f)
        else:
            out.append(joined[pos:pos + n])
            pos += n
    if pos != len(joined) or next(rest, None) is not None:
        raise ProtocolError("taskscope: message frames do not add up to its header's join")
    return out


@dataclass(slots=True)
class Message:
    """A verified, decoded message."""

    kind: str
    seq: int
    src: str
    ts: float
    body: dict[str, Any]
    payload: list[Any] = field(default_factory=list)  # raw frames, still pickled


@dataclass(slots=True)
class Event:
    """One event of the event stream."""

    kind: str
    seq: int
    ts: float
    src: str
    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "ts": self.ts, "src": self.src, "body": self.body}


def check_event(raw: Any) -> Event:
    """Validate one decoded event map; raises ProtocolError naming what is missing."""
    if not isinstance(raw, dict):
        raise ProtocolError("taskscope: an event must be a map")
    try:
        kind, seq, ts, src, body = raw["kind"], raw["seq"], raw["ts"], raw["src"], raw["body"]
    except KeyError as exc:
        raise ProtocolError(f"taskscope: event lacks the envelope field {exc}") from None
    if not (isinstance(kind, str) and isinstance(seq, int) and isinstance(ts, (int, float))
            and isinstance(body, dict)):
        raise ProtocolError(f"taskscope: event {kind!r} has fields of the wrong type")
    required = EVENT_KINDS.get(kind)
    if required:
        missing = [f for f in required if f not in body]
        if missing:
            raise ProtocolError(f"taskscope: event {kind!r} lacks {', '.join(missing)}")
    return Event(kind, seq, float(ts), str(src), body)


class Codec:
    """Encodes outgoing and verifies-then-decodes incoming messages for one endpoint.

    Parameters
    ----------
    key:
        the pool's signing key.
    source:
        this sender's name, e.g. ``"driver"`` or ``"worker:3"``; numbered per source.
    """

    def __init__(self, key: bytes, source: str) -> None:
        self._signer = Signer(key)
        self._guard = ReplayGuard()
        self.source = source
        self._seq = 0
        self.dropped = 0  # messages refused: bad signature, replay, malformed

    def encode(self, kind: str, body: dict[str, Any] | None = None,
               payload: Sequence[bytes | memoryview] = ()) -> list[bytes | memoryview]:
        self._seq += 1
        head = {"v": PROTOCOL_VERSION, "kind": kind, "seq": self._seq, "src": self.source,
                "ts": time.monotonic(), "body": body or {}}
        wire = list(payload)
        if len(wire) > 1:
            sizes, wire = _join_small(wire)
            if sizes is not None:
                head["join"] = sizes
        frames: list[bytes | memoryview] = [_pack(head), *wire]
        return [self._signer.sign(frames), *frames]

    def decode(self, frames: Sequence[Any]) -> Message:
        """Verify, then decode. Raises BadSignatureError or ProtocolError (and counts it)."""
        try:
            return self._decode(frames)
        except ProtocolError:
            self.dropped += 1
            raise

    def _decode(self, frames: Sequence[Any]) -> Message:
        if len(frames) < 2:
            raise ProtocolError(f"taskscope: message of {len(frames)} frame(s); at least 2 expected")
        views = [f.buffer if hasattr(f, "buffer") else f for f in frames]  # zmq.Frame or bytes
        if not self._signer.verify(views[0], views[1:]):
            raise BadSignatureError("taskscope: message signature does not match; dropped")
        header = _unpack(views[1])
        if not isinstance(header, dict):
            raise ProtocolError("taskscope: message header is not a map")
        version = header.get("v")
        if not (isinstance(version, list) and len(version) == 2):
            raise ProtocolError("taskscope: message header has no protocol version")
        if version[0] != PROTOCOL_VERSION[0]:
            raise ProtocolError(
                f"taskscope: message speaks protocol {version[0]}.{version[1]}, this side speaks "
                f"{PROTOCOL_VERSION[0]}.{PROTOCOL_VERSION[1]}; upgrade taskscope on both sides")
        kind, seq, src = header.get("kind"), header.get("seq"), header.get("src")
        if not (isinstance(kind, str) and isinstance(seq, int) and isinstance(src, str)):
            raise ProtocolError("taskscope: message header lacks kind, seq or src")
        ts = header.get("ts", 0.0)
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            # checked here: a bad timestamp must be refused as ProtocolError, not ValueError
            raise ProtocolError("taskscope: message header has a timestamp that is not a number")
        if not self._guard.accept(src, seq):
            raise BadSignatureError(f"taskscope: replayed message {seq} from {src!r}; dropped")
        body = header.get("body")
        if not isinstance(body, dict):
            raise ProtocolError("taskscope: message body is not a map")
        payload = list(views[2:])
        if "join" in header:
            payload = _split_small(payload, header["join"])
        return Message(kind, seq, src, float(ts), body, payload)

    def forget(self, source: str) -> None:
        """Forget a source's sequence numbers (a replaced worker starts again at 1)."""
        self._guard.forget(source)
