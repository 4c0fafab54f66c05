"""Serving a notebook app (marimo, Voila) for one browser test: a process on a free
loopback port, its pools registered in a private runtime dir, stopped with its kernel."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def number(text: str) -> int:
    """A count as the dashboard prints it ("1 000", with a narrow no-break space)."""
    return int(re.sub(r"\D", "", text))


@contextmanager
def serve(cmd: list[str], ready_url: str, tmp: Path, name: str) -> Iterator[None]:
    """Run `cmd` in `tmp` until `ready_url` answers (any HTTP status); stop it afterwards."""
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp / "config")}
    log_path = tmp / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        t0 = time.monotonic()
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{log_path.read_text()}")
                try:
                    with urllib.request.urlopen(ready_url, timeout=2):
                        break
                except urllib.error.HTTPError:
                    break  # it answers: the server is up
                except OSError:
                    pass
                if time.monotonic() - t0 > START_TIMEOUT_S:
                    raise TimeoutError(f"{name} not ready in {START_TIMEOUT_S} s")
                time.sleep(0.25)
            yield
        finally:
            proc.terminate()  # ends the notebook's kernel, and with it the pool's workers
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
