"""conftest.py of the patched copy of joblib's test_parallel.py (see _joblib_suite_runner.py).

Registers the "taskscope" backend before the test module is imported, keeps only the test
cases parametrised with it, leaves out EXCLUDED (each with its reason), and writes a summary.
"""
from __future__ import annotations

import json
import os

import taskscope.joblib  # noqa: F401  (registers "taskscope" with joblib)
from taskscope.pool.joblib import TaskscopeBackend

_LOKY_PRIVATE = ("reads the private `_pool`/`_workers` attribute of loky's and "
                 "multiprocessing's backends (taskscope's pool is `backend.pool`)")

# Test ids ("name[params]") or names (all their taskscope cases) left out, with the reason.
# Every entry must match a collected test: a stale one fails the run.
EXCLUDED: dict[str, str] = {
    "test_error_capture": _LOKY_PRIVATE + " and checks that this pool object is replaced after "
                          "an error; taskscope keeps its pool and replaces only the workers it "
                          "killed",
    "test_auto_memmap_on_arrays_from_generator": "joblib's auto-memmapping of large arrays "
                          "is loky's and multiprocessing's; taskscope sends arrays as zero-copy "
                          "out-of-band buffers instead",
    "test_memmapping_leaks": "checks the temporary folder of joblib's memmapping, which "
                             "taskscope does not use (see above)",
    "test_backend_batch_statistics_reset": "reads AutoBatchingMixin's private batch statistics; "
                          "taskscope sizes batches from the workers' own timings (chunking.py)",
}


# The slow ones (a fresh interpreter each, or a loky/multiprocessing pool started inside the
# workers): ~2.5 of the ~4 minutes. Run with TASKSCOPE_FULL=1; without it they are counted as
# "deferred" in the summary, never as passed.
FULL_ONLY = (
    "test_parallel_with_interactively_defined_functions",
    "test_parallel_with_unpicklable_functions_in_args",
    "test_nested_loop",
    "test_backend_nesting_level",
    "test_initializer_context",
    "test_parallel_as_context_manager",
)
_FULL = os.environ.get("TASKSCOPE_FULL") == "1"


def _is_ours(item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(v == "taskscope" or isinstance(v, TaskscopeBackend) for v in params.values())


_results: dict[str, list[str]] = {"passed": [], "failed": [], "skipped": [], "excluded": [],
                                  "deferred": []}


def pytest_collection_modifyitems(config, items):
    used: set[str] = set()
    keep, drop = [], []
    for item in items:
        if not _is_ours(item):
            drop.append(item)
            continue
        name = item.name.split("[")[0]
        key = item.name if item.name in EXCLUDED else name if name in EXCLUDED else None
        if key is not None:
            used.add(key)
            _results["excluded"].append(item.name)
            drop.append(item)
        elif name in FULL_ONLY and not _FULL:
            _results["deferred"].append(item.name)
            drop.append(item)
        else:
            keep.append(item)
    stale = set(EXCLUDED) - used
    if stale:
        raise RuntimeError(f"EXCLUDED entries match no collected test: {sorted(stale)}")
    items[:] = keep
    config.hook.pytest_deselected(items=drop)


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        kind = {"passed": "passed", "failed": "failed", "skipped": "skipped"}[report.outcome]
        _results[kind].append(report.nodeid.split("::")[-1])


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("TASKSCOPE_JOBLIB_SUMMARY")
    if path:
        counts = {k: len(v) for k, v in _results.items()}
        with open(path, "w") as f:
            json.dump({"counts": counts, "failed": _results["failed"],
                       "skipped": _results["skipped"], "excluded": EXCLUDED}, f)
