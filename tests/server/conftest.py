"""A real Jupyter Server on 127.0.0.1 with a token, isolated Jupyter dirs and a base_url.

The pools the tests start share the server's JUPYTER_RUNTIME_DIR, as pools on a real machine
share the user's runtime directory with the server. The server's whole output goes to
``server.log`` (the key-leak test reads it).
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
BASE_URL = "/user/tester/"  # a JupyterHub-like prefix: every URL must honour it
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    root: str  # http://127.0.0.1:PORT/user/tester/
    token: str
    env: dict[str, str]
    runtime_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    scripts: list[subprocess.Popen[str]] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)

    def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("jupyter server exited:\n" + self.log_path.read_text())
            try:
                if self.request("api/status")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("jupyter server did not start:\n" + self.log_path.read_text())
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        """Stop the server and start it again on the same port, token and directories."""
        self.stop()
        self.start()

    def start(self) -> None:
        """Start the (stopped) server again on the same port, token and directories."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.wait_started()

    @property
    def ws_root(self) -> str:
        return "ws" + self.root[len("http"):]

    def request(self, path: str, *, auth: bool = True, method: str = "GET",
                body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) without following redirects."""
        headers = {"Authorization": f"token {self.token}"} if auth else {}
        req = urllib.request.Request(self.root + path, data=body, method=method, headers=headers)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            data = err.read()
            err.close()
            return err.code, dict(err.headers), data

    def pools(self, finished: bool = False) -> list[dict[str, Any]]:
        status, _, body = self.request("taskscope/api/pools" + ("?finished=1" if finished else ""))
        assert status == 200, body
        return json.loads(body)  # type: ignore[no-any-return]

    def wait_for(self, predicate: Any, timeout: float = 15.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def start_script(self, name: str, n: int, go_file: Path, script: str = "_pool_script.py"
                     ) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / script), name, str(n), str(go_file)],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=str(HERE))
        self.scripts.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY "), (line, proc.stderr.read() if proc.stderr else "")
        return proc, line.split()[1]


def _run_server(tmp: Path) -> Iterator[Server]:
    dirs = {name: tmp / name for name in ("config", "data", "runtime", "root", "settings",
                                          "workspaces")}
    for d in dirs.values():
        d.mkdir(mode=0o700)
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
               JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
               JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
               JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1")
    port, token = _free_port(), secrets.token_hex(16)
    log_path = tmp / "server.log"
    argv = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={BASE_URL}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={dirs['root']}", "--ServerApp.log_level=DEBUG"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    srv = Server(root=f"http://127.0.0.1:{port}{BASE_URL}", token=token, env=env,
                 runtime_dir=dirs["runtime"], log_path=log_path, proc=proc, argv=argv)
    try:
        srv.wait_started()
        yield srv
    finally:
        for script in srv.scripts:
            if script.poll() is None:
                script.kill()
            script.communicate(timeout=10)
        srv.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _run_server(tmp_path_factory.mktemp("jupyter"))


@pytest.fixture()
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the test's own (function scope), for tests that restart it."""
    yield from _run_server(tmp_path_factory.mktemp("jupyter-own"))


# ------------------------------------------------------------------------------ websocket
@dataclass
class Frames:
    """What a websocket delivered, decoded as js/src/page.js decodes it."""

    states: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stream_records: int = 0
    resource_records: int = 0
    resets: int = 0
    close_code: int | None = None

    @property
    def last(self) -> dict[str, Any]:
        return self.states[-1]


async def _collect(url: str, headers: dict[str, str], until: Any, timeout: float,
                   on_open: Any = None) -> Frames:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    frames = Frames()
    conn = await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=10))
    try:
        if on_open is not None:
            on_open()
        conn.write_message(json.dumps({"type": "request_full"}))
        pending: dict[str, Any] | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(conn.read_message(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if msg is None:
                frames.close_code = conn.close_code
                break
            if isinstance(msg, bytes):
                assert pending is not None, "a binary frame without its header"
                width = 6 if pending["type"] == "stream" else 5
                assert len(msg) == 8 * width * pending["n"]
                if pending["type"] == "stream":
                    frames.stream_records += pending["n"]
                else:
                    frames.resource_records += pending["n"]
                pending = None
                if until(frames):
                    break
                continue
            obj = json.loads(msg)
            if obj["type"] == "state":
                frames.states.append(obj["state"])
                if until(frames):
                    break
            elif obj["type"] in ("stream", "resources"):
                frames.resets += bool(obj["reset"])
                if obj["n"]:
                    pending = obj
                    continue  # judged once its records are in
                if until(frames):
                    break
            elif obj["type"] == "error":
                frames.errors.append(obj["message"])
    finally:
        conn.close()
        try:  # let the closing handshake finish, so the socket is closed before the loop ends
            while await asyncio.wait_for(conn.read_message(), 2) is not None:
                pass
        except asyncio.TimeoutError:
            pass
    return frames


def ws_collect(server: Server, pool_id: str, until: Any = lambda f: False, timeout: float = 10.0,
               auth: bool = True, on_open: Any = None) -> Frames:
    url = f"{server.ws_root}taskscope/api/pools/{pool_id}/ws"
    headers = {"Authorization": f"token {server.token}"} if auth else {}
    return asyncio.run(_collect(url, headers, until, timeout, on_open))
