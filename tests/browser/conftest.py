"""Browser-suite fixtures: throw-away JupyterLab 4 and Notebook 7 servers, and
pytest-playwright driving Debian's chromium (Playwright's own browser download does not
work here and is never attempted).

Each server gets its own temporary JUPYTER_CONFIG_DIR / runtime / settings / workspaces
directories, so nothing from ~/.jupyter or a saved layout leaks in, and a root directory
holding fresh copies of notebooks/*.ipynb. The environment's own config (<venv>/etc/jupyter)
still applies, so the installed `taskscope` server extension is enabled as it would be for
a user; its log lines are printed when the server stops.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
CHROMIUM = os.environ.get("TASKSCOPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60

# JupyterLab user settings written into the server's private settings dir.
LAB_SETTINGS = {
    # Start the notebook's kernel without a "Select Kernel" dialog, and keep every cell in
    # the DOM (no windowing), so tests can find outputs that are scrolled out of view.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
        {"autoStartDefaultKernel": True, "windowingMode": "none"},
    # Never ask about (or fetch) news and updates: no network, no pop-ups over the page.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A running `jupyter lab` / `jupyter notebook` with its own config and a token."""

    def __init__(self, tmp: Path, app: str) -> None:
        self.app = app
        self.root = tmp / "root"
        self.root.mkdir()
        for nb in NOTEBOOKS.glob("*.ipynb"):
            shutil.copy(nb, self.root / nb.name)
        for rel, data in LAB_SETTINGS.items():
            f = tmp / "settings" / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(data))
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        }
        cmd = [sys.executable, "-m", "jupyter", app, "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # the server refuses to run as root otherwise
        self.log_path = tmp / f"{app}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        t0 = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}",
                                            timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - t0 > SERVER_START_TIMEOUT_S:
                self.stop()
                raise TimeoutError(f"jupyter {self.app} not ready in {SERVER_START_TIMEOUT_S} s")
            time.sleep(0.25)
        print(f"\n[browser] jupyter {self.app} ready in {time.monotonic() - t0:.1f} s at {self.base}")

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def url(self, notebook: str) -> str:
        if self.app == "lab":
            # ?reset: an empty layout, not the tabs (and kernels) of the previous test
            return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"
        return f"{self.base}/notebooks/{notebook}?token={self.token}"

    def shutdown_sessions(self) -> None:
        """DELETE every session: its kernel (and the kernel's pool workers) stops."""
        for sess in self.api("/api/sessions"):
            self.api(f"/api/sessions/{sess['id']}", method="DELETE")

    def taskscope_log_lines(self) -> list[str]:
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if "taskscope" in line.lower()]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        lines = self.taskscope_log_lines()
        if lines:
            print(f"\n[browser] jupyter {self.app} log lines about taskscope ({self.log_path}):")
            for line in lines[:20]:
                print("   ", line)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("lab"), "lab")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nb7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("nb7"), "notebook")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _shutdown_kernels(request: pytest.FixtureRequest) -> Iterator[None]:
    """2 shared cores: stop the kernels a test started before the next one begins."""
    yield
    for name in ("lab_server", "nb7_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).shutdown_sessions()
