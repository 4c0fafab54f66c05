"""`Pool(cluster=...)`: from what the user passed to a running, synchronous Dask Client.

Accepted: a ``distributed.Client`` (used as is, never closed by the pool), a cluster object
such as ``LocalCluster`` (anything with a ``scheduler_address``), or a scheduler address
string such as ``"tcp://10.0.0.5:8786"`` (for both, the pool makes its own Client and closes
it at shutdown; the cluster itself always keeps running). Every refusal says what to do.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["MIN_DISTRIBUTED", "check_version", "import_distributed", "resolve_client"]

# The floor of the `taskscope[dask]` extra (distributed's plugin API was reworked in
# 2026.6.0; taskscope.dashboard(client) relies on it, and one floor serves both).
MIN_DISTRIBUTED = "2026.6.0"
INSTALL_HINT = "pip install 'taskscope[dask]'"
CONNECT_TIMEOUT_S = 10.0  # an address nobody answers at fails after this long


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def check_version(found: str, minimum: str = MIN_DISTRIBUTED) -> None:
    """Raise ImportError naming both versions and the fix when `found` is below `minimum`."""
    if _version_tuple(found) < _version_tuple(minimum):
        raise ImportError(
            f"taskscope: Pool(cluster=...) needs distributed >= {minimum}, but "
            f"distributed {found} is installed; upgrade it: pip install -U 'taskscope[dask]' "
            f"(or pip install -U 'distributed>={minimum}')")


def import_distributed() -> Any:
    """The `distributed` module, checked; a clear ImportError when missing or too old."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"taskscope: Pool(cluster=...) runs on Dask, which is not installed "
                          f"here ({exc}); install it: {INSTALL_HINT}") from exc
    check_version(getattr(distributed, "__version__", "0"))
    return distributed


def resolve_client(cluster: Any, connect_timeout: float = CONNECT_TIMEOUT_S) -> tuple[Any, bool]:
    """(a running synchronous Client, whether the pool made it and must close it)."""
    distributed = import_distributed()
    if isinstance(cluster, distributed.Client):
        _check_client(cluster)
        return cluster, False
    if isinstance(cluster, str):
        return _connect(distributed, cluster, connect_timeout, what=f"the address {cluster!r}"), True
    address = getattr(cluster, "scheduler_address", None)
    if address is None:
        raise TypeError(
            f"taskscope: cluster= takes a distributed.Client, a Dask cluster object (e.g. "
            f"LocalCluster()) or a scheduler address such as 'tcp://127.0.0.1:8786', not "
            f"{type(cluster).__name__}")
    status = str(getattr(cluster, "status", "running"))
    if "clos" in status or "fail" in status:
        raise RuntimeError(
            f"taskscope: the Dask cluster {cluster!r} given as cluster= is {status.split('.')[-1]}; "
            "start a new one (e.g. LocalCluster()) and pass it")
    return _connect(distributed, cluster, connect_timeout,
                    what=f"the cluster {type(cluster).__name__} at {address}"), True


def _connect(distributed: Any, target: Any, timeout: float, what: str) -> Any:
    try:
        client = distributed.Client(target, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"taskscope: no Dask scheduler answered at {what} within {timeout:g} s "
            f"({type(exc).__name__}: {exc}); check the address (a scheduler prints it when it "
            "starts, and cluster.scheduler_address gives it), or start one: `dask scheduler`, "
            "or pass a LocalCluster()") from exc
    _check_client(client)
    return client


def _check_client(client: Any) -> None:
    if getattr(client, "asynchronous", False):
        raise ValueError(
            "taskscope: the Dask Client given as cluster= is asynchronous; Pool(cluster=...) "
            "blocks as the local Pool does, so pass a synchronous Client: Client(cluster)")
    status = str(getattr(client, "status", ""))
    if status != "running":
        hint = ("it was closed; make a new one: Client(cluster) or Client(address)"
                if status in ("closed", "closing") else
                "it is not connected yet; wait for it (client.wait_for_workers(1)) or pass "
                "the cluster or its address instead")
        raise RuntimeError(f"taskscope: the Dask Client given as cluster= has status "
                           f"{status!r}: {hint}")
