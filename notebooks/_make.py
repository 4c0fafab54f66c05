"""Write the example notebooks of this folder, with outputs cleared.

    python notebooks/_make.py            # rewrites quickstart.ipynb, failing-tasks.ipynb,
                                         # scheduler-graph.ipynb and dask-cluster.ipynb

The notebooks are generated so that they stay reproducible and reviewable: edit the cells
here, not in Jupyter. Each one runs top to bottom in well under 20 s on 2 cores; the
browser tests (tests/browser/) execute them in JupyterLab 4 and Notebook 7.

A cell tagged ``raises-exception`` is meant to end in an exception: JupyterLab, Notebook 7
and nbclient then carry on with the next cell instead of stopping "Run All" there.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def md(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str, *tags: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


QUICKSTART = [
    md("""
# taskscope quick start

taskscope is a process pool for parallel work from a notebook whose workers you can watch,
**live, inside the notebook**: progress bars, a task stream, memory per worker and the
tracebacks of failed tasks travel over the kernel's own connection, so there is no extra
port to open or forward.

This notebook takes a few seconds to run (*Run → Run All Cells*).
"""),
    md("""
## 1. Load the extension and start a pool

`%load_ext taskscope` adds the `%taskscope` magic and a progress bar under every cell that
runs a `map`. `Pool(2)` starts two worker processes; leave the number out to get one
per CPU.
"""),
    code("""
%load_ext taskscope
import time
from taskscope import Pool

pool = Pool(2, name="quickstart")
pool
"""),
    md("""
## 2. A `map` with a live progress bar

`pool.map(fn, items)` is `[fn(x) for x in items]`, run in parallel and returned in order.
While it runs, the bar below the cell shows items done, rate and time left; it stays in the
notebook with the final counts. Functions defined in the notebook (even lambdas) work:
they are sent to the workers with cloudpickle.
"""),
    code("""
def slow_square(x):
    time.sleep(0.002)  # pretend to work
    return x * x

results = pool.map(slow_square, range(2000))
sum(results)
"""),
    md("""
## 3. The dashboard

`pool.dashboard()` is the pool's whole story: every call's progress, the **task stream**
(one bar per chunk of work, per worker, coloured by function), **memory** per worker,
worker insights, errors and resource use. It keeps updating while later cells run, and
`%taskscope` shows the same thing for the most recent pool.
"""),
    code("""
display(pool.dashboard())
"""),
    md("""
## 4. More work: it shows up above

Futures from `pool.submit` and a second `map` appear in the dashboard as new calls, with
their own colour in the task stream.
"""),
    code("""
import math

futures = [pool.submit(math.factorial, n) for n in range(200, 400)]
digits = len(str(futures[-1].result()))

cubes = pool.map(lambda x: x ** 3, range(500))
digits, cubes[-1]
"""),
    md("""
## 5. When a task fails

The failing item's exception is raised in the cell with the worker's traceback chained as
its cause, and the pool remembers it in `pool.errors` (the dashboard's *Errors* pane shows
it too). The notebook `failing-tasks.ipynb` walks through this in detail.
"""),
    code("""
def flaky(x):
    if x == 13:
        raise ValueError(f"unlucky {x}")
    return x

try:
    pool.map(flaky, range(50))
except ValueError as exc:
    print("caught:", exc)
pool.errors
"""),
    md("""
## 6. Shut the pool down

Leave a pool with `pool.shutdown()` (or use `with Pool() as pool:`). The dashboard then
shows the pool as closed; saved notebooks keep a static picture of the final state.
"""),
    code("""
pool.shutdown()
pool
"""),
]


FAILING_TASKS = [
    md("""
# When tasks fail

A walk-through of what taskscope does when work goes wrong:

1. a `map` where some items raise: the exception in the cell, with the **worker's traceback**;
2. `pool.errors`: the failures kept for later, and `rerun()` to reproduce one **locally**
   (where `%debug` can inspect it);
3. the dashboard's **Errors** pane;
4. a worker process that **dies** in the middle of a task: `WorkerDiedError`, and the pool
   carries on with a fresh worker.

Runs in a few seconds (*Run → Run All Cells*).
"""),
    code("""
%load_ext taskscope
import os
import time
from taskscope import Pool, WorkerDiedError

pool = Pool(2, name="failing-tasks")
display(pool.dashboard())
"""),
    md("""
The dashboard above is live: it updates while the cells below run. Scroll back up to
see the task stream (failed chunks are marked) and the *Errors* pane fill in.

## 1. Some items raise

`parse` fails on every seventh item. `pool.map` lets the items that are already running
finish, cancels the queued ones, and raises the **first failing item's** exception, so the
cell fails just as a plain list comprehension would. The exception's `__cause__` is the
traceback from the worker process, so both sides show in the cell: *"The above exception
was the direct cause of the following exception"*.

(This cell is tagged `raises-exception`, so *Run All* carries on past it.)
"""),
    code("""
def parse(x):
    time.sleep(0.001)
    if x % 7 == 3:
        raise ValueError(f"cannot parse item {x}")
    return x * 10

pool.map(parse, range(200))
""", "raises-exception"),
    md("""
The same failure, caught: the worker's traceback text is the exception's `__cause__`.
"""),
    code("""
try:
    pool.map(parse, range(200))
except ValueError as exc:
    print("caught:", repr(exc))
    print("cause: ", type(exc.__cause__).__name__)
    print(exc.__cause__)
"""),
    md("""
## 2. `pool.errors` and `rerun()`

Every failed item is kept (the newest 100) as a `FailedTask`: the function, the item's
index, the exception and the worker's traceback. `rerun()` calls the function again **in
this process** on the same input, so the error happens here, where `%debug` (or
`pdb.pm()`) can step into it.
"""),
    code("""
pool.errors
"""),
    code("""
failure = pool.errors[-1]
print(failure.fn_name, "item", failure.index)
print(failure.traceback)
try:
    failure.rerun()
except ValueError as exc:
    print("re-raised locally:", exc)
"""),
    md("""
## 3. The Errors pane

`%taskscope --panes errors` shows only the errors pane of the dashboard: one card per
failure, with the exception, the failing argument, the worker and its pid. Open
*Traceback* on a card to read (or copy) the worker's traceback.
"""),
    code("""
%taskscope --panes errors
"""),
    md("""
## 4. A worker dies

A task that kills its own process (here with `SIGKILL`, as the out-of-memory killer would)
does not break the pool: the task that was running fails with `WorkerDiedError` (a
`BrokenProcessPool`, so stdlib-style handlers catch it too), the pool starts a new worker,
and the next call just works.
"""),
    code("""
def fragile(x):
    if x == 5:
        os.kill(os.getpid(), 9)  # the worker dies, mid-task
    time.sleep(0.01)
    return x

try:
    pool.map(fragile, range(20))
except WorkerDiedError as exc:
    print("WorkerDiedError:", exc)
    print("worker", exc.worker, "pid", exc.pid, "signal", exc.signal)
"""),
    code("""
# The pool keeps working, with a replacement worker:
squares = pool.map(lambda x: x * x, range(300))
print(sum(squares), pool)
"""),
    md("""
## Clean up
"""),
    code("""
pool.shutdown()
"""),
]


SCHEDULER_GRAPH = [
    md("""
# Task graphs: futures that depend on futures

`pool.submit` is a small task scheduler: pass a Future (or a list, tuple or dict holding
Futures) as an argument and the task waits for it, then receives its **value**. Results stay
in the memory of the worker that computed them until someone needs them, and are freed when
no Future and no pending task refers to them, as in dask.distributed.

Runs in a few seconds (*Run → Run All Cells*).
"""),
    code("""
%load_ext taskscope
import gc
from taskscope import Pool

pool = Pool(2, name="scheduler-graph")

def inc(x):
    return x + 1

def add(a, b):
    return a + b

%taskscope
"""),
    md("""
## 1. A diamond

`b` and `c` both need `a`; `d` needs both. Every Future has a **key** (a name you can give
with `key=`); `pool.get_future(key)` finds it again while something refers to it.
"""),
    md("""
The **task graph** pane draws the submitted tasks as they run: inputs on top, nodes coloured
by state; click one for its function, argument, worker, duration and error.
"""),
    code("""
pool.dashboard(panes=["graph"])
"""),
    code("""
a = pool.submit(inc, 1, key="a")
b = pool.submit(inc, a, key="b")
c = pool.submit(add, a, 10, key="c")
d = pool.submit(add, b, c, key="d")
print(d.result(), [f.key for f in (a, b, c, d)], pool.get_future("c") is c)
"""),
    md("""
## 2. A tree reduction

1,024 leaves added pairwise: 2,047 tasks, each placed on the worker that already holds most
of its inputs. The dashboard above counts them by state (waiting, queued, processing,
memory, released) in the `add` and `inc` rows.
"""),
    code("""
level = [pool.submit(inc, i) for i in range(1024)]
while len(level) > 1:
    level = [pool.submit(add, level[i], level[i + 1]) for i in range(0, len(level), 2)]
total = level[0]
total.result(), sum(range(1, 1025))
"""),
    md("""
Futures can also sit inside containers: `pool.submit(sum, [pool.submit(inc, i) for i in
range(100)])` waits for all hundred.
"""),
    code("""
pool.submit(sum, [pool.submit(inc, i) for i in range(100)]).result()
"""),
    md("""
## 3. Release

A result lives on its worker ("managed" memory in the memory pane) while its Future does.
Dropping the Future frees it there.
"""),
    code("""
import time

big = pool.submit(bytes, 20_000_000)  # 20 MB kept on a worker
big.result(timeout=30) and None
held = {w.id: w.managed for w in pool._driver.workers.values()}
del big
gc.collect()
time.sleep(1.0)  # the release reaches the worker with the driver's next round
after = {w.id: w.managed for w in pool._driver.workers.values()}
print("managed bytes per worker, held:", held, "after release:", after)
"""),
    md("""
## Clean up
"""),
    code("""
pool.shutdown()
"""),
]

DASK_CLUSTER = [
    md("""
# A Dask cluster in taskscope's panes

`taskscope.dashboard(client)` shows a `distributed.Client`'s cluster (a LocalCluster here;
a remote scheduler works the same) in the panes taskscope shows for its own pool:
progress per task prefix, the task stream per worker thread (transfers in red), memory per
worker (managed, unmanaged, spilled, the limit), the workers, and errors with their
tracebacks. Everything travels over the Client's own connection to the scheduler and the
kernel's comm: no dashboard port (8787) to open or forward.
"""),
    code("""
import time
import taskscope
from distributed import Client, LocalCluster

# Loopback only (dashboard_address=None would still open port 8787).
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       host="127.0.0.1", dashboard_address="127.0.0.1:0")
client = Client(cluster)
display(taskscope.dashboard(client, name="local dask"))
"""),
    md("""
## Work: a map, a small graph with transfers, and a failure

Each task prefix (`slow_inc`, `pair`, `total`, `fragile`) is one row of the progress pane.
The sums are pinned to the other worker, so their inputs travel: red bars in the task stream.
"""),
    code("""
def slow_inc(x):
    time.sleep(0.01)
    return x + 1

futures = client.map(slow_inc, range(400))
a, b = sorted(client.scheduler_info()["workers"])
leaves = [client.submit(slow_inc, i, key=f"leaf-{i}", workers=[a]) for i in range(16)]
pairs = [client.submit(sum, leaves[i:i + 2], key=f"pair-{i}", workers=[b]) for i in range(0, 16, 2)]
total = client.submit(sum, pairs, key="total")
print(total.result(), sum(client.gather(futures)))
"""),
    code("""
def fragile(x):
    if x == 7:
        raise ValueError(f"cannot handle {x}")
    return x

parts = client.map(fragile, range(20), key=[f"fragile-{i}" for i in range(20)])
after = [client.submit(slow_inc, p, key=f"after-{i}") for i, p in enumerate(parts)]
ok = client.gather(after, errors="skip")
print(len(ok), "of 20 dependents finished; one blames fragile-7")
"""),
    md("""
`%taskscope` (with `%load_ext taskscope`) shows the most recent pool or watched cluster;
`%taskscope popout` opens the same view as a page of this Jupyter server. The JupyterLab
sidebar lists the cluster too ("dask", with its scheduler's address).
"""),
    code("""
%load_ext taskscope
%taskscope popout
"""),
]

JOBLIB_SKLEARN = [
    md("""
# scikit-learn and joblib on taskscope

`parallel_config(backend="taskscope")` runs joblib's work -- scikit-learn's `n_jobs`,
`GridSearchCV`, `cross_val_score`, forests -- on a taskscope pool. Each `Parallel` call is
one call in the dashboard, named by the function it runs (`_fit_and_score` for a search),
with the line of this notebook that started it. The results are the same as with loky.
"""),
    code("""
%load_ext taskscope
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.svm import SVC
from taskscope import Pool

X, y = load_digits(return_X_y=True)   # ships with scikit-learn: no download
X, y = X[:600], y[:600]
pool = Pool(2, name="sklearn")
pool.dashboard()
"""),
    md("""
## A grid search: 4 candidates x 3 folds = 12 fits, one `Parallel` call
"""),
    code("""
with parallel_config(backend="taskscope", pool=pool):
    search = GridSearchCV(SVC(), {"C": [1, 10], "gamma": [0.001, 0.01]}, cv=3, n_jobs=-1)
    search.fit(X, y)
print("best", search.best_params_, round(search.best_score_, 4))
"""),
    md("""
## Cross-validating a forest: the folds on the pool, the trees inside each worker
"""),
    code("""
with parallel_config(backend="taskscope", pool=pool):
    scores = cross_val_score(RandomForestClassifier(n_estimators=20, random_state=0, n_jobs=-1),
                             X, y, cv=4)
print("scores", scores.round(3))
"""),
]

NOTEBOOKS = {"quickstart.ipynb": QUICKSTART, "failing-tasks.ipynb": FAILING_TASKS,
             "scheduler-graph.ipynb": SCHEDULER_GRAPH, "dask-cluster.ipynb": DASK_CLUSTER,
             "joblib-sklearn.ipynb": JOBLIB_SKLEARN}


def build(cells: list[nbformat.NotebookNode], name: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(cells):
        # Stable cell ids: regenerating gives the same file (reviewable diffs).
        cell["id"] = hashlib.sha1(f"{name}:{i}".encode()).hexdigest()[:8]
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells, name), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
