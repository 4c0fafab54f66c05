"""scikit-learn on the "taskscope" joblib backend gives loky's results exactly, on datasets
scikit-learn ships (no download), and each of its Parallel calls is one dashboard call named
by the function it runs (``_fit_and_score``), with the user's line as its call site."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from joblib import parallel_config

pytest.importorskip("sklearn")
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.svm import SVC

import taskscope.joblib  # noqa: F401
from taskscope.pool import Pool, subscribe

HERE = os.path.abspath(__file__)
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]  # a fifth of it: about a second per search on 2 cores


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    """One taskscope pool and one loky executor for the module, both started (and made to
    import scikit-learn) before the first test, so neither counts as a test's leak and the
    workers' imports are paid once."""
    from joblib import Parallel, delayed
    from joblib.externals.loky import get_reusable_executor

    with Pool(2, name="sklearn-test") as p:
        for backend in ("loky", "taskscope"):
            with parallel_config(backend=backend, n_jobs=2, **({"pool": p} if backend != "loky" else {})):
                Parallel()(delayed(_import_sklearn)(i) for i in range(4))
        yield p
    get_reusable_executor().shutdown(wait=True)  # loky keeps its workers for 300 s otherwise


def _import_sklearn(_: int) -> None:
    import sklearn.ensemble
    import sklearn.model_selection
    import sklearn.svm  # noqa: F401


def _loky(fn: Any) -> Any:
    with parallel_config(backend="loky", n_jobs=2):
        return fn()


def _taskscope(pool: Pool, fn: Any) -> Any:
    with parallel_config(backend="taskscope", pool=pool):
        return fn()


def _calls(pool: Pool, run: Any) -> tuple[Any, list[dict[str, Any]], list[Any]]:
    """Run `run()` on the backend, and return its result, the calls it made and the events."""
    info = pool.connection_info()
    with subscribe(info["events"], info["key"]) as sub:
        sub.recv(timeout=5)
        out = _taskscope(pool, run)
        evs: list[Any] = []
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            got = sub.recv(timeout=0.5)
            evs.extend(got)
            started = {e.body["call"] for e in evs if e.kind == "call.started"}
            ended = {e.body["call"] for e in evs if e.kind == "call.ended"}
            if not got and started and started <= ended:
                break  # every call ended, and nothing more came for half a second
    return out, [e.body for e in evs if e.kind == "call.started"], evs


def test_grid_search_on_digits_matches_loky_and_shows_fit_and_score(pool: Pool, digits: Any) -> None:
    X, y = digits
    grid = {"C": [1, 10], "gamma": [0.001, 0.01]}

    def search() -> GridSearchCV:
        return GridSearchCV(SVC(), grid, cv=3, n_jobs=-1).fit(X, y)

    ref = _loky(search)
    got, calls, evs = _calls(pool, search)
    assert got.best_params_ == ref.best_params_
    np.testing.assert_array_equal(got.cv_results_["mean_test_score"],
                                  ref.cv_results_["mean_test_score"])
    assert [c["fn"] for c in calls] == ["_fit_and_score"], calls
    call = calls[0]
    assert call["module"] == "sklearn.model_selection._validation" and call["api"] == "joblib"
    # The user's line: the fit in this file, not scikit-learn's or joblib's frames.
    site = call["callsite"]
    assert site["file"] == HERE and "GridSearchCV(SVC(), grid" in site["code"], site
    ended = next(e.body for e in evs if e.kind == "call.ended")
    assert ended["status"] == "done" and ended["done"] == 4 * 3  # candidates x folds


def test_cross_val_score_on_iris_matches_loky(pool: Pool) -> None:
    X, y = load_iris(return_X_y=True)

    def scores() -> np.ndarray:
        return cross_val_score(LogisticRegression(max_iter=500), X, y, cv=5, n_jobs=2)

    ref = _loky(scores)
    got, calls, _ = _calls(pool, scores)
    np.testing.assert_array_equal(got, ref)
    assert [c["fn"] for c in calls] == ["_fit_and_score"]


def test_random_forest_n_jobs_matches_loky(pool: Pool) -> None:
    X, y = load_iris(return_X_y=True)

    def forest() -> tuple[np.ndarray, np.ndarray]:
        rf = RandomForestClassifier(n_estimators=30, random_state=0, n_jobs=2).fit(X, y)
        return rf.feature_importances_, rf.predict_proba(X)

    ref = _loky(forest)
    got, calls, _ = _calls(pool, forest)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    # fit's trees are built on the pool, and feature_importances_ asks each tree for its own
    # (`delayed(getattr)(tree, ...)`); predict_proba requires shared memory, which joblib
    # gives to threads in this process instead (so it is not a pool call).
    assert [c["fn"] for c in calls] == ["_parallel_build_trees", "getattr"], calls


def test_nested_search_over_a_parallel_forest(pool: Pool, digits: Any) -> None:
    """GridSearchCV(RF(n_jobs=-1), n_jobs=-1): the forests' own Parallel calls run inside the
    workers (sequentially here: one CPU's share each), not as a second layer of processes."""
    X, y = digits

    def search() -> GridSearchCV:
        rf = RandomForestClassifier(n_estimators=10, random_state=0, n_jobs=-1)
        return GridSearchCV(rf, {"max_depth": [4, 8]}, cv=2, n_jobs=-1).fit(X, y)

    ref = _loky(search)
    got, calls, _ = _calls(pool, search)
    np.testing.assert_array_equal(got.cv_results_["mean_test_score"],
                                  ref.cv_results_["mean_test_score"])
    # The search's call, then the refit's forest on the pool; the inner forests are no calls.
    assert [c["fn"] for c in calls] == ["_fit_and_score", "_parallel_build_trees"], calls
