// Voting in a community poll from the browser: the ballot is signed here, the server only relays.
//
// Open polls: a fresh P-256 key (evote.js, WebCrypto) signs the `cast`; the request carries the
// member's session (and CSRF token) so that the server can register this key's address for the
// member right before relaying the cast. Anonymous polls: the member's session buys one blind
// signature (blindrsa.js, RFC 9474) over the credential message for this key's address; the
// `enrol` and `cast` then go out with credentials: "omit", so no cookie joins them to the member.
//
// Outbox: the key (a non-extractable CryptoKey), the blinding state, the credential and each
// signed transaction are written to IndexedDB before they are sent, so a reload or a lost answer
// resumes with the very same bytes (same transaction id = same tracking code; the ledger never
// counts a second cast). After success only the receipt stays.
import { EvoteError, TokenKey, buildTx, canonicalBytes, hexDecode, hexEncode } from "../ledger/evote.js";
import { blind, finalize } from "../ledger/blindrsa.js";
import { ApiError, configureApi, withRetry } from "../mobile/api.js";

const CREDENTIAL_TAG = "EVOTE-POLL-CREDENTIAL-V1"; // docs/protocol.md, poll contract: credential message
const app = document.getElementById("poll-app");
const $ = (id) => document.getElementById(id);
const T = JSON.parse($("poll-strings").textContent);
const POLL = app.dataset.poll;
const METHOD = app.dataset.method;
const K = Number(app.dataset.choices || 0);
const SCORE_MAX = Number(app.dataset.scoreMax || 0);
const ANONYMOUS = app.dataset.anonymous === "1";
const API = app.dataset.api;
const LANG = app.dataset.lang || document.documentElement.lang || "ko";
configureApi({ base: API, lang: LANG, messages: { unexpected: T.unexpected, network_error: T.network_error } });

// --- small page helpers ---------------------------------------------------------------------------

function say(text) { $("poll-status").textContent = text || ""; }

function fail(error) {
  const box = $("poll-error");
  box.textContent = (error && error.message) || T.unexpected;
  box.dataset.code = (error && error.code) || "unexpected";
  box.hidden = false;
  say("");
}

function clearError() { $("poll-error").hidden = true; $("poll-error").textContent = ""; }

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
}

function onRetry(attempt) { say(attempt ? format(T.still_trying, { attempt }) : ""); }

// --- the server -------------------------------------------------------------------------------------

function csrfToken() {
  const input = app.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

/** POST to the poll API; `session` sends the member's cookie and CSRF token, otherwise no cookie at all. */
async function post(path, body, { session }) {
  const headers = { Accept: "application/json", "Accept-Language": LANG, "Content-Type": "application/json" };
  if (session) headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(API + path, {
      method: "POST", headers, body: JSON.stringify(body), cache: "no-store",
      credentials: session ? "same-origin" : "omit", referrerPolicy: session ? "same-origin" : "no-referrer",
    });
  } catch (_) {
    throw new ApiError(0, { code: "network_error", message: T.network_error });
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function getPoll() {
  const response = await fetch(API, { headers: { Accept: "application/json", "Accept-Language": LANG },
                                      credentials: "omit", cache: "no-store" });
  const data = await response.json();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- the outbox (IndexedDB; see the header) -----------------------------------------------------------

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function openStore() {
  if (!globalThis.indexedDB) return null;
  const request = indexedDB.open("evote-polls", 1);
  request.onupgradeneeded = () => {
    request.result.createObjectStore("pending", { keyPath: "poll" });
    request.result.createObjectStore("receipts", { keyPath: "poll" });
  };
  try {
    const db = await promised(request);
    const run = (name, mode, work) => promised(work(db.transaction(name, mode, { durability: "strict" }).objectStore(name)));
    return {
      pending: () => run("pending", "readonly", (s) => s.get(POLL)),
      receipt: () => run("receipts", "readonly", (s) => s.get(POLL)),
      save: (record) => run("pending", "readwrite", (s) => s.put(record)),
      finish: async (receipt) => {
        await run("receipts", "readwrite", (s) => s.put(receipt));
        await run("pending", "readwrite", (s) => s.delete(POLL));
      },
    };
  } catch (_) {
    return null; // private mode and the like: the vote still works, it just cannot resume
  }
}

const memoryStore = { record: null, pending: async () => memoryStore.record, receipt: async () => null,
                      save: async (r) => { memoryStore.record = r; }, finish: async () => { memoryStore.record = null; } };

// --- reading the ballot -------------------------------------------------------------------------------

function invalid(message) { return new EvoteError("ballot_incomplete", message); }

/** The ballot in the exact form the contract takes (docs/protocol.md, poll contract, `cast`). */
function readBallot() {
  const form = $("ballot-form");
  if (METHOD === "single" || METHOD === "yna") {
    const checked = form.querySelector("input[name=choice]:checked");
    if (!checked) throw invalid(T.choose_one);
    return checked.value;
  }
  if (METHOD === "multi") {
    const marks = [...form.querySelectorAll("input[name=choice]:checked")].map((input) => input.value).sort();
    if (marks.length === 0) throw invalid(T.choose_one);
    if (marks.length > K) throw invalid(format(T.choose_up_to, { k: K }));
    return marks;
  }
  if (METHOD === "ranked") {
    const ranking = [...$("ranking").children].map((item) => item.dataset.option);
    if (ranking.length === 0) throw invalid(T.rank_first);
    return ranking;
  }
  const scores = {};
  for (const input of form.querySelectorAll("input[name=score]")) {
    const value = Number(input.value);
    if (input.value.trim() === "" || !Number.isInteger(value) || value < 0 || value > SCORE_MAX) throw invalid(T.score_all);
    scores[input.dataset.option] = value;
  }
  return scores;
}

// --- ballot controls ----------------------------------------------------------------------------------

function setUpMulti() {
  const boxes = [...$("ballot-form").querySelectorAll("input[name=choice]")];
  const update = () => {
    const count = boxes.filter((box) => box.checked).length;
    for (const box of boxes) box.disabled = !box.checked && count >= K;
    $("multi-count").textContent = format(T.marked, { n: count, k: K });
  };
  for (const box of boxes) box.addEventListener("change", update);
  update();
}

function button(label, action, extra = "") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = `button small ${extra}`.trim();
  element.textContent = label;
  element.dataset.action = action;
  return element;
}

/** Ranked ballot: "Add" moves an option to the end of the ranking; Up/Down/Remove reorder it (all buttons, so keyboard-only works). */
function setUpRanked() {
  const ranking = $("ranking");
  const unranked = $("unranked");
  const render = () => {
    for (const item of [...ranking.children, ...unranked.children]) {
      for (const old of item.querySelectorAll("button")) old.remove();
      const name = item.querySelector(".name").textContent;
      if (item.parentElement === ranking) {
        const up = button(T.up, "up");
        const down = button(T.down, "down");
        up.disabled = !item.previousElementSibling;
        down.disabled = !item.nextElementSibling;
        for (const b of [up, down, button(T.remove, "remove")]) { b.setAttribute("aria-label", `${b.textContent}: ${name}`); item.append(" ", b); }
      } else {
        const add = button(T.add, "add");
        add.setAttribute("aria-label", `${T.add}: ${name}`);
        item.append(" ", add);
      }
    }
    $("ranking-empty").hidden = ranking.children.length > 0;
  };
  const handle = (event) => {
    const target = event.target.closest("button[data-action]");
    if (!target) return;
    const item = target.closest("li");
    const action = target.dataset.action;
    if (action === "add") ranking.append(item);
    else if (action === "remove") unranked.append(item);
    else if (action === "up" && item.previousElementSibling) item.previousElementSibling.before(item);
    else if (action === "down" && item.nextElementSibling) item.nextElementSibling.after(item);
    render();
    const again = item.querySelector(`button[data-action="${action}"]:not([disabled])`) || item.querySelector("button:not([disabled])");
    if (again) again.focus();
  };
  ranking.addEventListener("click", handle);
  unranked.addEventListener("click", handle);
  render();
}

// --- casting ------------------------------------------------------------------------------------------

async function newRecord(store, ballot) {
  const info = await getPoll();
  const previous = await store.pending();
  // Keep the key of an earlier unfinished attempt: an open poll registers one address per member.
  const key = previous ? await TokenKey.fromStorable(previous.key) : await TokenKey.generate();
  let record = { poll: POLL, chain: info.chain, credentialKey: info.credential_key, key: key.toStorable(), ballot,
                 stage: "signed" };
  if (ANONYMOUS) {
    if (previous) {
      // The same blinded request (or the credential it became): a second one would be refused.
      record = { ...previous, ballot, castTx: undefined };
    } else {
      const message = canonicalBytes([CREDENTIAL_TAG, info.chain, POLL, key.address]);
      const { blindedMsg, inv, inputMsg } = await blind(info.credential_key, message);
      record = { ...record, stage: "blinded",
                 blinding: { blindedMsg: hexEncode(blindedMsg), inputMsg: hexEncode(inputMsg), inv: inv.toString(16) } };
    }
  } else {
    const { tx } = await buildTx({ chain: info.chain, contract: "poll", type: "cast",
                                   payload: { poll: POLL, ballot } }, key);
    record = { ...record, castTx: tx };
  }
  await store.save(record);
  return record;
}

/** Finish `record` from its stage; every step is saved before the next and safe to repeat. */
async function finish(store, record) {
  const key = await TokenKey.fromStorable(record.key);
  if (record.stage === "blinded") {
    say(T.step_credential);
    const answer = await withRetry(() => post("credential", { blinded_msg: record.blinding.blindedMsg }, { session: true }), onRetry);
    const credential = await finalize(record.credentialKey, hexDecode(record.blinding.inputMsg),
                                      hexDecode(answer.blind_sig), BigInt(`0x${record.blinding.inv}`));
    const { blinding: _dropped, ...rest } = record;
    record = { ...rest, stage: "credential", credential: hexEncode(credential) };
    await store.save(record);
  }
  if (record.stage === "credential") {
    say(T.step_enrol);
    if (!record.enrolTx) {
      const { tx } = await buildTx({ chain: record.chain, contract: "poll", type: "enrol",
                                     payload: { poll: POLL, address: key.address, credential: record.credential } }, key);
      record = { ...record, enrolTx: tx };
      await store.save(record);
    }
    await withRetry(() => post("enrol", { tx: record.enrolTx }, { session: false }), onRetry);
    record = { ...record, stage: "enrolled" };
    await store.save(record);
  }
  say(T.step_cast);
  if (!record.castTx) {
    const { tx } = await buildTx({ chain: record.chain, contract: "poll", type: "cast",
                                   payload: { poll: POLL, ballot: record.ballot } }, key);
    record = { ...record, castTx: tx };
    await store.save(record);
  }
  const answer = ANONYMOUS
    ? await withRetry(() => post("anonymous-cast", { tx: record.castTx }, { session: false }), onRetry)
    : await withRetry(() => post("cast", { tx: record.castTx }, { session: true }), onRetry);
  const receipt = { poll: POLL, tracking: answer.tracking_code, height: answer.height, savedAt: Date.now() };
  await store.finish(receipt);
  key.forget();
  return receipt;
}

function showReceipt(receipt) {
  const form = $("ballot-form");
  if (form) form.hidden = true;
  $("resume-button").hidden = true;
  $("tracking-code").textContent = receipt.tracking;
  $("receipt-link").href = app.dataset.receipt.replace(/0{64}$/, receipt.tracking);
  $("receipt").hidden = false;
  say(T.done);
}

async function run(store, work) {
  clearError();
  const castButton = $("cast-button");
  if (castButton) castButton.disabled = true;
  try {
    showReceipt(await work());
  } catch (error) {
    if (!(error instanceof ApiError || error instanceof EvoteError)) console.error(error);
    fail(error);
    const pending = await store.pending();
    // A refused cast can be re-signed with another ballot by the same key; other steps resume as saved.
    if (pending && pending.castTx && error instanceof ApiError && error.status === 409) {
      await store.save({ ...pending, castTx: undefined });
    }
  } finally {
    if (castButton) castButton.disabled = false;
  }
}

async function start() {
  if (!globalThis.crypto || !crypto.subtle) {
    fail(new EvoteError("browser_unsupported", T.browser_unsupported));
    return;
  }
  const store = (await openStore()) || memoryStore;
  const receipt = await store.receipt();
  if (receipt) {
    showReceipt(receipt);
    return;
  }
  const form = $("ballot-form");
  if (!form) return;
  if (METHOD === "multi") setUpMulti();
  if (METHOD === "ranked") setUpRanked();
  const pending = await store.pending();
  if (pending && (pending.castTx || pending.stage !== "signed")) {
    say(T.resume);
    $("resume-button").hidden = false;
    $("resume-button").addEventListener("click", () => run(store, async () => finish(store, await store.pending())));
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(store, async () => {
      const ballot = readBallot();
      say(T.step_sign);
      return finish(store, await newRecord(store, ballot));
    });
  });
}

start();
