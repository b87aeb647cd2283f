// The console's session and its calls to the api (docs/api.md). Tokens live in this
// module's memory only: never in localStorage, sessionStorage or a cookie, so another
// tab, an extension reading storage, or a reload gets nothing (a reload signs out).
// The refresh token rotates: each use returns a new one (the old one is spent), well
// before the 15-minute access token ends. No input for IDLE_MS signs out.

export const IDLE_MS = 10 * 60 * 1000;

let session = null; // {access, refresh, user, role}
let refreshTimer = null;
let idleTimer = null;
let signedOutHandler = () => {};
let rulesCache = null;

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export function onSignedOut(handler) {
  signedOutHandler = handler;
}

export function signedIn() {
  return session !== null;
}

export function user() {
  return session ? { id: session.user, role: session.role } : null;
}

/** The current access token, for the live socket's subprotocol. */
export function accessToken() {
  return session ? session.access : null;
}

function claims(jwt) {
  const part = jwt.split(".")[1] || "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(json);
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status alone
  }
  const e = (body && body.error) || {};
  return new ApiError(response.status, e.code || "http_" + response.status, e.message || response.statusText, e.field);
}

function adopt(tokens) {
  const c = claims(tokens.access_token);
  session = { access: tokens.access_token, refresh: tokens.refresh_token, user: c.sub, role: c.role };
  clearTimeout(refreshTimer);
  // A minute before the access token ends (at least half its life).
  const lead = Math.max(tokens.expires_in / 2, tokens.expires_in - 60);
  refreshTimer = setTimeout(() => rotate().catch(() => end("expired")), lead * 1000);
  touch();
}

async function post(path, body) {
  return fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
  });
}

export async function login(userId, password) {
  const response = await post("/v1/auth/login", { user: userId, password });
  if (!response.ok) throw await errorOf(response);
  begin(await response.json());
}

function begin(tokens) {
  adopt(tokens);
  for (const kind of ["pointerdown", "keydown", "wheel"]) {
    document.addEventListener(kind, touch, { passive: true });
  }
}

/** How this api lets one sign in: `{password, oidc: {name, start} | null}`. */
export async function signInOptions() {
  const response = await fetch("/v1/auth/config", { credentials: "omit" });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/**
 * Where the provider's sign-in starts, coming back to `page` (a `#/…` hash) of the
 * console. The api refuses any return path but the console's.
 */
export function oidcStartUrl(start, page) {
  const plain = /^#[A-Za-z0-9/_.~%-]*$/.test(page || "") && !/\.\.|\/\//.test(page);
  return `${start}?return_to=${encodeURIComponent("/console/" + (plain ? page : ""))}`;
}

/**
 * Whether this load is the end of an OIDC sign-in (the api's callback sent the browser
 * to `/console/?signin=oidc`); the marker leaves the address bar either way.
 */
export function returningFromOidc() {
  const params = new URLSearchParams(location.search);
  if (params.get("signin") !== "oidc") return false;
  history.replaceState(null, "", location.pathname + location.hash);
  return true;
}

/**
 * The code of a refused OIDC sign-in, when the api sent the browser back to
 * `/console/?signin_error=<code>` (docs/console.md, "Sign-in"), else null; the marker
 * leaves the address bar either way. Only a code: the sign-in page says what it means.
 */
export function oidcRefusal() {
  const params = new URLSearchParams(location.search);
  const code = params.get("signin_error");
  if (code === null) return null;
  history.replaceState(null, "", location.pathname + location.hash);
  return code;
}

/**
 * Takes over the session the OIDC callback began: its one-time, HttpOnly cookie is the
 * only credential this call sends; the tokens it answers live in memory like a
 * password login's.
 */
export async function finishOidc() {
  const response = await fetch("/v1/auth/oidc/session", { method: "POST", credentials: "same-origin" });
  if (!response.ok) throw await errorOf(response);
  begin(await response.json());
}

/** Trades the refresh token for a new pair (rotation). */
async function rotate() {
  if (!session) throw new ApiError(401, "unauthorized", "signed out");
  const response = await post("/v1/auth/refresh", { refresh_token: session.refresh });
  if (!response.ok) throw await errorOf(response);
  adopt(await response.json());
}

function touch() {
  if (!session) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => logout("idle"), IDLE_MS);
}

function end(reason) {
  const had = session !== null;
  session = null;
  clearTimeout(refreshTimer);
  clearTimeout(idleTimer);
  rulesCache = null;
  if (had) signedOutHandler(reason);
}

/** Ends the session on the server too (its tokens stop working at once). */
export async function logout(reason = "logout") {
  const refresh = session && session.refresh;
  end(reason);
  if (refresh) {
    try {
      await post("/v1/auth/logout", { refresh_token: refresh });
    } catch {
      // signed out here either way; the access token ends within 15 min
    }
  }
}

/**
 * Calls a `/v1` route with the bearer token. A 401 gets one rotation and one retry;
 * a disabled account (403 account_disabled) is signed out at once.
 */
export async function call(method, path, body) {
  const response = await request(method, path, body);
  return response.status === 204 ? null : response.json();
}

/**
 * Every page of a list route (docs/api.md, "Alerts": a full page carries `x-next-cursor`);
 * `path` already has a query.
 */
export async function callAll(path) {
  const all = [];
  for (let cursor = null; ; ) {
    const page = cursor === null ? path : `${path}&cursor=${encodeURIComponent(cursor)}`;
    const response = await request("GET", page);
    all.push(...(await response.json()));
    cursor = response.headers.get("x-next-cursor");
    if (!cursor) return all;
  }
}

/** `call`'s request: the response once it is a success. */
async function request(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    if (!session) throw new ApiError(401, "unauthorized", "signed out");
    const response = await fetch(path, {
      method,
      headers: Object.assign(
        { authorization: "Bearer " + session.access },
        body === undefined ? {} : { "content-type": "application/json" },
      ),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
    if (response.ok) return response;
    const error = await errorOf(response);
    if (error.status === 401 && attempt === 0) {
      try {
        await rotate();
        continue;
      } catch {
        end("expired");
        throw error;
      }
    }
    if (error.code === "account_disabled") end("disabled");
    else if (error.status === 401) end("expired");
    throw error;
  }
}

/** Every rule's description, technical flag and unit (served from the rule table). */
export async function rules() {
  if (!rulesCache) {
    const response = await fetch("/console/rules.json", { credentials: "omit" });
    rulesCache = await response.json();
  }
  return rulesCache;
}

/** A live socket of the api (docs/live.md): the token travels as a subprotocol. */
function socketAt(path) {
  return new WebSocket(`wss://${location.host}${path}`, ["cardiowatch.v1", "bearer." + session.access]);
}

/** The live socket of one patient (docs/live.md). */
export function liveSocket(patient) {
  return socketAt(`/v1/patients/${encodeURIComponent(patient)}/live`);
}

/** The worklist's one live socket: alert changes of all the caller's patients (docs/live.md). */
export function worklistSocket() {
  return socketAt("/v1/alerts/live");
}
