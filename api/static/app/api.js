/* The JSON API: requests with the person's key, errors as ApiError with words a person can act on. */
import { t } from "./i18n.js";
import { state } from "./store.js";

/** ``extra`` headers plus the key's Authorization header when there is a key. */
export function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.key) h.Authorization = "Bearer " + state.key;
  return h;
}

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

/** ``method path`` with ``body`` as JSON; the answer's JSON, or an ApiError. */
export async function api(method, path, body) {
  const init = { method: method, headers: headers(body !== undefined ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(res.status, err.type || "error", explain(res.status, err));
  }
  return data;
}

/** What an error answer means to a person: a missing key, a query-only key, else the server's words. */
export function explain(status, err) {
  if (status === 401) return t("needKey");
  if (status === 403 && /query_keys/.test(err.message || "")) return t("queryKeyOnly");
  return err.message || ("HTTP " + status);
}

export const collectionParam = (name) => "collection=" + encodeURIComponent(name);
