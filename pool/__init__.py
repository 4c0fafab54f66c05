"""taskscope.pool: the process pool, its scheduler, workers and wire protocol (no Jupyter imports)."""
