// One camera: live view, the timeline scrubber with recorded playback, clip export, snapshot at
// the cursor, evidence lock, trigger, recording settings (managers), health and recent events.
import { del, errorText, get, getOptional, patch, post, qs } from "./api.js";
import { clear, field, fmtDateTime, h } from "./dom.js";
import { startLive, startRecorded } from "./player.js";
import { Timeline } from "./timeline.js";
import { badge, stateOf } from "./wall.js";

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

export async function render(root, ctx, params) {
  const cameraId = params[0];
  const id = encodeURIComponent(cameraId);
  let camera = await get(`/cameras/${id}`);
  let player = null;
  let stopped = false;
  let lastEnd = null;
  const timers = [];

  const video = h("video", { controls: true, muted: true, playsinline: true, "data-testid": "camera-video", "aria-label": `Video of ${camera.name}` });
  const img = h("img", { alt: `Latest picture of ${camera.name}`, hidden: true });
  const modeLabel = h("span", { class: "mode", "data-testid": "video-mode", text: "live" });
  const title = h("h1", { text: camera.name });
  const stateHolder = h("span", {}, badge(stateOf(camera, null)));
  const message = h("p", { class: "status", role: "status", "aria-live": "polite" });

  async function goLive() {
    lastEnd = null;
    if (player) player.stop();
    player = null;
    video.controls = false;
    modeLabel.textContent = "live";
    delete video.dataset.playingAt;
    const live = await startLive(cameraId, video, img);
    if (stopped) { live.stop(); return; }
    player = live;
    modeLabel.textContent = live.mode === "live" ? "live" : "live (snapshots)";
  }

  async function playAt(at) {
    if (player) player.stop();
    player = null;
    img.hidden = true;
    video.hidden = false;
    video.controls = true;
    modeLabel.textContent = `recorded from ${at.toLocaleString()}`;
    try {
      player = await startRecorded(cameraId, video, at, {
        onTime: (when) => { modeLabel.textContent = `recorded ${when.toLocaleString()}`; },
        onEnded: (when) => {
          // Continue with what was recorded since; go live when nothing new came (or it is recent).
          const progressed = lastEnd === null || when.getTime() - lastEnd > 2000;
          lastEnd = when.getTime();
          if (progressed && Date.now() - when.getTime() > 10000) playAt(when);
          else goLive();
        },
      });
      if (stopped) player.stop();
    } catch (err) {
      modeLabel.textContent = "no recording here";
      message.textContent = errorText(err);
    }
  }

  const pickAt = (at) => { lastEnd = null; playAt(at); };
  const timeline = new Timeline(cameraId, { onPick: pickAt, onCursor: (t) => { snapshotAt.textContent = ""; cursorLabel.textContent = t.toLocaleString(); } });
  const cursorLabel = h("span", { "data-testid": "cursor-time" });
  const snapshotAt = h("div", { class: "snapshot-out" });

  // -- export -----------------------------------------------------------------------------------
  const clipFrom = h("input", { type: "datetime-local", step: "1", "data-testid": "clip-from" });
  const clipTo = h("input", { type: "datetime-local", step: "1", "data-testid": "clip-to" });
  const clipOut = h("div", { class: "clip-out", "aria-live": "polite" });
  function setLocal(input, date) {
    const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
    input.value = d.toISOString().slice(0, 19);
  }
  function useCursor() {
    setLocal(clipFrom, new Date(timeline.cursor.getTime() - 10000));
    setLocal(clipTo, new Date(Math.min(Date.now(), timeline.cursor.getTime() + 10000)));
  }
  async function exportClip(event) {
    event.preventDefault();
    const from = new Date(clipFrom.value);
    const to = new Date(clipTo.value);
    clear(clipOut).append(h("progress", { "aria-label": "Exporting clip" }), " exporting…");
    try {
      const clip = await post(`/cameras/${id}/clip`, { from: from.toISOString(), to: to.toISOString() });
      clear(clipOut).append(
        h("a", { href: clip.url, download: clip.filename, "data-testid": "clip-download" }, `Download ${clip.filename}`),
        h("span", { class: "muted", text: ` ${Math.round(clip.covered_seconds)} of ${Math.round(clip.requested_seconds)} s covered` }));
    } catch (err) {
      clear(clipOut).append(h("span", { class: "error", text: errorText(err) }));
    }
  }

  // -- evidence / snapshot / trigger --------------------------------------------------------------
  function showSnapshot() {
    const at = timeline.cursor.toISOString();
    clear(snapshotAt).append(h("img", { src: `/api/v1/cameras/${id}/snapshot${qs({ at })}`, alt: `Recorded frame at ${timeline.cursor.toLocaleString()}`, "data-testid": "snapshot-image" }));
  }
  async function lockEvidence() {
    const t = timeline.cursor;
    try {
      const segments = await get(`/cameras/${id}/segments${qs({ from: new Date(t.getTime() - 3600000).toISOString(), to: new Date(t.getTime() + 1000).toISOString(), limit: 5000 })}`);
      const seg = segments.find((s) => new Date(s.start_time) <= t && new Date(s.end_time) >= t);
      if (!seg) { message.textContent = "No segment at the cursor."; return; }
      await post(`/segments/${seg.id}/evidence-lock`, {});
      message.textContent = `Segment ${seg.id} is locked as evidence.`;
    } catch (err) { message.textContent = errorText(err); }
  }
  async function trigger() {
    try {
      const r = await post(`/cameras/${id}/record-trigger`, { reason: "dashboard" });
      message.textContent = r.triggered ? `Recording until ${fmtDateTime(r.window_end)}.` : "This camera records without triggers.";
    } catch (err) { message.textContent = errorText(err); }
  }

  const actions = h("div", { class: "actions" },
    h("button", { type: "button", onclick: goLive }, "Live"),
    h("button", { type: "button", onclick: () => pickAt(timeline.cursor), "data-testid": "play-cursor" }, "Play from cursor"),
    h("button", { type: "button", onclick: showSnapshot, "data-testid": "snapshot-button" }, "Snapshot at cursor"),
    ctx.can("evidence:manage") && h("button", { type: "button", onclick: lockEvidence, "data-testid": "evidence-lock" }, "Lock evidence"),
    ctx.can("recording:manage") && h("button", { type: "button", onclick: trigger, "data-testid": "record-trigger" }, "Trigger recording"),
    h("a", { class: "button", href: `#/zones/${id}` }, "Zones"));

  const exportForm = ctx.can("video:export") && h("form", { class: "card", "aria-labelledby": "export-title", onsubmit: exportClip },
    h("h2", { id: "export-title", text: "Export clip" }),
    field("From", clipFrom), field("To", clipTo),
    h("button", { type: "button", onclick: useCursor }, "Around cursor"),
    h("button", { type: "submit", class: "primary", "data-testid": "clip-export" }, "Export"),
    clipOut);

  // -- settings (managers) ------------------------------------------------------------------------
  function settingsForm() {
    if (!ctx.can("camera:manage")) return null;
    const mode = h("select", { name: "record_mode" }, ["continuous", "scheduled", "event", "scheduled_event"].map((m) => h("option", { value: m, selected: camera.record_mode === m, text: m })));
    const num = (name, min, max) => h("input", { type: "number", name, min, max, value: camera[name] });
    const pre = num("pre_roll_seconds", 0, 300);
    const postRoll = num("post_roll_seconds", 0, 3600);
    const retention = num("retention_hours", 1, 87600);
    const enabled = h("input", { type: "checkbox", checked: camera.record_enabled });
    const out = h("span", { "aria-live": "polite" });
    return h("form", { class: "card", "data-testid": "recording-settings", "aria-labelledby": "settings-title", onsubmit: async (event) => {
      event.preventDefault();
      try {
        camera = await patch(`/cameras/${id}`, { record_mode: mode.value, pre_roll_seconds: Number(pre.value), post_roll_seconds: Number(postRoll.value), retention_hours: Number(retention.value), record_enabled: enabled.checked });
        out.textContent = "Saved.";
      } catch (err) { out.textContent = errorText(err); }
    } },
    h("h2", { id: "settings-title", text: "Recording" }),
    field("Mode", mode), field("Pre-roll (s)", pre), field("Post-roll (s)", postRoll), field("Retention (h)", retention),
    field("Recording enabled", enabled),
    h("button", { type: "submit", class: "primary" }, "Save"), out);
  }

  const schedulesList = h("ul", { class: "plain" });
  function scheduleForm() {
    if (!ctx.can("recording:manage")) return null;
    const boxes = DAYS.map((d, i) => h("label", { class: "day" }, h("input", { type: "checkbox", value: i, checked: i < 5 }), d));
    const start = h("input", { type: "time", value: "08:00", "data-testid": "schedule-start" });
    const end = h("input", { type: "time", value: "18:00", "data-testid": "schedule-end" });
    return h("form", { class: "schedule-form", "aria-label": "Add schedule", onsubmit: async (event) => {
      event.preventDefault();
      const days = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => Number(i.value));
      try {
        await post(`/cameras/${id}/schedules`, { days, time_start: start.value, time_end: end.value });
        refreshSide();
      } catch (err) { message.textContent = errorText(err); }
    } },
    h("fieldset", {}, h("legend", { text: "Days" }), boxes),
    field("From", start), field("To", end),
    h("button", { type: "submit", "data-testid": "schedule-add" }, "Add schedule"));
  }
  const healthBox = h("dl", { class: "kv" });
  const eventsList = h("ul", { class: "events" });

  async function refreshSide() {
    const [health, events, schedules] = await Promise.all([
      getOptional(`/cameras/${id}/health`, null),
      getOptional(`/events${qs({ camera_id: cameraId, limit: 20 })}`, []),
      getOptional(`/cameras/${id}/schedules`, []),
    ]);
    if (stopped) return;
    if (!health) camera = await get(`/cameras/${id}`);
    clear(stateHolder).append(badge(stateOf(camera, health)));
    const st = health || camera.status || {};
    clear(healthBox);
    for (const [k, v] of [["State", st.state], ["Last segment", fmtDateTime(st.last_segment_at)], ["Bitrate", st.bitrate_kbps ? `${Math.round(st.bitrate_kbps)} kbit/s` : "—"], ["FPS", st.fps_observed ?? "—"], ["Reconnects", st.reconnects ?? "—"], ["Last error", st.last_error || "none"]]) {
      healthBox.append(h("dt", { text: k }), h("dd", { text: v ?? "—" }));
    }
    clear(eventsList);
    for (const e of events || []) eventsList.append(h("li", { class: `sev-${e.severity}` }, h("time", { text: fmtDateTime(e.timestamp) }), " ", h("strong", { text: e.event_type })));
    if (!(events || []).length) eventsList.append(h("li", { class: "muted", text: "No events." }));
    clear(schedulesList);
    for (const s of schedules || []) {
      schedulesList.append(h("li", { "data-testid": "schedule-item" },
        `${s.days.map((d) => DAYS[d]).join(" ")} ${s.time_start}–${s.time_end}${s.enabled ? "" : " (off)"} `,
        ctx.can("recording:manage") && h("button", { type: "button", class: "danger", "aria-label": `Delete schedule ${s.time_start}–${s.time_end}`, onclick: async () => {
          try { await del(`/schedules/${encodeURIComponent(s.id)}`); refreshSide(); } catch (err) { message.textContent = errorText(err); }
        } }, "Delete")));
    }
    if (!(schedules || []).length) schedulesList.append(h("li", { class: "muted", text: "No schedules." }));
  }

  root.append(
    h("div", { class: "toolbar" }, h("a", { href: "#/wall", class: "button" }, "← Cameras"), title, stateHolder, modeLabel),
    h("div", { class: "camera-layout" },
      h("div", { class: "camera-main" },
        h("div", { class: "player media" }, video, img),
        actions, message, timeline.el,
        h("p", { class: "muted" }, "Cursor: ", cursorLabel), snapshotAt),
      h("aside", { class: "camera-side" },
        exportForm,
        h("section", { class: "card" }, h("h2", { text: "Health" }), healthBox),
        settingsForm(),
        h("section", { class: "card" }, h("h2", { text: "Schedules" }), schedulesList, scheduleForm()),
        h("section", { class: "card" }, h("h2", { text: "Recent events" }), eventsList))));

  cursorLabel.textContent = timeline.cursor.toLocaleString();
  useCursor();
  await timeline.refresh();
  goLive();
  refreshSide();
  timers.push(setInterval(() => timeline.refresh(), 10000), setInterval(refreshSide, 5000));
  return () => {
    stopped = true;
    timers.forEach(clearInterval);
    if (player) player.stop();
  };
}
