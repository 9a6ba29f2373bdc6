// The JSON API (/api/v1), called exactly as any third-party app calls it: a bearer token
// from POST /sessions, RFC 9457 problems for errors, Idempotency-Key on every sale.
// The token lives in sessionStorage only (gone when the tab or app closes) and is never
// cached by the service worker.

const BASE = "/api/v1";
const STORE = "evd.session";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

// The request never reached an answer (offline, connection dropped): safe to send again
// with the same Idempotency-Key.
export class NetworkError extends Error {}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || "null");
  } catch {
    return null;
  }
}

export function saveSession(value) {
  if (value) sessionStorage.setItem(STORE, JSON.stringify(value));
  else sessionStorage.removeItem(STORE);
}

// A fresh key per purchase attempt: retries of that attempt reuse it, so the server makes
// at most one sale for it (a double tap, a retry after a dropped connection).
export function newIdempotencyKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "app-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function call(method, path, { body, idempotencyKey, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  const current = session();
  if (auth && current) headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(path.startsWith("/") ? path : `${BASE}/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    throw new NetworkError("No connection to the server. Check your network and try again.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && auth) {
    saveSession(null);
    window.dispatchEvent(new CustomEvent("evd:signed-out", { detail: data }));
  }
  if (!response.ok) throw new ApiError(response.status, data);
  const retryAfter = Number(response.headers.get("Retry-After"));
  return {
    status: response.status,
    data,
    location: response.headers.get("Location"),
    // Seconds to wait before polling a pending sale again (bounded: 1-30 s).
    retryAfter: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(30, Math.max(1, retryAfter)) : null,
  };
}

export const api = {
  signIn: (credentials) => call("POST", "sessions", { body: credentials, auth: false }),
  signOut: () => call("DELETE", "sessions/current"),
  me: () => call("GET", "sessions/current"),
  account: () => call("GET", "account"),
  statement: (cursor) => call("GET", `account/statement?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
  products: () => call("GET", "products"),
  meter: (number) => call("GET", `meters/${encodeURIComponent(number)}`),
  sell: (body, key) => call("POST", "sales", { body, idempotencyKey: key }),
  sale: (id) => call("GET", `sales/${encodeURIComponent(id)}`),
  sales: (cursor) => call("GET", `sales?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
  billers: () => call("GET", "billers"),
  fetchBill: (body) => call("POST", "bills/fetch", { body }),
  payBill: (body, key) => call("POST", "bills/payments", { body, idempotencyKey: key }),
  beneficiaries: (mobile) => call("GET", `remitters/${encodeURIComponent(mobile)}/beneficiaries`),
  addBeneficiary: (mobile, body) => call("POST", `remitters/${encodeURIComponent(mobile)}/beneficiaries`, { body }),
  transferFee: (amount) => call("GET", `transfers/fee?amount=${encodeURIComponent(amount)}`),
  transfer: (body, key) => call("POST", "transfers", { body, idempotencyKey: key }),
  askFunds: (body) => call("POST", "fund-requests", { body }),
  fundRequests: () => call("GET", "fund-requests?limit=20"),
  points: () => call("GET", "points"),
  pointsStatement: () => call("GET", "points/statement?limit=20"),
  redeem: (points, key) => call("POST", "points/redemptions", { body: { points }, idempotencyKey: key }),
  // Only our own API's pending-sale and order locations are followed.
  byLocation: (location) => {
    if (!/^\/api\/v1\/(sales\/by-key\/[^/]+|orders\/EV[0-9]{18})$/.test(location)) {
      throw new ApiError(0, { detail: "unexpected location" });
    }
    return call("GET", location);
  },
};
