"""The event stream: the driver's batching publisher and the public subscriber.

::

    driver thread --emit()--> buffer --flush() every FLUSH_INTERVAL_S--> XPUB (signed batch)
                                                                            |
    subscribe(endpoint, key) <--- SUB: verify, decode, check seq -----------+

A subscriber that joins late gets a ``snapshot`` event first: the XPUB socket tells the
driver about every new subscription, and the driver answers with its current summary.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from . import _transport, coalesce
from .errors import ProtocolError
from .protocol import Codec, Event, check_event

__all__ = ["EventPublisher", "Subscriber", "subscribe"]

# 20 batches a second at most: smooth, and cheap for the driver. The end of a call is
# published at once (Driver.maybe_end_call): a notebook waits for it.
FLUSH_INTERVAL_S = 0.05
MAX_BATCH = 2000  # flush early past this many events so no batch is huge
_ALL: frozenset[str] = frozenset({"*"})  # an observer that did not say what it observes
_monotonic = time.monotonic


class EventPublisher:
    """Buffers events and sends them in signed batches. Used by the driver thread only."""

    def __init__(self, socket: Any, key: bytes, observer: Any = None,
                 observes: frozenset[str] | None = None) -> None:
        self._sock = socket
        # Called with (kind, ts, body) for the kinds in `observes` (all when None): the
        # driver's History (history.py). Called before folding, so it sees every record;
        # kinds it does not handle (most per-task events) skip the call.
        self._observer = observer
        self._observed = frozenset() if observer is None else (
            _ALL if observes is None else frozenset(observes))
        self._codec = Codec(key, "driver")
        self._buffer: list[dict[str, Any]] = []
        self._seq = 0
        self.flushed_seq = 0  # the last event sent: what a view must have applied to be current
        self.last_flush = time.monotonic()
        self.subscribers_joined = 0

    def emit(self, kind: str, ts: float | None = None, **body: Any) -> None:
        # The driver's hottest path (3-4 calls per tiny task): keep it flat.
        now = _monotonic() if ts is None else ts
        if kind in self._observed or self._observed is _ALL:
            self._observer(kind, now, body)
        buffer = self._buffer
        if ts is None and kind in coalesce.FOLDABLE:  # per-task events fold (coalesce.py)
            folded = coalesce.fold(buffer[-1] if buffer else None, kind, body)
            if folded is True:
                return
            if folded is not None:
                kind, body = coalesce.KIND, folded
        self._seq += 1
        buffer.append({"kind": kind, "seq": self._seq, "ts": now, "src": "driver",
                       "body": body})
        if len(buffer) >= MAX_BATCH:
            self.flush()

    def emit_plain(self, kind: str, call: int, task: int) -> None:
        """A plain one-item ``task.queued`` or ``task.released`` (no field but call, task and
        n=1): `emit`, with the common case done first: appended to the newest buffered
        ``tasks`` event of the same kind and call without building a body to fold (once or
        twice per submitted task on the driver)."""
        buffer = self._buffer
        if buffer and kind not in self._observed and self._observed is not _ALL:
            last = buffer[-1]
            if last["kind"] == coalesce.KIND:
                lb = last["body"]
                if lb["of"] == kind and lb["call"] == call and len(lb["tasks"]) < coalesce.MAX_FOLD:
                    lb["tasks"].append(task)
                    lb["n"].append(1)
                    return
        self.emit(kind, call=call, task=task, n=1)

    def emit_tasks(self, kind: str, call: int, shared: dict[str, Any], tasks: list[int],
                   ns: list[int], cols: dict[str, list[Any]] | None = None,
                   insights: dict[str, Any] | None = None) -> None:
        """Plain per-task events of one kind and call, built by the driver per message as
        the columns of one ``tasks`` event (coalesce.py) instead of one emit per task:
        `shared` holds the kind's shared fields, `cols` its per-task columns. Extends the
        newest buffered event when it is the same kind, call and shared fields."""
        now = _monotonic()
        body: dict[str, Any] = {"of": kind, "call": call, **shared, "tasks": tasks, "n": ns}
        if cols:
            body.update(cols)
        if insights is not None:
            body["insights"] = insights
        if self._observed is _ALL or coalesce.KIND in self._observed:
            self._observer(coalesce.KIND, now, body)  # (before it may be merged below)
        buffer = self._buffer
        if buffer and coalesce.extend(buffer[-1], body):
            return
        self._seq += 1
        buffer.append({"kind": coalesce.KIND, "seq": self._seq, "ts": now, "src": "driver",
                       "body": body})
        if len(buffer) >= MAX_BATCH:
            self.flush()

    def due(self, now: float) -> bool:
        return bool(self._buffer) and now - self.last_flush >= FLUSH_INTERVAL_S

    @property
    def next_flush(self) -> float:
        """When the buffered events are due (monotonic time)."""
        return self.last_flush + FLUSH_INTERVAL_S

    @property
    def pending(self) -> bool:
        return bool(self._buffer)

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        self.flushed_seq = batch[-1]["seq"]
        _transport.send_frames(self._sock, self._codec.encode("events", {"events": batch}))

    def poll_subscriptions(self) -> bool:
        """Drain XPUB subscription notices; True when someone (re)joined."""
        joined = False
        while True:
            try:
                notice = self._sock.recv(_transport.zmq.NOBLOCK)
            except _transport.zmq_again:
                return joined
            if notice[:1] == b"\x01":
                joined = True
                self.subscribers_joined += 1


class Subscriber:
    """Receives a pool's events, verified and in order; see `subscribe`.

    Attributes
    ----------
    dropped:
        messages refused (bad signature, replay, malformed).
    gaps:
        events known to be missed (sequence numbers skipped), e.g. after a slow reader
        overflowed its queue; a ``snapshot`` event repairs the picture.

    The first event a subscriber returns is always a ``snapshot``: events the driver had
    emitted before it saw this subscription but flushed after it (one batch may hold both)
    are summarised by that snapshot, and are skipped here.
    """

    def __init__(self, endpoint: str, key: bytes, expand: bool = True) -> None:
        self._expand = expand  # give `tasks` events back as the per-task events they hold
        self._sock = _transport.connect_sub(endpoint)
        self._codec = Codec(key, "subscriber")
        self._last_seq: int | None = None
        self._synced = False  # a snapshot was seen: events from here on are returned
        self.gaps = 0

    @property
    def dropped(self) -> int:
        return self._codec.dropped

    def recv(self, timeout: float | None = None) -> list[Event]:
        """The next batch of events; [] when `timeout` seconds pass with none (or when what
        arrived was dropped, or came before this subscriber's first snapshot)."""
        if timeout is not None and not self._sock.poll(int(timeout * 1000)):
            return []
        frames = _transport.recv_frames(self._sock)
        try:
            msg = self._codec.decode(frames)
            if msg.kind != "events" or not isinstance(msg.body.get("events"), list):
                raise ProtocolError(f"taskscope: unexpected message kind {msg.kind!r} on the event stream")
            events = [check_event(raw) for raw in msg.body["events"]]
        except ProtocolError:
            return []  # hostile or broken input is dropped (and counted), never raised
        if not self._synced:
            # Without this, a late joiner could see e.g. task.finished of a call it never
            # saw start, before the snapshot that describes it (the "snapshot first" promise).
            starts = [i for i, ev in enumerate(events) if ev.kind == "snapshot"]
            if not starts:
                return []
            events = events[starts[0]:]
            self._synced = True
        for ev in events:
            if self._last_seq is not None and ev.seq > self._last_seq + 1:
                self.gaps += ev.seq - self._last_seq - 1
            self._last_seq = ev.seq if self._last_seq is None else max(self._last_seq, ev.seq)
        if self._expand and any(ev.kind == coalesce.KIND for ev in events):
            events = [out for ev in events for out in _expanded(ev)]
        return events

    def __iter__(self) -> Iterator[Event]:
        while True:
            yield from self.recv()

    def fileno(self) -> int:
        return _transport.fileno_of(self._sock)

    @property
    def socket(self) -> Any:
        return self._sock

    def close(self) -> None:
        self._sock.close(linger=0)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _expanded(ev: Event) -> list[Event]:
    if ev.kind != coalesce.KIND:
        return [ev]
    return [Event(kind, ev.seq, ev.ts, ev.src, body) for kind, body in coalesce.expand_bodies(ev.body)]


def subscribe(endpoint: str, key: bytes | str, expand: bool = True) -> Subscriber:
    """Subscribe to a pool's event stream from any thread or process of this user.

    Parameters
    ----------
    endpoint:
        the pool's event endpoint (``pool.connection_info()["events"]``, or the registry).
    key:
        the pool's key, as bytes or hex text.
    expand:
        give each ``tasks`` event (many per-task events folded into one, protocol 1.2) back
        as the events it holds; False to receive it folded (the State applies it whole).
    """
    if isinstance(key, str):
        key = bytes.fromhex(key)
    return Subscriber(endpoint, key, expand)
