// The camera wall: one tile per camera (live view, else a refreshing snapshot), a state badge
// from camera health (else the camera's own status), layouts 1/4/9/16 with paging kept in
// localStorage, arrow keys between tiles, Enter to open one.
import { getOptional, get } from "./api.js";
import { clear, h } from "./dom.js";
import { startLive } from "./player.js";

const LAYOUTS = [1, 4, 9, 16];
const POLL_MS = 3000;
const STORE_KEY = "heldar.wall";

function loadPrefs() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
    return { layout: LAYOUTS.includes(saved.layout) ? saved.layout : 4, page: Number.isInteger(saved.page) ? saved.page : 0 };
  } catch { return { layout: 4, page: 0 }; }
}

function savePrefs(prefs) {
  localStorage.setItem(STORE_KEY, JSON.stringify(prefs));
}

export function stateOf(camera, health) {
  if (health && health.state) return health.state;
  return (camera.status && camera.status.state) || "unknown";
}

export function badge(state) {
  return h("span", { class: `badge state-${state}`, "data-testid": "state-badge", text: state });
}

export async function render(root, ctx) {
  const prefs = loadPrefs();
  let cameras = [];
  let healthById = new Map();
  let players = [];
  let pollTimer = null;
  let stopped = false;

  const grid = h("div", { class: "wall", role: "list", "aria-label": "Cameras" });
  const pager = h("span", { class: "pager", "aria-live": "polite" });
  const layoutButtons = LAYOUTS.map((n) => h("button", {
    type: "button", "aria-pressed": String(n === prefs.layout), "data-layout": n,
    "aria-label": `${n} per page`, onclick: () => { prefs.layout = n; prefs.page = 0; savePrefs(prefs); draw(); },
  }, n === 1 ? "1" : `${Math.sqrt(n)}×${Math.sqrt(n)}`));
  const prev = h("button", { type: "button", "aria-label": "Previous page", onclick: () => page(-1) }, "‹");
  const next = h("button", { type: "button", "aria-label": "Next page", onclick: () => page(1) }, "›");
  root.append(
    h("div", { class: "toolbar" },
      h("h1", { text: "Cameras" }),
      h("div", { class: "group", role: "group", "aria-label": "Layout" }, layoutButtons),
      h("div", { class: "group" }, prev, pager, next)),
    grid);

  function pages() { return Math.max(1, Math.ceil(cameras.length / prefs.layout)); }
  function page(delta) {
    prefs.page = Math.min(pages() - 1, Math.max(0, prefs.page + delta));
    savePrefs(prefs);
    draw();
  }

  function stopPlayers() {
    for (const p of players) p.stop();
    players = [];
  }

  function draw() {
    stopPlayers();
    clear(grid);
    prefs.page = Math.min(prefs.page, pages() - 1);
    for (const b of layoutButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === prefs.layout));
    grid.dataset.layout = String(prefs.layout);
    pager.textContent = `Page ${prefs.page + 1} of ${pages()}`;
    prev.disabled = prefs.page === 0;
    next.disabled = prefs.page >= pages() - 1;
    if (!cameras.length) {
      grid.append(h("p", { class: "muted", text: ctx.can("camera:manage") ? "No cameras yet: add one." : "No cameras." }));
      return;
    }
    const shown = cameras.slice(prefs.page * prefs.layout, (prefs.page + 1) * prefs.layout);
    for (const camera of shown) {
      const state = stateOf(camera, healthById.get(camera.id));
      const video = h("video", { muted: true, playsinline: true, autoplay: true, "aria-label": `Live view of ${camera.name}` });
      video.muted = true;
      const img = h("img", { alt: `Latest picture of ${camera.name}`, hidden: true });
      const tile = h("article", {
        class: "tile", role: "listitem", tabindex: "0",
        "data-testid": "camera-tile", "data-camera-id": camera.id, "data-state": state,
        "aria-label": `${camera.name}, ${state}. Press Enter to open.`,
        onclick: () => ctx.navigate(`#/camera/${encodeURIComponent(camera.id)}`),
        onkeydown: (event) => onTileKey(event, tile),
      },
      h("div", { class: "media" }, video, img),
      h("div", { class: "caption" }, h("span", { class: "name", text: camera.name }), badge(state)));
      grid.append(tile);
      startLive(camera.id, video, img).then((player) => {
        if (stopped || !tile.isConnected) player.stop();
        else { tile.dataset.mode = player.mode; players.push(player); }
      });
    }
  }

  function onTileKey(event, tile) {
    const tiles = [...grid.querySelectorAll("[data-testid=camera-tile]")];
    const i = tiles.indexOf(tile);
    const cols = Math.sqrt(prefs.layout);
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      tile.click();
    } else if (moves[event.key] !== undefined) {
      event.preventDefault();
      const target = tiles[i + moves[event.key]];
      if (target) target.focus();
      else if (event.key === "ArrowRight" && prefs.page < pages() - 1) page(1);
      else if (event.key === "ArrowLeft" && prefs.page > 0) page(-1);
    }
  }

  function updateStates() {
    for (const tile of grid.querySelectorAll("[data-testid=camera-tile]")) {
      const camera = cameras.find((c) => c.id === tile.dataset.cameraId);
      if (!camera) continue;
      const state = stateOf(camera, healthById.get(camera.id));
      if (tile.dataset.state !== state) {
        tile.dataset.state = state;
        const old = tile.querySelector("[data-testid=state-badge]");
        old.replaceWith(badge(state));
        tile.setAttribute("aria-label", `${camera.name}, ${state}. Press Enter to open.`);
      }
    }
  }

  async function poll(first) {
    try {
      const [list, health] = await Promise.all([get("/cameras"), getOptional("/health/cameras", null)]);
      healthById = new Map((health || []).map((item) => [item.camera_id, item]));
      const changed = list.map((c) => `${c.id}:${c.name}`).join("|") !== cameras.map((c) => `${c.id}:${c.name}`).join("|");
      cameras = list;
      if (first || changed) draw();
      else updateStates();
    } catch (err) {
      console.warn(err);
    }
    if (!stopped) pollTimer = setTimeout(() => poll(false), POLL_MS);
  }
  await poll(true);

  return () => {
    stopped = true;
    clearTimeout(pollTimer);
    stopPlayers();
  };
}
