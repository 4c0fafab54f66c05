"""The registry of live pools (pool/registry.py), without a server."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from taskscope import Pool
from taskscope.pool import registry


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "runtime"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(d))
    return d


def test_runtime_dir_follows_env(runtime: Path) -> None:
    assert registry.runtime_dir() == str(runtime)


def test_pool_registers_privately_and_unregisters(runtime: Path) -> None:
    with Pool(1, name="reg-test") as pool:
        path = runtime / f"taskscope-pool-{pool.id}.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        entry = json.loads(path.read_text())
        assert entry["id"] == pool.id and entry["name"] == "reg-test"
        assert entry["pid"] == os.getpid() and entry["n_workers"] == 1
        assert entry["origin"] == "script"
        assert entry["key"] == pool.connection_info()["key"]
        assert [e["id"] for e in registry.list_pools()] == [pool.id]
        assert not [p for p in os.listdir(runtime) if p.endswith(".tmp")]
    assert not path.exists()
    assert registry.list_pools() == []


def test_dead_pid_pruned_and_foreign_files_ignored(runtime: Path) -> None:
    runtime.mkdir(mode=0o700)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    base = {"v": 1, "name": "x", "events": "ipc:///nowhere", "key": "00"}
    stale = runtime / "taskscope-pool-aa.json"
    stale.write_text(json.dumps({**base, "id": "aa", "pid": dead.pid}))
    stale.chmod(0o600)
    loose = runtime / "taskscope-pool-bb.json"  # readable by others: not trusted
    loose.write_text(json.dumps({**base, "id": "bb", "pid": os.getpid()}))
    loose.chmod(0o644)
    reused = runtime / "taskscope-pool-cc.json"  # our pid, but another process start time
    reused.write_text(json.dumps({**base, "id": "cc", "pid": os.getpid(), "pid_started": 1.0}))
    reused.chmod(0o600)
    assert registry.list_pools(prune=False) == []
    assert stale.exists()
    assert registry.list_pools() == []
    assert not stale.exists() and not reused.exists()
    assert loose.exists()  # not ours to delete
