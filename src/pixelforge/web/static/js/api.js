// The API client: same-origin fetch with the session cookie and the CSRF token, errors as
// ApiError carrying the OpenAI-style body (message, param, code).

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token || null;
}

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `request failed (${status})`);
    this.status = status;
    this.param = err.param || null;
    this.code = err.code || null;
  }
}

/** fetch JSON: api("/api/jobs", {method: "POST", body: {...}}) or {form: FormData}. */
export async function api(path, { method = "GET", body, form, headers = {}, raw = false } = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD" && csrfToken) init.headers["X-CSRF-Token"] = csrfToken;
  if (form) init.body = form;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    const error = new ApiError(response.status, data);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("pf:signed-out"));
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path) => api(path);
export const post = (path, body, headers) => api(path, { method: "POST", body, headers });
export const del = (path) => api(path, { method: "DELETE" });

/** A query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

/**
 * Follow a job's server-sent events until it ends. onEvent(view, kind) is called for every
 * update (kind: queued, progress, done, failed, canceled). Resolves with the final view.
 */
export function watchJob(jobId, onEvent) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/events`);
    const handle = (kind) => (event) => {
      const view = JSON.parse(event.data);
      onEvent?.(view, kind);
      if (kind === "done" || kind === "failed" || kind === "canceled") {
        source.close();
        resolve(view);
      }
    };
    for (const kind of ["queued", "progress", "done", "failed", "canceled"]) {
      source.addEventListener(kind, handle(kind));
    }
    source.onerror = () => {
      // The stream ends after the final event; an error before that: read the job once.
      if (source.readyState === EventSource.CLOSED) return;
      source.close();
      get(`/api/jobs/${encodeURIComponent(jobId)}`).then((view) => {
        if (["succeeded", "failed", "canceled"].includes(view.status)) {
          const kind = view.status === "succeeded" ? "done" : view.status;
          onEvent?.(view, kind);
          resolve(view);
        } else {
          resolve(watchJob(jobId, onEvent));
        }
      }, reject);
    };
  });
}

/** The URL of an asset's image (optionally converted). */
export function fileUrl(assetId, format) {
  const q = format ? `?format=${encodeURIComponent(format)}` : "";
  return `/api/assets/${encodeURIComponent(assetId)}/file${q}`;
}
