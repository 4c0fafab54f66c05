/**
 * The anywidget module of the dashboard. In a kernel it is delivered by the
 * code carrier (carrier.js, registered page-wide; `Dashboard._esm` is only
 * loader.js, which delegates here); it is also built on its own as
 * kernel_ext/static/widget.js. The per-call progress bar has its own, much
 * smaller module: progress-widget.js (`CallProgress`).
 *
 * One Store per model, fed by the `state` trait and by custom messages
 * carrying the stream/resources deltas of docs/state.md:
 *
 *   model "state" ──setState──▶ Store ──▶ dashboard / compact progress (render)
 *   msg:custom {type: calls, reset, oldest, calls} ──merged into the state──┤
 *   msg:custom {type: stream|resources, reset, first} + [buffer] ──applyMessage──┘
 *   Store.onGap ──▶ model.send({type: "request_full"})
 *
 * Read from the kernel: state (dict; its `calls` are the running calls),
 * {"type": "calls"} messages (finished calls, each once, merged into
 * `state.calls`), errors (list, merged as `state.errors`: kept apart so that
 * finished calls and tracebacks are not resent with every progress update),
 * call_info (a bar's fixed fields), panes (list; empty = all), call
 * (int|null: per-call compact progress), popout_url (str), frozen (bool,
 * two-way).
 */
import { cancelCall, poolApiUrl } from "./control.js";
import { mountDashboard } from "./dashboard.js";
import { relaySnapshot } from "./saved-link.js";
import { attachStore, storeForRender } from "./widget-host.js";

export { storeFor } from "./widget-host.js";

/** @typedef {import("./widget-host.js").AnyModel} AnyModel */

export default {
  /** @param {{model: AnyModel}} ctx */
  initialize({ model }) {
    const { dispose } = attachStore(model);
    // The ring buffers are not part of the synced state: ask for them (a
    // one-call progress bar draws no ring, and the kernel sends it none).
    if (model.get("call") == null) {
      try {
        model.send({ type: "request_full" });
      } catch {
        /* not connected yet: the first delta's gap will trigger it */
      }
    }
    return dispose;
  },

  /** @param {{model: AnyModel, el: HTMLElement}} ctx */
  render({ model, el }) {
    const { store, ownDispose } = storeForRender(model, {}, model.get("call") == null);
    const theStore = store;
    const call = model.get("call");
    const dash = mountDashboard(el, theStore, {
      panes: model.get("panes") ?? [],
      call: call == null ? null : Number(call),
      popoutUrl: model.get("popout_url") || null,
      onPanesChange: (panes) => {
        model.set("panes", panes);
        model.save_changes();
      },
      onFreezeChange: (v) => {
        model.set("frozen", v);
        model.save_changes();
      },
      // While the cell runs, the kernel does not read this widget's messages: cancelling
      // goes through the Jupyter server that serves the pop-out page.
      onCancel: model.get("popout_url")
        ? (call) => cancelCall(poolApiUrl(model.get("popout_url")), call)
        : null,
    });
    const onPanes = () => dash.setPanes(model.get("panes") ?? []);
    const onPopout = () => dash.setPopoutUrl(model.get("popout_url") || null);
    model.on("change:panes", onPanes);
    model.on("change:popout_url", onPopout);
    const unrelay = relaySnapshot(model, el);
    return () => {
      unrelay();
      model.off("change:panes", onPanes);
      model.off("change:popout_url", onPopout);
      dash.destroy();
      ownDispose?.();
    };
  },
};
