"""The registry of live pools: one small file per pool in the Jupyter runtime directory.

Each live `Pool` writes ``taskscope-pool-<id>.json`` (mode 0600) holding what a reader needs
to subscribe to its events (endpoint and key) and to list it (name, pid, origin, workers,
start time), and removes it on shutdown (or when the pool is garbage-collected, or at exit).
Readers (the server extension, the sidebar, ``%taskscope``) list the entries and prune files
whose process is gone, so a pool killed with SIGKILL does not linger.

No Jupyter imports here: the runtime directory is computed as ``jupyter_core`` does
(``JUPYTER_RUNTIME_DIR``, else ``jupyter_core.paths.jupyter_runtime_dir()`` when importable,
else ``~/.local/share/jupyter/runtime``).

The key in an entry is a secret: never log an entry or put any of it in a URL.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import time
import warnings
import weakref
from typing import Any

__all__ = ["FILE_PREFIX", "Entry", "list_pools", "read_entry", "register", "runtime_dir",
           "unregister"]

FILE_PREFIX = "taskscope-pool-"
FILE_SUFFIX = ".json"
REGISTRY_VERSION = 1

Entry = dict[str, Any]


def runtime_dir() -> str:
    """The Jupyter runtime directory, computed as jupyter_core does."""
    env = os.environ.get("JUPYTER_RUNTIME_DIR")
    if env:
        return env
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        pass
    else:
        return jupyter_runtime_dir()
    data = os.environ.get("JUPYTER_DATA_DIR")
    if not data:
        xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                              "share")
        data = os.path.join(xdg, "jupyter")
    return os.path.join(data, "runtime")


def _path(directory: str, pool_id: str) -> str:
    return os.path.join(directory, f"{FILE_PREFIX}{pool_id}{FILE_SUFFIX}")


def _process_started(pid: int) -> float | None:
    """The process's start time (to tell a reused pid from ours), or None if unknown."""
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:
        return None


def _origin() -> tuple[str, str | None]:
    """("notebook", kernel id or None) inside an IPython kernel, else ("script", None)."""
    if "ipykernel" not in sys.modules:
        return "script", None
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    app_cls = getattr(kernelapp, "IPKernelApp", None)
    try:
        if app_cls is None or not app_cls.initialized():
            return "script", None
        app = app_cls.instance()
        if getattr(app, "kernel", None) is None:
            return "script", None
        name = os.path.basename(getattr(app, "connection_file", "") or "")
    except Exception:
        return "script", None
    kernel_id = None
    if name.startswith("kernel-") and name.endswith(".json"):
        kernel_id = name[len("kernel-"):-len(".json")]
    return "notebook", kernel_id


def _write_private(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically, the file being 0600 from its creation on."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _remove_if_old(path: str, age_s: float = 60.0) -> None:
    try:
        if time.time() - os.stat(path).st_mtime > age_s:
            os.unlink(path)
    except OSError:
        pass


def register(pool: Any, *, origin: str | None = None, **extra: Any) -> str | None:
    """Write the registry entry of a live pool; returns its path (None if it could not be
    written: the pool works anyway, it just does not show in the server's list).
    `origin` overrides where it runs ("dask": a watched Dask cluster, see pool/dask/), and
    `extra` adds public fields (e.g. ``scheduler``, its address)."""
    try:
        info = pool.connection_info()
        where, kernel_id = _origin()
        origin = origin or where
        pid = os.getpid()
        entry: Entry = {
            "v": REGISTRY_VERSION,
            "id": info["id"],
            "name": info["name"],
            "pid": pid,
            "pid_started": _process_started(pid),
            "origin": origin,
            "kernel_id": kernel_id,
            "events": info["events"],
            "control": info["control"],  # the task socket: signed controls (pool/control.py)
            "key": info["key"],
            "started": time.time(),
            "started_monotonic": time.monotonic(),
            "n_workers": pool.n_workers,
            "cwd": os.getcwd(),
            "argv0": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "",
            **extra,
        }
        path = _path(runtime_dir(), info["id"])
        _write_private(path, json.dumps(entry).encode())
    except Exception as exc:
        # The message names the error only: the entry holds the key.
        warnings.warn(f"taskscope: could not register pool {getattr(pool, 'name', '?')!r} in "
                      f"the Jupyter runtime directory ({type(exc).__name__}: {exc}); it works, "
                      "but the Jupyter server extension will not list it", RuntimeWarning,
                      stacklevel=3)
        return None
    # Removed also when the pool is garbage-collected without shutdown, and at exit.
    pool._registry_finalizer = weakref.finalize(pool, _unlink, path)
    return path


def unregister(pool: Any) -> None:
    """Remove the registry entry of a pool (idempotent)."""
    fin = getattr(pool, "_registry_finalizer", None)
    if fin is not None:
        fin()


def _alive(entry: Entry) -> bool:
    pid = entry.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: our pool's pid was reused
    except OSError:
        return False
    started = entry.get("pid_started")
    if isinstance(started, (int, float)):
        now_started = _process_started(pid)
        if now_started is not None and abs(now_started - started) > 1.0:
            return False  # the pid was reused by another process
    return True


def read_entry(path: str) -> Entry | None:
    """One registry file, or None if unreadable, malformed, or not private to this user."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
            return None  # not ours, or readable by others: do not trust it
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(64 * 1024)
    finally:
        os.close(fd)
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    for field, kind in (("id", str), ("name", str), ("pid", int), ("events", str), ("key", str)):
        if not isinstance(entry.get(field), kind):
            return None
    return entry


def list_pools(directory: str | None = None, *, prune: bool = True) -> list[Entry]:
    """The entries of live pools, oldest first; with `prune`, files of dead processes are
    removed. Entries include the key: keep them out of logs, URLs and responses."""
    directory = directory or runtime_dir()
    if prune:  # the ipc directories of pools killed without cleaning up, too
        try:
            from ._transport import sweep_stale_dirs

            sweep_stale_dirs()
        except Exception:
            pass
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    out = []
    for name in names:
        if prune and name.startswith("." + FILE_PREFIX) and name.endswith(".tmp"):
            _remove_if_old(os.path.join(directory, name))  # a writer killed mid-write
            continue
        if not (name.startswith(FILE_PREFIX) and name.endswith(FILE_SUFFIX)):
            continue
        path = os.path.join(directory, name)
        entry = read_entry(path)
        if entry is None:
            continue
        if not _alive(entry):
            if prune:
                _unlink(path)
            continue
        out.append(entry)
    out.sort(key=lambda e: (e.get("started") or 0, e["id"]))
    return out
