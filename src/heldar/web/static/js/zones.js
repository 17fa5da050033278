// The zones editor: polygons and lines drawn on the camera's current frame in normalized
// coordinates (0..1, y down), with labels, dwell and direction; live occupancy and zone events.
// Viewers and guards see the zones but no edit controls.
import { del, errorText, get, getOptional, patch, post, qs } from "./api.js";
import { clear, field, fmtDateTime, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

export async function render(root, ctx, params) {
  const cameraId = params[0];
  const id = encodeURIComponent(cameraId);
  const camera = await get(`/cameras/${id}`);
  const canEdit = ctx.can("zones:manage");
  let zones = [];
  let draft = [];
  let selected = null;
  let stopped = false;

  const frame = h("img", { class: "frame", alt: `Current picture of ${camera.name}` });
  const overlay = svg("svg", { viewBox: "0 0 1 1", preserveAspectRatio: "none", class: "overlay", role: "img", "aria-label": "Zones drawn over the picture" });
  const stage = h("div", { class: "stage" }, frame, overlay);
  const editor = h("div", { class: "zone-editor", "data-testid": "zone-editor", "data-editable": String(canEdit) }, stage);
  const list = h("ul", { class: "zone-list", "aria-label": "Zones" });
  const occupancy = h("ul", { class: "plain" });
  const recent = h("ul", { class: "events" });
  const out = h("p", { role: "status", "aria-live": "polite" });

  fetch(`/api/v1/cameras/${id}/snapshot`, { credentials: "same-origin", cache: "no-store" })
    .then((r) => (r.ok ? r.blob() : null))
    .then((blob) => { if (blob) frame.src = URL.createObjectURL(blob); else frame.classList.add("empty"); })
    .catch(() => frame.classList.add("empty"));

  // -- drawing ------------------------------------------------------------------------------------
  const name = h("input", { name: "zone-name", required: true, maxlength: "128", "data-testid": "zone-name", value: "Zone" });
  const kind = h("select", { name: "zone-kind", "data-testid": "zone-kind" }, ["region", "presence", "line"].map((k) => h("option", { value: k, text: k })));
  const labels = h("input", { name: "zone-labels", placeholder: "person, car (empty: all)" });
  const dwell = h("input", { type: "number", name: "zone-dwell", min: "0", value: "0" });
  const direction = h("select", { name: "zone-direction" }, [["", "both"], ["a_to_b", "A → B"], ["b_to_a", "B → A"]].map(([v, t]) => h("option", { value: v, text: t })));
  // The points as text too: keyboard users type them, everyone sees the exact saved numbers.
  const pointsText = h("input", { name: "zone-points", "data-testid": "zone-points", placeholder: "[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]", spellcheck: "false" });
  pointsText.addEventListener("change", () => {
    try {
      const parsed = JSON.parse(pointsText.value || "[]");
      if (Array.isArray(parsed) && parsed.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite))) {
        draft = parsed.map(([x, y]) => [round(x), round(y)]);
        pointsText.setCustomValidity("");
        draw();
      } else {
        pointsText.setCustomValidity("a list of [x, y] pairs between 0 and 1");
      }
    } catch {
      pointsText.setCustomValidity("a list of [x, y] pairs between 0 and 1");
    }
    pointsText.reportValidity();
  });
  const severity = h("select", { name: "zone-severity" }, ["info", "warning", "critical"].map((s) => h("option", { value: s, text: s })));

  function point(event) {
    const rect = overlay.getBoundingClientRect();
    return [round((event.clientX - rect.left) / rect.width), round((event.clientY - rect.top) / rect.height)];
  }

  if (canEdit) {
    overlay.addEventListener("click", (event) => {
      if (kind.value === "line" && draft.length >= 2) draft = [];
      draft.push(point(event));
      draw();
    });
  }

  function draw() {
    while (overlay.firstChild) overlay.firstChild.remove();
    for (const z of zones) {
      const pts = z.polygon.map(([x, y]) => `${x},${y}`).join(" ");
      const shape = svg(z.kind === "line" ? "polyline" : "polygon", { points: pts, class: `zone kind-${z.kind}${selected === z.id ? " selected" : ""}`, "data-zone-id": z.id });
      const t = svg("title"); t.textContent = z.name; shape.append(t);
      overlay.append(shape);
    }
    if (draft.length) {
      overlay.append(svg("polyline", { points: draft.map(([x, y]) => `${x},${y}`).join(" "), class: "draft" }));
      for (const [x, y] of draft) overlay.append(svg("circle", { cx: x, cy: y, r: 0.008, class: "vertex" }));
    }
    editor.dataset.draftPoints = String(draft.length);
    if (document.activeElement !== pointsText) pointsText.value = draft.length ? JSON.stringify(draft) : "";
  }

  function body() {
    const b = {
      name: name.value.trim() || "Zone",
      kind: kind.value,
      polygon: draft,
      labels: labels.value.split(",").map((s) => s.trim()).filter(Boolean),
      dwell_seconds: Number(dwell.value) || 0,
      severity: severity.value,
    };
    if (direction.value) b.config = { direction: direction.value };
    return b;
  }

  async function save(event) {
    event.preventDefault();
    try {
      if (selected) {
        const b = body();
        if (!draft.length) delete b.polygon;
        await patch(`/zones/${encodeURIComponent(selected)}`, b);
        out.textContent = "Zone updated.";
      } else {
        await post(`/cameras/${id}/zones`, body());
        out.textContent = "Zone saved.";
      }
      draft = [];
      selected = null;
      await load();
    } catch (err) { out.textContent = errorText(err); }
  }

  function edit(z) {
    selected = z.id;
    name.value = z.name;
    kind.value = z.kind;
    labels.value = (z.labels || []).join(", ");
    dwell.value = z.dwell_seconds;
    severity.value = z.severity || "info";
    direction.value = (z.config && z.config.direction) || "";
    draft = [];
    out.textContent = `Editing ${z.name}: click the picture to draw a new shape, or change the fields and save.`;
    draw();
  }

  async function remove(z) {
    if (!window.confirm(`Delete zone ${z.name}?`)) return;
    try { await del(`/zones/${encodeURIComponent(z.id)}`); await load(); } catch (err) { out.textContent = errorText(err); }
  }

  const form = canEdit && h("form", { class: "card", "data-testid": "zone-form", "aria-labelledby": "zone-form-title", onsubmit: save },
    h("h2", { id: "zone-form-title", text: "Draw a zone" }),
    h("p", { class: "muted", text: "Click the picture to add points (a line takes 2), then save." }),
    field("Name", name), field("Kind", kind), field("Points (x, y from 0 to 1)", pointsText), field("Labels", labels), field("Dwell (s)", dwell), field("Direction (lines)", direction), field("Severity", severity),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => { draft.pop(); draw(); } }, "Undo point"),
      h("button", { type: "button", onclick: () => { draft = []; selected = null; out.textContent = ""; draw(); } }, "Clear"),
      h("button", { type: "submit", class: "primary", "data-testid": "zone-save" }, "Save zone")),
    out);

  async function load() {
    zones = await get(`/cameras/${id}/zones`);
    clear(list);
    for (const z of zones) {
      list.append(h("li", { "data-testid": "zone-item", "data-zone-id": z.id },
        h("strong", { text: z.name }), ` ${z.kind}, ${z.polygon.length} points`,
        h("code", { class: "coords", "data-testid": "zone-coords", text: JSON.stringify(z.polygon) }),
        canEdit && h("button", { type: "button", onclick: () => edit(z) }, "Edit"),
        canEdit && h("button", { type: "button", class: "danger", onclick: () => remove(z) }, "Delete")));
    }
    if (!zones.length) list.append(h("li", { class: "muted", text: "No zones." }));
    draw();
  }

  async function live() {
    const [occ, events] = await Promise.all([
      getOptional(`/cameras/${id}/zones/occupancy`, null),
      getOptional(`/cameras/${id}/zone-events${qs({ limit: 20 })}`, []),
    ]);
    if (stopped) return;
    clear(occupancy);
    const names = new Map(zones.map((z) => [z.id, z.name]));
    for (const o of (occ && occ.zones) || []) occupancy.append(h("li", { text: `${names.get(o.zone_id) || o.zone_id}: ${o.total}` }));
    if (!occupancy.firstChild) occupancy.append(h("li", { class: "muted", text: "No presence zones occupied." }));
    clear(recent);
    for (const e of events || []) recent.append(h("li", {}, h("time", { text: fmtDateTime(e.timestamp) }), ` ${e.event_type} ${names.get(e.zone_id) || ""} ${e.label || ""}`));
    if (!recent.firstChild) recent.append(h("li", { class: "muted", text: "No zone events." }));
  }

  root.append(
    h("div", { class: "toolbar" }, h("a", { class: "button", href: `#/camera/${id}` }, "← Camera"), h("h1", { text: `Zones: ${camera.name}` })),
    h("div", { class: "camera-layout" },
      h("div", { class: "camera-main" }, editor, h("section", { class: "card" }, h("h2", { text: "Zones" }), list)),
      h("aside", { class: "camera-side" }, form,
        h("section", { class: "card" }, h("h2", { text: "Occupancy" }), occupancy),
        h("section", { class: "card" }, h("h2", { text: "Recent zone events" }), recent))));
  await load();
  await live();
  const timer = setInterval(live, 3000);
  return () => { stopped = true; clearInterval(timer); };
}
