"""taskscope in marimo: the dashboard as a cell's output, and a progress bar under a map.

    marimo edit notebooks/marimo_dashboard.py      # or: marimo run notebooks/marimo_dashboard.py

marimo has no %load_ext: importing taskscope in a marimo notebook turns the bars on.
The browser test (tests/browser/test_marimo.py) runs this file with `marimo run`.
"""
import marimo

app = marimo.App()


@app.cell
def _():
    import taskscope

    pool = taskscope.Pool(2, name="marimo-demo")
    return (pool,)


@app.cell
def _(pool):
    # The live dashboard: a cell's output, updated while later cells run.
    pool.dashboard()


@app.cell
def _(pool):
    def slow_square(x):
        import time

        time.sleep(0.02)
        return x * x

    # Its progress bar appears above, in this cell's output, while the map runs.
    squares = pool.map(slow_square, range(400), chunksize=4)
    return (squares,)


@app.cell
def _(squares):
    sum(squares)


if __name__ == "__main__":
    app.run()
