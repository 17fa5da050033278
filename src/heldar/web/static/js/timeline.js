// The timeline scrubber: recorded ranges and gaps from `…/timeline`, events as marks, zoom from
// 24 h to 1 min around the cursor. Click or Enter plays from the cursor; arrows move it.
import { get, getOptional, qs } from "./api.js";
import { clear, fmtTime, h } from "./dom.js";

export const ZOOMS = [
  { label: "24 h", s: 86400 }, { label: "6 h", s: 21600 }, { label: "1 h", s: 3600 },
  { label: "15 min", s: 900 }, { label: "5 min", s: 300 }, { label: "1 min", s: 60 },
];

export class Timeline {
  constructor(cameraId, { onPick, onCursor }) {
    this.cameraId = cameraId;
    this.onPick = onPick;
    this.onCursor = onCursor || (() => {});
    this.zoom = 2;
    this.end = new Date();
    this.follow = true;
    this.cursor = new Date(Date.now() - 30000);
    this.ranges = [];
    this.marks = [];
    this.bar = h("div", {
      class: "timeline", tabindex: "0", role: "slider", "data-testid": "camera-timeline",
      "aria-label": "Recording timeline: arrows move the cursor, Enter plays, + and - zoom",
      onclick: (event) => this.click(event),
      onkeydown: (event) => this.key(event),
    });
    this.zoomSelect = h("select", { "aria-label": "Timeline zoom", onchange: () => this.setZoom(Number(this.zoomSelect.value)) },
      ZOOMS.map((z, i) => h("option", { value: i, selected: i === this.zoom, text: z.label })));
    this.summary = h("span", { class: "muted", "aria-live": "polite" });
    this.axis = h("div", { class: "axis", "aria-hidden": "true" });
    this.el = h("section", { class: "timeline-wrap", "aria-label": "Timeline" },
      h("div", { class: "toolbar small" }, h("h2", { text: "Timeline" }), this.zoomSelect,
        h("button", { type: "button", onclick: () => { this.follow = true; this.refresh(); } }, "Now"), this.summary),
      this.bar, this.axis);
  }

  get span() { return ZOOMS[this.zoom].s * 1000; }
  get from() { return new Date(this.end.getTime() - this.span); }

  setZoom(index) {
    this.zoom = Math.max(0, Math.min(ZOOMS.length - 1, index));
    this.zoomSelect.value = String(this.zoom);
    const now = Date.now();
    const end = Math.min(now, this.cursor.getTime() + this.span / 2);
    this.follow = end >= now - 1000;
    this.end = new Date(end);
    this.refresh();
  }

  async refresh() {
    if (this.follow) this.end = new Date();
    const from = this.from.toISOString();
    const to = this.end.toISOString();
    const id = encodeURIComponent(this.cameraId);
    try {
      const [timeline, events] = await Promise.all([
        get(`/cameras/${id}/timeline${qs({ from, to })}`),
        getOptional(`/events${qs({ camera_id: this.cameraId, limit: 200 })}`, []),
      ]);
      this.ranges = timeline.ranges;
      this.marks = (events || []).filter((e) => e.timestamp >= from && e.timestamp <= to);
      this.summary.textContent = `${Math.round(timeline.recorded_seconds)} s recorded in view, ${timeline.segment_count} segments`;
    } catch (err) {
      this.summary.textContent = String(err.message || err);
    }
    this.draw();
  }

  pos(date) {
    return ((new Date(date).getTime() - this.from.getTime()) / this.span) * 100;
  }

  draw() {
    clear(this.bar);
    for (const r of this.ranges) {
      const left = Math.max(0, this.pos(r.start));
      const right = Math.min(100, this.pos(r.end));
      if (right <= left) continue;
      const el = h("div", { class: "range", title: `${fmtTime(new Date(r.start))} – ${fmtTime(new Date(r.end))}` });
      el.style.left = `${left}%`;
      el.style.width = `${Math.max(0.2, right - left)}%`;
      this.bar.append(el);
    }
    for (const m of this.marks) {
      const el = h("div", { class: `mark sev-${m.severity}`, title: `${m.event_type} ${fmtTime(new Date(m.timestamp))}` });
      el.style.left = `${this.pos(m.timestamp)}%`;
      this.bar.append(el);
    }
    const cursor = h("div", { class: "cursor" });
    cursor.style.left = `${Math.min(100, Math.max(0, this.pos(this.cursor)))}%`;
    this.bar.append(cursor);
    this.bar.setAttribute("aria-valuemin", String(this.from.getTime()));
    this.bar.setAttribute("aria-valuemax", String(this.end.getTime()));
    this.bar.setAttribute("aria-valuenow", String(this.cursor.getTime()));
    this.bar.setAttribute("aria-valuetext", this.cursor.toLocaleString());
    this.bar.dataset.from = this.from.toISOString();
    this.bar.dataset.to = this.end.toISOString();
    clear(this.axis);
    for (let i = 0; i <= 4; i += 1) {
      const t = new Date(this.from.getTime() + (this.span * i) / 4);
      const label = h("span", { text: this.span > 86400000 / 2 ? t.toLocaleString([], { hour: "2-digit", minute: "2-digit" }) : fmtTime(t) });
      label.style.left = `${i * 25}%`;
      this.axis.append(label);
    }
  }

  setCursor(date, { play = false } = {}) {
    const t = Math.min(Date.now(), Math.max(this.from.getTime(), date.getTime()));
    this.cursor = new Date(t);
    this.draw();
    this.onCursor(this.cursor);
    if (play) this.onPick(this.cursor);
  }

  click(event) {
    const rect = this.bar.getBoundingClientRect();
    const share = (event.clientX - rect.left) / rect.width;
    this.setCursor(new Date(this.from.getTime() + share * this.span), { play: true });
  }

  key(event) {
    const step = this.span / (event.shiftKey ? 8 : 48);
    const moves = { ArrowLeft: -step, ArrowRight: step };
    if (moves[event.key] !== undefined) {
      event.preventDefault();
      const t = new Date(this.cursor.getTime() + moves[event.key]);
      if (t < this.from) { this.follow = false; this.end = new Date(this.end.getTime() - this.span / 2); this.refresh(); }
      this.setCursor(t);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.onPick(this.cursor);
    } else if (event.key === "+" || event.key === "=") {
      this.setZoom(this.zoom + 1);
    } else if (event.key === "-") {
      this.setZoom(this.zoom - 1);
    } else if (event.key === "Home") {
      event.preventDefault();
      this.setCursor(this.from);
    } else if (event.key === "End") {
      event.preventDefault();
      this.setCursor(new Date());
    }
  }
}
