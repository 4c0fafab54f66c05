"""Dask is optional: the core never imports it, and Pool(cluster=...) without it says how to
get it. Each check runs in a fresh interpreter (the test process has imported distributed)."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_the_core_does_not_import_distributed() -> None:
    proc = run("""
        import sys
        import taskscope, taskscope.pool
        from taskscope import Pool
        with Pool(1) as pool:
            assert pool.map(abs, [-1]) == [1]
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("distributed", "dask"))
        print(bad)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_pool_with_cluster_without_distributed_names_the_extra() -> None:
    # sys.modules[name] = None makes `import name` raise ImportError, as if not installed.
    proc = run("""
        import sys
        sys.modules["distributed"] = None
        from taskscope import Pool
        try:
            Pool(cluster="tcp://127.0.0.1:8786")
        except ImportError as exc:
            print(exc)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'taskscope[dask]'" in proc.stdout
    assert "Pool(cluster=...) runs on Dask, which is not installed" in proc.stdout
