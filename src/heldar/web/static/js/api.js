// The one way the dashboard talks to the kernel: the public /api/v1, with the session cookie.
// Mutations carry X-Requested-With (the kernel's CSRF rule for cookie sessions); the browser adds
// a same-origin Origin header on its own.

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(typeof detail === "string" ? detail : code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET" && method !== "HEAD") {
    headers["X-Requested-With"] = "heldar-dashboard";
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 204) return null;
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) data = await response.json();
  if (!response.ok) {
    const err = new ApiError(response.status, data && data.error, data && data.detail);
    if (response.status === 401 && !path.startsWith("/auth/login")) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

/** GET that answers `fallback` when the endpoint is not there yet (404/405) or refuses (403). */
export async function getOptional(path, fallback = null) {
  try {
    return await get(path);
  } catch (err) {
    if (err instanceof ApiError && [403, 404, 405, 501].includes(err.status)) return fallback;
    throw err;
  }
}

export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export function errorText(err) {
  if (err instanceof ApiError) {
    if (Array.isArray(err.detail)) return `${err.code}: ${err.detail.map((d) => d.msg).join("; ")}`;
    return err.code ? `${err.code}: ${err.message}` : err.message;
  }
  return String(err && err.message ? err.message : err);
}
export const put = (path, body) => api("PUT", path, body);
