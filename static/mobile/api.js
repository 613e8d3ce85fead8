// The phone page's JSON calls to /api/v1/mobile/, and the retry policy for steps that are safe to repeat.
//
// Every request goes out with credentials: "omit" (no cookie can link the anonymous mint and
// vote to the identity check) and no referrer. Retrying is safe here because every repeated
// request is idempotent on the server: the credential for the same session and blinded message
// returns the same signature, and a signed mint or vote sent again returns the same tracking
// code once it is committed.

const settings = { base: "/api/v1/mobile/", lang: "ko", messages: { unexpected: "", network_error: "" } };

/** Set the API root, the Accept-Language and the two messages the client makes itself. */
export function configureApi({ base, lang, messages }) {
  Object.assign(settings, { base, lang, messages });
}

/** An API refusal ({code, message, detail}) or a transport failure (status 0, code "network_error"). */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || settings.messages.unexpected);
    this.name = "ApiError";
    this.status = status;
    this.code = (body && body.code) || "http_error";
    this.detail = (body && body.detail) || {};
  }
}

export async function api(method, path, body, bearer) {
  const headers = { Accept: "application/json", "Accept-Language": settings.lang };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(settings.base + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
  } catch (_) {
    throw new ApiError(0, { code: "network_error", message: settings.messages.network_error });
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** True when the same request may simply be sent again: no answer, or the server/ledger was unavailable. */
export function isRetryable(error) {
  return error instanceof ApiError && (error.status === 0 || error.status === 502 || error.status === 503 || error.status === 504);
}

// About two minutes in all; after that the page shows the error and a "Try again" button (the
// unfinished vote stays on the device, so nothing is lost by stopping).
export const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000, 30000, 30000];

/** Resolve after `ms`, or as soon as the browser says it is back online. */
function pause(ms) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); globalThis.removeEventListener("online", done); resolve(); };
    const timer = setTimeout(done, ms);
    globalThis.addEventListener("online", done);
  });
}

/**
 * Run `work` until it succeeds, waiting RETRY_DELAYS_MS between attempts while it fails with a
 * retryable error; `onRetry(attempt, error)` is called before each wait (attempt = 1, 2, ...) and
 * `onRetry(0)` once it succeeds after a retry. Other errors, and the last one, are thrown.
 */
export async function withRetry(work, onRetry = () => {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await work();
      if (attempt > 0) onRetry(0, null);
      return result;
    } catch (error) {
      if (!isRetryable(error) || attempt >= RETRY_DELAYS_MS.length) {
        if (attempt > 0) onRetry(0, null);
        throw error;
      }
      onRetry(attempt + 1, error);
      await pause(RETRY_DELAYS_MS[attempt]);
    }
  }
}
