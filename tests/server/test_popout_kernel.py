"""`%taskscope popout` and the widget's popout_url, in a real IPython kernel beside the server."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import Server

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def _run(kc: Any, code: str) -> list[dict[str, Any]]:
    msg_id = kc.execute(code)
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status" and content["execution_state"] == "idle":
            break
        if kind == "error":
            raise AssertionError("\n".join(content["traceback"]))
        if kind in ("stream", "execute_result", "display_data"):
            outputs.append(content)
    return outputs


def test_popout_from_a_notebook_kernel(server: Server) -> None:
    from jupyter_client.manager import KernelManager

    kernel_id = str(uuid.uuid4())
    km = KernelManager(connection_file=str(server.runtime_dir / f"kernel-{kernel_id}.json"))
    km.start_kernel(env=server.env, cwd=str(server.runtime_dir.parent / "root"))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        _run(kc, "%load_ext taskscope\nimport taskscope\np = taskscope.Pool(1, name='nb-pool')")
        pool_id = _run(kc, "print(p.id)")[0]["text"].strip()
        expected = f"/user/tester/taskscope/pools/{pool_id}"
        out = _run(kc, "%taskscope popout")
        text = out[-1]["data"]["text/plain"]
        assert expected in text
        assert "application/vnd.jupyter.widget-view+json" in out[-1]["data"]
        url = _run(kc, "print(p.dashboard().popout_url)")[0]["text"].strip()
        assert url == expected

        entry = server.wait_for(
            lambda: next((p for p in server.pools() if p["id"] == pool_id), None),
            what="the kernel's pool in the list")
        assert entry["origin"] == "notebook"
        assert entry["kernel_id"] == kernel_id
        assert server.request(expected.removeprefix("/user/tester/"))[0] == 200
        _run(kc, "p.shutdown()")
        server.wait_for(lambda: all(p["id"] != pool_id for p in server.pools()),
                        what="the pool to leave the list")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
