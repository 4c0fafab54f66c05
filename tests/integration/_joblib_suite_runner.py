"""Run joblib's own ``joblib/test/test_parallel.py`` against the ``"taskscope"`` backend.

Started in a subprocess by ``test_joblib_suite.py`` (so nothing here reaches the pytest session
that runs taskscope's suite); also runnable by hand::

    .venv/bin/python tests/integration/_joblib_suite_runner.py [-k SUBSTRING] [-v]

What it does:

1. reads the test module that ships in joblib's wheel, where pip put it (never copied into this
   repository), and writes a patched copy into a private temporary directory as the top-level
   module ``test_parallel_taskscope``: ``"taskscope"`` joins the hard-coded ``PROCESS_BACKENDS``
   list (so the tests written for loky and multiprocessing run on taskscope too), and its one
   relative import becomes absolute. ``"taskscope"`` is registered before the module is
   imported (``_joblib_suite_conftest.py``), so ``ALL_VALID_BACKENDS`` and
   ``RETURN_GENERATOR_BACKENDS`` hold it as well, as a name and as an instance;
2. runs pytest on that copy with ``_joblib_suite_conftest.py`` as its conftest: only the test
   cases parametrised with the taskscope backend are kept, minus ``EXCLUDED`` there (tests of
   loky's or multiprocessing's internals, each with its reason);
3. prints a one-line JSON summary prefixed ``JOBLIB-SUMMARY``; exit status 0 only if every
   selected test passed (or skipped itself for a reason joblib gives, e.g. no dask).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULE = "test_parallel_taskscope"
PATCHES = (
    ('    PROCESS_BACKENDS = ["multiprocessing", "loky"]',
     '    PROCESS_BACKENDS = ["multiprocessing", "loky", "taskscope"]'),
    ("    from ._openmp_test_helper.parallel_sum import parallel_sum",
     "    from joblib.test._openmp_test_helper.parallel_sum import parallel_sum"),
)


def patched_source() -> str:
    import joblib.test

    path = Path(joblib.test.__file__).with_name("test_parallel.py")
    if not path.is_file():
        sys.exit(f"joblib's test module is missing at {path}: reinstall joblib from its wheel "
                 "(`bash scripts/setup.sh`)")
    text = path.read_text()
    for old, new in PATCHES:
        if old not in text:  # a joblib whose test file changed: say so, do not run blind
            sys.exit(f"joblib's test_parallel.py has no line {old.strip()!r}: update PATCHES in "
                     f"{__file__} for joblib {__import__('joblib').__version__}")
        text = text.replace(old, new)
    return text


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-k", default=None)
    parser.add_argument("-v", action="store_true")
    parser.add_argument("--durations", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=120, help="per test, seconds")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="taskscope-joblib-suite-"))
    try:
        (tmp / f"{MODULE}.py").write_text(patched_source())
        shutil.copy(HERE / "_joblib_suite_conftest.py", tmp / "conftest.py")
        # The tests that start a fresh interpreter (check_subprocess_call) name the backend
        # too: Python imports sitecustomize from the path at start-up, so it is known there.
        (tmp / "sitecustomize.py").write_text("import taskscope.joblib  # registers 'taskscope'\n")
        (tmp / "pytest.ini").write_text("[pytest]\nmarkers =\n    thread_unsafe: joblib's\n")
        summary = tmp / "summary.json"
        cmd = [sys.executable, "-m", "pytest", str(tmp / f"{MODULE}.py"), "-q", "-rfE",
               "-p", "no:cacheprovider", "--timeout", str(args.timeout)]
        if args.k:
            cmd += ["-k", args.k]
        if args.v:
            cmd.append("-v")
        if args.durations:
            cmd.append(f"--durations={args.durations}")
        env = dict(os.environ, TASKSCOPE_JOBLIB_SUMMARY=str(summary),
                   PYTHONPATH=os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")]))
        code = subprocess.call(cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL)
        data = json.loads(summary.read_text()) if summary.exists() else {"error": "no summary"}
        data["exit_status"] = code
        print("JOBLIB-SUMMARY " + json.dumps(data), flush=True)
        return code
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
