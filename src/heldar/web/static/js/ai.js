// The AI page: tasks per camera, samplers with their budgeted fps, latest detections.
import { del, errorText, get, getOptional, patch, post, qs } from "./api.js";
import { field, fmtDateTime, h } from "./dom.js";

function table(headers, rows) {
  return h("table", { class: "table" },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted", text: "Nothing yet." }))));
}

export async function render(root, ctx) {
  const cameras = await get("/cameras");
  const samplers = (await getOptional("/ai/samplers", [])) || [];
  const canEdit = ctx.can("ai:tasks");
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  const out = h("p", { role: "status", "aria-live": "polite" });
  root.append(h("div", { class: "toolbar" }, h("h1", { text: "AI" })), out);

  root.append(h("section", { class: "card" }, h("h2", { text: "Samplers" }),
    table(["Camera", "Profile", "State", "FPS", "Width", "Frames", "Last frame"], samplers.map((s) => h("tr", {},
      h("td", { text: names.get(s.camera_id) || s.camera_id }), h("td", { text: s.stream_profile }), h("td", { text: s.state }),
      h("td", { text: s.fps }), h("td", { text: s.width }), h("td", { text: s.frames_total }), h("td", { text: fmtDateTime(s.last_frame_at) }))))));

  for (const camera of cameras) {
    const id = encodeURIComponent(camera.id);
    const [tasks, detections] = await Promise.all([
      getOptional(`/cameras/${id}/ai-tasks`, []),
      getOptional(`/cameras/${id}/detections${qs({ limit: 10 })}`, []),
    ]);
    const rows = (tasks || []).map((t) => h("tr", {},
      h("td", { text: t.task_type }), h("td", { text: t.stream_profile }), h("td", { text: t.fps }), h("td", { text: t.width }),
      h("td", {}, canEdit ? h("input", { type: "checkbox", checked: t.enabled, "aria-label": `Enable ${t.task_type}`, onchange: async (e) => {
        try { await patch(`/ai-tasks/${encodeURIComponent(t.id)}`, { enabled: e.target.checked }); } catch (err) { out.textContent = errorText(err); }
      } }) : (t.enabled ? "yes" : "no")),
      h("td", {}, canEdit && h("button", { type: "button", class: "danger", onclick: async () => {
        try { await del(`/ai-tasks/${encodeURIComponent(t.id)}`); location.reload(); } catch (err) { out.textContent = errorText(err); }
      } }, "Delete"))));
    const taskType = h("input", { required: true, pattern: "[A-Za-z0-9_.:-]{1,64}", placeholder: "detect" });
    const fps = h("input", { type: "number", min: "0.1", max: "30", step: "0.1", value: "1" });
    const addForm = canEdit && h("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      try { await post(`/cameras/${id}/ai-tasks`, { task_type: taskType.value, fps: Number(fps.value) }); location.reload(); } catch (err) { out.textContent = errorText(err); }
    } }, field("Task type", taskType), field("FPS", fps), h("button", { type: "submit" }, "Add task"));
    root.append(h("section", { class: "card" }, h("h2", { text: camera.name }),
      table(["Task", "Profile", "FPS", "Width", "Enabled", ""], rows), addForm,
      h("h3", { text: "Recent detections" }),
      table(["Time", "Label", "Confidence", "Track"], (detections || []).map((d) => h("tr", {},
        h("td", { text: fmtDateTime(d.timestamp) }), h("td", { text: d.label }), h("td", { text: d.confidence.toFixed(2) }), h("td", { text: d.track_id || "—" }))))));
  }
}
