// Add a camera: pick a vendor template (or paste a URL), save it disabled, test the stream for
// real, then enable it — or discard it when the test fails.
import { del, errorText, get, patch, post } from "./api.js";
import { clear, field, h } from "./dom.js";

const VENDORS = [
  ["hikvision", "Hikvision (address + credentials)"], ["dahua", "Dahua (address + credentials)"],
  ["axis", "Axis"], ["reolink", "Reolink"], ["onvif", "ONVIF"], ["generic", "Generic RTSP URL"],
];

export async function render(root, ctx) {
  if (!ctx.can("camera:manage")) {
    root.append(h("p", { class: "error", text: "Your role cannot add cameras." }));
    return;
  }
  const name = h("input", { required: true, maxlength: "128" });
  const vendor = h("select", {}, VENDORS.map(([v, t]) => h("option", { value: v, text: t, selected: v === "generic" })));
  const address = h("input", { placeholder: "192.0.2.10" });
  const port = h("input", { type: "number", value: "554", min: "1", max: "65535" });
  const username = h("input", { autocomplete: "off" });
  const password = h("input", { type: "password", autocomplete: "new-password" });
  const mainUrl = h("input", { placeholder: "rtsp://camera/stream1" });
  const subUrl = h("input", { placeholder: "optional" });
  const mode = h("select", {}, ["continuous", "scheduled", "event", "scheduled_event"].map((m) => h("option", { value: m, text: m })));
  const result = h("div", { "aria-live": "polite", "data-testid": "add-camera-result" });

  function sync() {
    const generic = vendor.value === "generic";
    mainUrl.required = generic;
    address.required = !generic;
  }
  vendor.addEventListener("change", sync);
  sync();

  async function submit(event) {
    event.preventDefault();
    const body = { name: name.value, vendor: vendor.value, record_mode: mode.value, enabled: false, rtsp_port: Number(port.value) };
    if (address.value) body.address = address.value;
    if (username.value) body.username = username.value;
    if (password.value) body.password = password.value;
    if (mainUrl.value) body.main_stream_url = mainUrl.value;
    if (subUrl.value) body.sub_stream_url = subUrl.value;
    clear(result).append(h("progress", { "aria-label": "Testing connection" }), " saving and testing the stream…");
    let camera;
    try {
      camera = await post("/cameras", body);
    } catch (err) {
      clear(result).append(h("p", { class: "error", text: errorText(err) }));
      return;
    }
    const id = encodeURIComponent(camera.id);
    let test;
    try { test = await get(`/cameras/${id}/test?stream=main`); } catch (err) { test = { reachable: false, error: errorText(err) }; }
    clear(result);
    if (test.reachable) {
      result.append(h("p", { class: "ok", text: `Reachable: ${test.codec || "video"} ${test.width || "?"}×${test.height || "?"} at ${test.fps || "?"} fps.` }));
    } else {
      result.append(h("p", { class: "error", text: `Not reachable (${test.error || "error"}): ${test.detail || ""}` }));
    }
    result.append(
      h("button", { type: "button", class: "primary", onclick: async () => {
        try { await patch(`/cameras/${id}`, { enabled: true }); ctx.navigate(`#/camera/${id}`); } catch (err) { result.append(h("p", { class: "error", text: errorText(err) })); }
      } }, test.reachable ? "Enable camera" : "Enable anyway"),
      h("button", { type: "button", class: "danger", onclick: async () => {
        try { await del(`/cameras/${id}`); clear(result).append(h("p", { text: "Discarded." })); } catch (err) { result.append(h("p", { class: "error", text: errorText(err) })); }
      } }, "Discard"));
  }

  root.append(h("div", { class: "toolbar" }, h("h1", { text: "Add camera" })),
    h("form", { class: "card wizard", onsubmit: submit },
      field("Name", name), field("Vendor", vendor), field("Address", address), field("RTSP port", port),
      field("User name", username), field("Password", password), field("Main stream URL", mainUrl), field("Sub stream URL", subUrl),
      field("Recording mode", mode),
      h("button", { type: "submit", class: "primary" }, "Save and test connection"),
      result));
}
