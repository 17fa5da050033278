// The system page: storage and its projection, retention settings, webhooks, users and API keys
// (admins), the audit log. Each panel shows only what the caller's role may read.
import { del, errorText, getOptional, post, put } from "./api.js";
import { field, fmtBytes, fmtDateTime, h } from "./dom.js";

function table(headers, rows) {
  return h("table", { class: "table" },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted", text: "None." }))));
}

export async function render(root, ctx) {
  const out = h("p", { role: "status", "aria-live": "polite" });
  root.append(h("div", { class: "toolbar" }, h("h1", { text: "System" })), out);
  const [system, retention, webhooks, users, keys, audit] = await Promise.all([
    getOptional("/system", null),
    getOptional("/system/retention", null),
    ctx.can("webhooks:manage") ? getOptional("/webhooks", null) : null,
    ctx.can("users:manage") ? getOptional("/users", null) : null,
    ctx.can("users:manage") ? getOptional("/api-keys", null) : null,
    ctx.can("audit:read") ? getOptional("/audit?limit=50", null) : null,
  ]);
  if (system) {
    const disk = system.disk || {};
    const rec = system.recordings || {};
    const rows = [["Version", system.version], ["Uptime", `${Math.round((system.uptime_s || 0) / 60)} min`],
      ["Store", system.store && system.store.kind], ["Disk free", `${fmtBytes(disk.free_bytes)} of ${fmtBytes(disk.total_bytes)}`],
      ["Recordings", `${fmtBytes(rec.bytes)} in ${rec.segments ?? "—"} segments`],
      ["Cameras recording", system.counts ? `${system.counts.cameras_recording} of ${system.counts.cameras}` : "—"]];
    root.append(h("section", { class: "card" }, h("h2", { text: "Storage" }),
      h("dl", { class: "kv" }, rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v ?? "—" })]))));
  }
  if (retention) {
    const maxGb = h("input", { type: "number", min: "0", step: "0.1", value: retention.max_recordings_gb ?? "" });
    const minFree = h("input", { type: "number", min: "0", step: "0.1", value: retention.min_free_disk_gb ?? "" });
    const editable = ctx.can("users:manage");
    root.append(h("form", { class: "card", onsubmit: async (e) => {
      e.preventDefault();
      try { await put("/system/retention", { ...retention, max_recordings_gb: Number(maxGb.value), min_free_disk_gb: Number(minFree.value) }); out.textContent = "Retention saved."; } catch (err) { out.textContent = errorText(err); }
    } }, h("h2", { text: "Retention" }),
    field("Max recordings (GB)", maxGb), field("Min free disk (GB)", minFree),
    editable ? h("button", { type: "submit", class: "primary" }, "Save") : null));
    if (!editable) { maxGb.disabled = true; minFree.disabled = true; }
  }
  if (webhooks) root.append(h("section", { class: "card" }, h("h2", { text: "Webhooks" }),
    table(["Name", "URL", "Types", "Enabled", ""], webhooks.map((w) => h("tr", {}, h("td", { text: w.name }), h("td", { text: w.url }), h("td", { text: w.event_types.join(", ") }), h("td", { text: w.enabled ? "yes" : "no" }),
      h("td", {}, h("button", { type: "button", onclick: async () => {
        try { const r = await post(`/webhooks/${encodeURIComponent(w.id)}/test`); out.textContent = r.ok ? `Test delivered (${r.status}).` : `Test failed: ${r.error || r.status}`; } catch (err) { out.textContent = errorText(err); }
      } }, "Test")))))));
  const reload = () => ctx.navigate(`#/system?${Date.now()}`);
  if (users) {
    const uname = h("input", { required: true, pattern: "[A-Za-z0-9._@-]{1,64}", autocomplete: "off" });
    const upass = h("input", { type: "password", required: true, minlength: "8", autocomplete: "new-password" });
    const urole = h("select", {}, ["viewer", "guard", "manager", "admin", "integration"].map((r) => h("option", { value: r, text: r })));
    root.append(h("section", { class: "card" }, h("h2", { text: "Users" }),
      table(["Name", "Role", "Enabled", "Last login"], users.map((u) => h("tr", {}, h("td", { text: u.username }), h("td", { text: u.role }), h("td", { text: u.enabled ? "yes" : "no" }), h("td", { text: fmtDateTime(u.last_login_at) })))),
      h("form", { class: "inline", "aria-label": "Add user", onsubmit: async (e) => {
        e.preventDefault();
        try { await post("/users", { username: uname.value, password: upass.value, role: urole.value }); reload(); } catch (err) { out.textContent = errorText(err); }
      } }, field("User name", uname), field("Password", upass), field("Role", urole), h("button", { type: "submit" }, "Add user"))));
  }
  if (keys) {
    const kname = h("input", { required: true, maxlength: "128" });
    const krole = h("select", {}, ["integration", "viewer", "guard", "manager"].map((r) => h("option", { value: r, text: r })));
    const shown = h("p", { "aria-live": "polite" });
    root.append(h("section", { class: "card" }, h("h2", { text: "API keys" }),
      table(["Name", "Prefix", "Role", "Expires", "Revoked", ""], keys.map((k) => h("tr", {}, h("td", { text: k.name }), h("td", { text: k.prefix }), h("td", { text: k.role }), h("td", { text: fmtDateTime(k.expires_at) }), h("td", { text: k.revoked_at ? fmtDateTime(k.revoked_at) : "—" }),
        h("td", {}, !k.revoked_at && h("button", { type: "button", class: "danger", onclick: async () => {
          if (!window.confirm(`Revoke key ${k.name}?`)) return;
          try { await del(`/api-keys/${encodeURIComponent(k.id)}`); reload(); } catch (err) { out.textContent = errorText(err); }
        } }, "Revoke"))))),
      h("form", { class: "inline", "aria-label": "Create API key", onsubmit: async (e) => {
        e.preventDefault();
        try {
          const key = await post("/api-keys", { name: kname.value, role: krole.value });
          shown.textContent = "";
          shown.append("New key (shown once, copy it now): ", h("code", { text: key.token }));
        } catch (err) { out.textContent = errorText(err); }
      } }, field("Name", kname), field("Role", krole), h("button", { type: "submit" }, "Create key")), shown));
  }
  if (audit) root.append(h("section", { class: "card" }, h("h2", { text: "Audit log" }),
    table(["Time", "Actor", "Action", "Outcome", "Target"], audit.map((a) => h("tr", {}, h("td", { text: fmtDateTime(a.ts) }), h("td", { text: a.actor }), h("td", { text: a.action }), h("td", { text: a.outcome }), h("td", { text: a.target || "" }))))));
}
