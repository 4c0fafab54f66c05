"""The notebook's interrupt button and a dying kernel, through a real IPython kernel
(jupyter_client): an interrupt during a long `map` cell ends the cell with KeyboardInterrupt
within a second, stops the workers running it, and the next cell's `map` works; a kernel
killed while a map runs leaves no worker behind (each exits within two seconds)."""
from __future__ import annotations

import json
import os
import queue
import signal
import time
from typing import Any

import psutil
import pytest

jupyter_client = pytest.importorskip("jupyter_client")

pytestmark = pytest.mark.kernel

SETUP = """
import json, time
from taskscope import Pool
def slow(x):
    time.sleep(x)
    return x
pool = Pool(2)
pool.map(abs, range(4))
import os
print(json.dumps({"kernel": os.getpid(), "workers": [w.pid for w in pool._driver.workers.values()]}))
"""


def _reply(kc: Any, msg_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg  # type: ignore[no-any-return]


def _stdout(kc: Any, msg_id: str, timeout: float = 30) -> str:
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return "".join(out)


def test_interrupt_button_then_next_cell_then_kernel_death(wait_gone: Any) -> None:
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        msg_id = kc.execute(SETUP)
        info = json.loads(_stdout(kc, msg_id).strip().splitlines()[-1])
        first = [psutil.Process(p) for p in info["workers"]]
        assert _reply(kc, msg_id, 30)["content"]["status"] == "ok"

        # the interrupt button during a long map
        msg_id = kc.execute("pool.map(slow, [30] * 8, chunksize=1)")
        time.sleep(1.5)
        pressed = time.monotonic()
        km.interrupt_kernel()
        reply = _reply(kc, msg_id, 10)
        latency = time.monotonic() - pressed
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        # Typically ~0.3 s; the bound leaves room for a busy 2-core machine, not for a hang.
        assert latency < 2.0, f"the cell ended {latency:.2f} s after the interrupt"
        assert not wait_gone(first, 2), "the interrupted map's workers still run"

        # the next cell works; the pool said it was interrupted
        msg_id = kc.execute("print(pool.status); print(pool.map(abs, range(-3, 3))); "
                            "print(json.dumps([w.pid for w in pool._driver.workers.values()]))")
        out = _stdout(kc, msg_id).strip().splitlines()
        assert out[0] == "interrupted" and out[1] == "[3, 2, 1, 0, 1, 2]", out
        second = [psutil.Process(p) for p in json.loads(out[2])]

        # the kernel dies (SIGKILL) while a map runs: its workers go on their own
        kc.execute("pool.map(slow, [30] * 8, chunksize=1)")
        time.sleep(1.0)
        killed = time.monotonic()
        os.kill(info["kernel"], signal.SIGKILL)  # what the OOM killer or a crash does
        alive = wait_gone(second, 5)
        took = time.monotonic() - killed
        assert not alive and took < 2.0, f"workers outlived the kernel by {took:.2f} s"
        print(f"\ninterrupt -> KeyboardInterrupt in {latency * 1000:.0f} ms; "
              f"workers gone {took:.2f} s after the kernel was killed")
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)
        km.cleanup_resources()
