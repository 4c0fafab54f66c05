"""Number formats of the static snapshot: a port of js/src/format.js, the panes' formats.

Both are checked against the same golden cases (tests/unit/fixtures/format-cases.json, read
by tests/unit/test_snapshot.py and js/test/format.test.js), so a saved notebook prints
"1 234", "50.0 MiB", "3m 05s" exactly as the live dashboard does.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["DASH", "bytes_", "clock", "count", "cpu", "duration", "eta", "percent", "rate",
           "rel_time"]

THIN = "\u202f"  # narrow no-break space: thousands separator that never wraps
DASH = "—"
BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _bad(x: Any) -> bool:
    return (x is None or isinstance(x, bool) or not isinstance(x, (int, float))
            or not math.isfinite(x))


def _fixed(v: float, digits: int) -> str:
    """JS `toFixed`: the exact binary value rounded half away from zero (Python's own
    formatting rounds half to even: 2.5 -> "2" where JS prints "3")."""
    q = Decimal(v).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{q:.{digits}f}" if q != 0 else f"{0:.{digits}f}"


def _round(v: float) -> int:
    """JS `Math.round` (half up), not Python's half-to-even `round`."""
    return math.floor(v + 0.5)


def _sig(v: float, digits: int = 3) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 100:
        return _fixed(v, 0)
    if a >= 10:
        return _fixed(v, max(0, digits - 2))
    return _fixed(v, max(0, digits - 1))


def count(n: Any) -> str:
    if _bad(n):
        return DASH
    s = f"{_round(abs(n)):,}".replace(",", THIN)
    return "−" + s if n < 0 else s


def bytes_(b: Any) -> str:
    if _bad(b):
        return DASH
    v, neg, u = abs(float(b)), b < 0, 0
    while v >= 1024 and u < len(BYTE_UNITS) - 1:
        v /= 1024
        u += 1
    s = str(_round(v)) if u == 0 else _sig(v)
    return ("−" if neg else "") + s + " " + BYTE_UNITS[u]


def duration(s: Any) -> str:
    if _bad(s):
        return DASH
    v = float(s)
    if v < 0:
        return "−" + duration(-v)
    if v == 0:
        return "0 s"
    if v < 1e-3:
        return _sig(v * 1e6) + " µs"
    if v < 1:
        return _sig(v * 1e3) + " ms"
    if v < 60:
        return _sig(v) + " s"
    r = _round(v)
    if r < 3600:
        return f"{r // 60}m {r % 60:02d}s"
    if r < 86400:
        return f"{r // 3600}h {(r % 3600) // 60:02d}m"
    return f"{r // 86400}d {(r % 86400) // 3600:02d}h"


def clock(s: Any) -> str:
    if _bad(s):
        return DASH
    v = max(0, math.floor(s))
    h, m = v // 3600, (v % 3600) // 60
    return f"{h}:{m:02d}:{v % 60:02d}" if h > 0 else f"{m:02d}:{v % 60:02d}"


def rate(r: Any, unit: str = "/s") -> str:
    if _bad(r):
        return DASH
    a = abs(r)
    if a >= 1e9:
        return _sig(r / 1e9) + "G" + unit
    if a >= 1e6:
        return _sig(r / 1e6) + "M" + unit
    if a >= 1e4:
        return _sig(r / 1e3) + "k" + unit
    if a >= 100:
        return _fixed(r, 0) + unit
    return _sig(r) + unit


def eta(s: Any) -> str:
    if _bad(s):
        return DASH
    if s < 1:
        return "< 1 s"
    if s < 60:
        return f"{_round(s)} s"
    return duration(s)


def percent(f: Any, digits: int = 1) -> str:
    if _bad(f):
        return DASH
    p = f * 100
    if 99.95 <= p <= 100:
        return "100%"
    if abs(p) >= 100:
        return _fixed(p, 0) + "%"
    return _fixed(p, digits) + "%"


def cpu(p: Any) -> str:
    if _bad(p):
        return DASH
    return (_fixed(p, 0) if abs(p) >= 100 else _fixed(p, 1)) + "%"


def rel_time(t: Any, t0: Any) -> str:
    if _bad(t) or _bad(t0):
        return DASH
    d = t - t0
    return ("−" if d < 0 else "+") + duration(abs(d))
