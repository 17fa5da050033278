// The live event feed: the SSE stream `/api/v1/events/stream` with filters (camera, type,
// severity); polls `/events?since_id=` when the stream is not available.
import { get, getOptional, qs } from "./api.js";
import { clear, field, fmtDateTime, h } from "./dom.js";

const MAX_ROWS = 300;

export async function render(root) {
  const [cameras, types] = await Promise.all([get("/cameras"), getOptional("/events/types", [])]);
  const camera = h("select", { "aria-label": "Camera" }, h("option", { value: "", text: "all cameras" }), cameras.map((c) => h("option", { value: c.id, text: c.name })));
  const type = h("select", { "aria-label": "Event type" }, h("option", { value: "", text: "all types" }), (types || []).map((t) => h("option", { value: t.event_type, text: t.event_type })));
  const severity = h("select", { "aria-label": "Severity" }, ["", "info", "warning", "critical"].map((s) => h("option", { value: s, text: s || "any severity" })));
  const status = h("span", { class: "muted", "aria-live": "polite", "data-testid": "events-status" });
  const body = h("tbody", {});
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  let source = null;
  let poll = null;

  function row(e) {
    return h("tr", { class: `sev-${e.severity}`, "data-event-id": e.id },
      h("td", {}, h("time", { datetime: e.timestamp, text: fmtDateTime(e.timestamp) })),
      h("td", { text: e.camera_id ? names.get(e.camera_id) || e.camera_id : "system" }),
      h("td", { text: e.event_type }), h("td", { text: e.severity }),
      h("td", {}, h("code", { text: JSON.stringify(e.payload || {}).slice(0, 200) })));
  }
  function add(e) {
    body.prepend(row(e));
    while (body.children.length > MAX_ROWS) body.lastChild.remove();
  }

  function stop() {
    if (source) source.close();
    clearTimeout(poll);
    source = null;
  }

  async function start() {
    stop();
    clear(body);
    const filters = { camera_id: camera.value, event_type: type.value, severity: severity.value };
    const initial = await get(`/events${qs({ ...filters, limit: 50 })}`);
    for (const e of initial.slice().reverse()) add(e);
    let last = initial.length ? initial[0].id : 0;
    source = new EventSource(`/api/v1/events/stream${qs({ ...filters, since_id: last })}`, { withCredentials: true });
    let opened = false;
    source.onopen = () => { opened = true; status.textContent = "live"; };
    source.onmessage = (msg) => {
      const e = JSON.parse(msg.data);
      last = Math.max(last, e.id);
      add(e);
    };
    source.onerror = () => {
      if (!opened) {
        // No stream (older kernel or refused): fall back to polling forward.
        stop();
        status.textContent = "polling";
        const tick = async () => {
          try {
            const more = await get(`/events${qs({ ...filters, since_id: last, limit: 100 })}`);
            for (const e of more) { last = Math.max(last, e.id); add(e); }
          } catch { /* keep trying */ }
          poll = setTimeout(tick, 3000);
        };
        poll = setTimeout(tick, 3000);
      } else {
        status.textContent = "reconnecting…";
      }
    };
  }

  for (const el of [camera, type, severity]) el.addEventListener("change", start);
  root.append(
    h("div", { class: "toolbar" }, h("h1", { text: "Events" }),
      field("Camera", camera), field("Type", type), field("Severity", severity), status),
    h("table", { class: "table", "data-testid": "events-table" },
      h("thead", {}, h("tr", {}, ["Time", "Camera", "Type", "Severity", "Payload"].map((t) => h("th", { scope: "col", text: t })))),
      body));
  await start();
  return stop;
}
