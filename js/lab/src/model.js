/**
 * Pure helpers of the sidebar (no JupyterLab imports: unit-tested with node --test).
 */

/** [pane name of handlers.PANES ("" = the full dashboard), button label]. */
export const PANES = [
  ["progress", "progress"],
  ["task-stream", "task stream"],
  ["memory", "memory"],
  ["workers", "workers"],
  ["errors", "errors"],
  ["resources", "resources"],
  ["graph", "task graph"],
  ["profile", "profile"],
  ["", "dashboard"],
];

/** Whether the sidebar offers a pane's button for this pool: the profile only where the
 * pool samples its workers (Pool(profile=True)); it would be empty elsewhere. */
export function offersPane(pool, pane) {
  return pane !== "profile" || Boolean(pool?.profile);
}

const LABELS = new Map(PANES);

/** "task-stream" -> "task stream"; "" -> "dashboard". */
export function paneLabel(pane) {
  return LABELS.get(pane ?? "") ?? String(pane);
}

function basename(path) {
  const parts = String(path).split("/");
  return parts[parts.length - 1] || String(path);
}

/**
 * Where a pool runs: the notebook's path when JupyterLab knows its kernel,
 * else "notebook" / "script" with the pid; a watched Dask cluster by its
 * scheduler's address (and the notebook watching it).
 * @param {{origin?: string, kernel_id?: string|null, pid?: number, scheduler?: string}} pool
 * @param {Map<string, string>} sessionPaths kernel id -> notebook path
 */
export function describeOrigin(pool, sessionPaths = new Map()) {
  const pid = pool.pid ? `pid ${pool.pid}` : "";
  if (pool.origin === "dask") {
    const addr = String(pool.scheduler ?? "").replace(/^[a-z]+:\/\//, "");
    const path = pool.kernel_id ? sessionPaths.get(pool.kernel_id) : undefined;
    return { text: `dask · ${addr || "?"}`, title: `Dask cluster at ${pool.scheduler ?? "?"}, watched from ${path ?? pid}` };
  }
  if (pool.origin === "notebook") {
    const path = pool.kernel_id ? sessionPaths.get(pool.kernel_id) : undefined;
    if (path) return { text: `notebook · ${basename(path)}`, title: `${path} (kernel ${pool.kernel_id}, ${pid})` };
    return { text: `notebook${pid ? ` · ${pid}` : ""}`, title: `a kernel not opened in this JupyterLab (${pid})` };
  }
  return { text: `script${pid ? ` · ${pid}` : ""}`, title: `a Python process outside Jupyter (${pid})` };
}

/**
 * Progress of the running calls (else of everything the pool ran).
 * @returns {{fraction: number|null, text: string}}
 */
export function poolProgress(pool) {
  const p = pool.progress ?? {};
  if (p.calls_running > 0) {
    const done = p.running_done ?? 0;
    const total = p.running_total;
    if (total) return { fraction: Math.min(1, done / total), text: `${done} / ${total}` };
    return { fraction: null, text: `${done} done` };
  }
  const submitted = p.submitted ?? 0;
  if (submitted > 0) {
    const fin = p.finished ?? 0;
    const erred = p.erred ? ` · ${p.erred} erred` : "";
    return { fraction: Math.min(1, fin / submitted), text: `${fin} / ${submitted} done${erred}` };
  }
  return { fraction: null, text: "no tasks yet" };
}

/**
 * The output data to store for a relayed snapshot, or null when nothing changes.
 * @param {Record<string, any>} data the output's current data
 * @param {{html: string, final?: boolean}} snap
 */
export function dataForSnapshot(data, snap) {
  if (!snap || typeof snap.html !== "string" || !snap.html) return null;
  if (snap.final) {
    // Finished: the snapshot alone, no widget left for a saved notebook to miss.
    return { "text/html": snap.html, "text/plain": data["text/plain"] ?? "taskscope" };
  }
  if (data["text/html"] === snap.html) return null;
  return { ...data, "text/html": snap.html };
}
