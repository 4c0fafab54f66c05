/**
 * Controls that must act while a notebook cell is busy (the kernel reads widget
 * messages only between cells) go through the Jupyter server extension:
 *   POST {base}taskscope/api/pools/<id>/calls/<call>/cancel
 * with Jupyter's XSRF token from its `_xsrf` cookie, same-origin credentials.
 */

/** @param {string} name */
function cookie(name) {
  const m = document.cookie.match(new RegExp(`(?:^|;\\s*)${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : "";
}

/**
 * The pool's API URL from the page's websocket URL (…/api/pools/<id>/ws) or
 * from a pop-out page URL (…/taskscope/pools/<id>).
 * @param {string} url @param {string} [base]
 */
export function poolApiUrl(url, base = globalThis.location?.href ?? "http://localhost/") {
  const u = new URL(url, base);
  u.protocol = u.protocol === "wss:" ? "https:" : u.protocol === "ws:" ? "http:" : u.protocol;
  u.search = "";
  u.pathname = u.pathname.replace(/\/ws\/?$/, "").replace(/\/taskscope\/pools\//, "/taskscope/api/pools/");
  return u.toString().replace(/\/$/, "");
}

/**
 * Ask the server to cancel one call of a pool.
 * @param {string} apiUrl from poolApiUrl @param {number} call
 */
export async function cancelCall(apiUrl, call) {
  const xsrf = cookie("_xsrf");
  const resp = await fetch(`${apiUrl}/calls/${call}/cancel`, {
    method: "POST",
    credentials: "same-origin",
    headers: xsrf ? { "X-XSRFToken": xsrf } : {},
  });
  if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
  return resp.json();
}
