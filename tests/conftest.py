"""Rules that hold for every test suite (unit, integration, kernel, browser).

Child-process leaks
-------------------
A pool that leaves a worker behind, a kernel that outlives its test or a server that is never
stopped makes later tests slow, flaky or wrong on a 2-core machine, and hides real shutdown
bugs. The autouse fixture below fails any test after which a process it started is still
running::

    before test:  children(recursive)  = {A, B}        (pre-existing: never judged)
    after test:   children(recursive)  = {A, B, C, D}  -> wait up to LEAK_GRACE_S for C, D
    still alive:  C                    -> kill C (and its children), fail naming pid + cmdline

Fixture ordering makes this fair to shared fixtures: pytest sets up session- and
module-scoped fixtures before function-scoped ones, so a session-wide Jupyter server or
browser already exists when the "before" snapshot is taken, and function-scoped fixtures are
torn down before this (autouse, hence outermost) fixture checks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

LEAK_GRACE_S = 5.0  # pools and kernels get this long after a test to finish exiting
POLL_S = 0.05  # how often to look again while waiting; cheap (/proc reads)
KILL_WAIT_S = 3.0  # after SIGKILL, how long to wait before reporting anyway

# Helpers that Python's multiprocessing (and loky's copy of it) starts once per interpreter
# and keeps on purpose until the interpreter exits; not leaks of the test that started them.
INTERPRETER_LIFETIME_HELPERS = (
    "multiprocessing.resource_tracker",
    "multiprocessing.forkserver",
    "loky.backend.resource_tracker",
)

# A browser that already ran before the test starts and ends renderer/utility processes of
# its own accord (one per page, plus a warm spare), which is none of the test's doing.
BROWSER_NAMES = ("chrom", "headless_shell")


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) or f"[{proc.name()}]"
    except psutil.Error:
        return "<gone>"


def _is_alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited (a zombie waiting for its reaper counts as exited:
    it runs no code and holds no memory); returns those still running after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _is_alive(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.01)


@pytest.fixture(name="wait_gone")
def _wait_gone_fixture() -> Any:
    """`wait_gone(procs, timeout)` for tests that watch processes exit."""
    return wait_gone


def _exempt(proc: psutil.Process, before: set[psutil.Process]) -> bool:
    """True for processes a test is not answerable for (see the constants above)."""
    if any(helper in _cmdline(proc) for helper in INTERPRETER_LIFETIME_HELPERS):
        return True
    try:
        ancestors = proc.parents()
    except psutil.Error:
        return False
    for ancestor in ancestors:
        if ancestor in before:
            try:
                name = ancestor.name().lower()
            except psutil.Error:
                return False
            # Only the nearest pre-existing ancestor decides.
            return any(browser in name for browser in BROWSER_NAMES)
    return False


def _new_children(me: psutil.Process, before: set[psutil.Process]) -> list[psutil.Process]:
    try:
        now = me.children(recursive=True)
    except psutil.Error:
        return []
    return [p for p in now if p not in before and _is_alive(p) and not _exempt(p, before)]


def _kill_tree(procs: list[psutil.Process]) -> None:
    victims: list[psutil.Process] = []
    for proc in procs:
        try:
            victims.extend(proc.children(recursive=True))
        except psutil.Error:
            pass
        victims.append(proc)
    for proc in victims:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=KILL_WAIT_S)


@pytest.fixture(autouse=True)
def _fail_on_leaked_child_processes() -> Iterator[None]:
    """Fail the test if a child process it started is still alive LEAK_GRACE_S after it."""
    me = psutil.Process()
    before = set(me.children(recursive=True))  # psutil.Process hashes by (pid, start time)
    yield

    deadline = time.monotonic() + LEAK_GRACE_S
    leaked = _new_children(me, before)
    while leaked and time.monotonic() < deadline:
        time.sleep(POLL_S)
        leaked = _new_children(me, before)
    if not leaked:
        return

    described = [f"pid {p.pid}: {_cmdline(p)}" for p in leaked]  # before they are killed
    _kill_tree(leaked)
    pytest.fail(
        f"the test left {len(leaked)} child process(es) running {LEAK_GRACE_S:g} s after it "
        "ended (now killed); shut down pools, kernels and servers in the test or its "
        "fixtures:\n  " + "\n  ".join(described),
        pytrace=False,
    )


# ---------------------------------------------------------------- browser tests
CHROMIUM = os.environ.get("TASKSCOPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright hook: Debian's chromium, headless (Playwright's own browser
    download does not work here). A missing browser fails the tests, never skips them."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: run `bash scripts/setup.sh` (it installs "
                    "Debian's chromium), or set TASKSCOPE_CHROMIUM")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS,
            "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 1000}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: pytest-playwright keeps an event loop running in the main thread
    for the rest of the session, after which `asyncio.run` (the server tests' websocket
    clients) refuses to start."""
    # By the fixture too, so that a browser test missing its mark cannot break the others.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None
               or "page" in getattr(item, "fixturenames", ()))
