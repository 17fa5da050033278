// The dashboard shell: who is signed in, the top bar, and the `#/` hash router. Each view is a
// module exporting `render(root, ctx, params)` that returns a cleanup function (timers, streams,
// players), called when the operator navigates away.
import { ApiError, errorText, get, post, setUnauthorizedHandler } from "./api.js";
import { clear, field, h } from "./dom.js";

const VIEWS = {
  wall: () => import("./wall.js"),
  camera: () => import("./camera.js"),
  zones: () => import("./zones.js"),
  events: () => import("./events.js"),
  ai: () => import("./ai.js"),
  system: () => import("./system.js"),
  "add-camera": () => import("./addcamera.js"),
};

const ctx = {
  me: null,
  can(capability) {
    return Boolean(this.me && this.me.capabilities.includes(capability));
  },
  navigate(hash) { window.location.hash = hash; },
};

let cleanup = null;
const main = document.getElementById("main");
const topbar = document.getElementById("topbar");

function runCleanup() {
  if (cleanup) {
    try { cleanup(); } catch (err) { console.error(err); }
    cleanup = null;
  }
}

function renderTopbar() {
  clear(topbar);
  if (!ctx.me) { topbar.hidden = true; return; }
  topbar.hidden = false;
  const link = (hash, text) => h("a", { href: hash, "data-nav": hash.slice(2).split("/")[0] }, text);
  const nav = h("nav", { "aria-label": "Main" },
    link("#/wall", "Cameras"), link("#/events", "Events"), link("#/ai", "AI"), link("#/system", "System"));
  if (ctx.can("camera:manage")) nav.append(link("#/add-camera", "Add camera"));
  const menu = h("details", { class: "usermenu" },
    h("summary", { "data-testid": "user-menu", text: `${ctx.me.username} (${ctx.me.role})` }),
    h("div", { class: "menu" },
      h("button", { type: "button", "data-testid": "sign-out", onclick: signOut }, "Sign out")));
  topbar.append(h("span", { class: "brand", text: "Heldar" }), nav, menu);
}

function markNav(view) {
  for (const a of topbar.querySelectorAll("nav a")) {
    if (a.dataset.nav === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function signOut() {
  try { await post("/auth/logout"); } catch (err) { console.warn(errorText(err)); }
  ctx.me = null;
  showLogin();
}

function showLogin(message) {
  generation += 1;
  runCleanup();
  ctx.me = null;
  renderTopbar();
  clear(main);
  const user = h("input", { id: "login-username", name: "username", autocomplete: "username", required: true, "data-testid": "login-username" });
  const pass = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true, "data-testid": "login-password" });
  const status = h("p", { class: "error", role: "alert" });
  if (message) status.textContent = message;
  const form = h("form", { class: "login card", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", text: "Sign in to Heldar" }),
    field("User name", user),
    field("Password", pass),
    h("button", { type: "submit", class: "primary", "data-testid": "login-submit" }, "Sign in"),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    try {
      await post("/auth/login", { username: user.value, password: pass.value });
      await boot();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) status.textContent = "Wrong user name or password.";
      else if (err instanceof ApiError && err.status === 429) status.textContent = "Too many attempts; try again later.";
      else status.textContent = errorText(err);
    }
  });
  main.append(form);
  user.focus();
}

let generation = 0;

async function route() {
  if (!ctx.me) return;
  const parts = (window.location.hash.replace(/^#\/?/, "").split("?")[0] || "wall").split("/").map(decodeURIComponent);
  const name = VIEWS[parts[0]] ? parts[0] : "wall";
  const mine = ++generation;
  runCleanup();
  clear(main);
  markNav(name);
  // Each view renders into its own container: a view still loading when the operator moves on
  // writes into a detached element and is cleaned up as soon as its render returns.
  const view = h("div", { class: "view", "data-view": name });
  main.append(view);
  try {
    const module = await VIEWS[name]();
    if (mine !== generation) return;
    const done = (await module.render(view, ctx, parts.slice(1))) || null;
    if (mine !== generation) { if (done) done(); return; }
    cleanup = done;
  } catch (err) {
    if (mine === generation) view.append(h("p", { class: "error", role: "alert", text: errorText(err) }));
  }
}

async function boot() {
  try {
    ctx.me = await get("/auth/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { showLogin(); return; }
    clear(main).append(h("p", { class: "error", text: errorText(err) }));
    return;
  }
  renderTopbar();
  await route();
}

setUnauthorizedHandler(() => { if (ctx.me) showLogin("Your session ended; sign in again."); });
window.addEventListener("hashchange", route);
boot();
