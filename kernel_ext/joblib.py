"""``taskscope.joblib``: the joblib backend ``"taskscope"`` (registered on import).

>>> import joblib, taskscope.joblib                        # doctest: +SKIP
>>> with joblib.parallel_config(backend="taskscope", n_jobs=4):
...     GridSearchCV(SVC(), grid, n_jobs=-1).fit(X, y)     # each Parallel call: one dashboard row

``%load_ext taskscope`` registers it too when joblib is installed. See ``pool/joblib.py``.
"""
from __future__ import annotations

from taskscope.pool.joblib import BACKEND_NAME, TaskscopeBackend, get_pool, register

__all__ = ["BACKEND_NAME", "TaskscopeBackend", "get_pool", "register"]
