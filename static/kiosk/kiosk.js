// The voting booth (kiosk) page: welcome -> scan -> ballot -> review -> recorded (tracking code) -> reset.
//
// The token card's QR code holds the token's private key. It is decoded here (camera frames
// with the vendored jsQR, or typed by a keyboard-wedge scanner), turned into a non-extractable
// WebCrypto key by evote.js, used once to sign the vote and then forgotten. The server only
// ever receives the token *address* (to check the card) and the *signed* transaction.
//
// Delivery never loses or duplicates a vote: the signed transaction (never the key) is put in
// an outbox (memory and localStorage) before the first attempt and the very same bytes are
// resent with backoff until the server gives a final answer; the id is the same each time, so
// the ledger records it at most once. After a reload the outbox is delivered first.

const body = document.body;
const config = {
  api: body.dataset.api,
  pairUrl: body.dataset.pairUrl,
  evoteUrl: body.dataset.evote,
  csrf: body.dataset.csrf,
  defaultLang: body.dataset.lang || "ko",
  doneResetS: Number(body.dataset.doneReset || 30),
  idleResetS: Number(body.dataset.idleReset || 180),
};
const catalogues = JSON.parse(document.getElementById("kiosk-strings").textContent);
const OUTBOX_KEY = "evote-kiosk-outbox-v1";
const SCREENS = ["loading", "welcome", "scan", "ballot", "review", "sending", "done", "rejected"];
const DEFAULT_SCALE = 2;
const MAX_SCALE = 5;
const RETRY_MAX_MS = 10000;
const SAME_CARD_PAUSE_MS = 4000; // a card refused by the camera is not re-checked at every frame

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let evote = null;
let session = null;
let lang = config.defaultLang;
let screen = "loading";
let scale = DEFAULT_SCALE;
let voter = freshVoter();
let camera = { stream: null, timer: null, canvas: null };
let idleTimer = null;
let doneTimer = null;
let redirecting = false;

function freshVoter() {
  return { key: null, check: "", election: null, marks: [], scanBusy: false, queued: null, lastRefused: { tag: "", at: 0 } };
}

// --- texts -------------------------------------------------------------------------------------

function t(key, vars = {}) {
  let text = catalogues[lang].ui[key] ?? catalogues.en.ui[key] ?? key;
  for (const [name, value] of Object.entries(vars)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

function errorText(code, fallback) {
  return catalogues[lang].errors[code] || fallback || catalogues[lang].errors.vote_rejected;
}

/** Set a translatable text on `el` and remember it, so a language switch can redraw it. */
function setText(el, key, vars = {}) {
  el.dataset.tkey = key;
  el.dataset.tvars = JSON.stringify(vars);
  delete el.dataset.code;
  el.textContent = t(key, vars);
}

/** Show the message of an error code on `el` (empty code: clear). */
function setError(el, code, fallback = "") {
  delete el.dataset.tkey;
  if (!code) {
    delete el.dataset.code;
    el.textContent = "";
    return;
  }
  el.dataset.code = code;
  el.dataset.fallback = fallback;
  el.textContent = errorText(code, fallback);
}

function applyLanguage(next) {
  lang = catalogues[next] ? next : "ko";
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
  for (const el of document.querySelectorAll("[data-tkey]")) el.textContent = t(el.dataset.tkey, JSON.parse(el.dataset.tvars || "{}"));
  for (const el of document.querySelectorAll("[data-code]")) el.textContent = errorText(el.dataset.code, el.dataset.fallback);
  for (const button of document.querySelectorAll("[data-lang-switch]")) {
    button.setAttribute("aria-current", String(button.dataset.langSwitch === lang));
  }
  document.title = t("app_title");
}

// --- display preferences (reset for every voter) --------------------------------------------------

function applyScale(next) {
  scale = Math.min(MAX_SCALE, Math.max(1, next));
  const root = document.documentElement;
  for (let i = 1; i <= MAX_SCALE; i += 1) root.classList.toggle(`scale-${i}`, i === scale);
  $("text-smaller").disabled = scale === 1;
  $("text-larger").disabled = scale === MAX_SCALE;
}

function applyContrast(on) {
  document.documentElement.classList.toggle("contrast", on);
  $("contrast").setAttribute("aria-pressed", String(on));
}

// --- screens -------------------------------------------------------------------------------------

function showScreen(name, focusId = null) {
  screen = name;
  body.dataset.state = name;
  for (const id of SCREENS) $(`screen-${id}`).hidden = id !== name;
  if (name === "scan") startCamera(); else stopCamera();
  armIdleTimer();
  const target = $(focusId || `${name}-title`);
  if (target) target.focus();
}

function armIdleTimer() {
  clearTimeout(idleTimer);
  if (["scan", "ballot", "review"].includes(screen)) {
    idleTimer = setTimeout(resetBooth, config.idleResetS * 1000); // a voter who walked away
  }
}

/** Drop the token key and everything the last voter did; back to the welcome screen. */
function resetBooth() {
  clearTimeout(doneTimer);
  stopCamera();
  if (voter.key) voter.key.forget();
  voter = freshVoter();
  $("scan-input").value = "";
  $("ballot-options").replaceChildren();
  $("review-list").replaceChildren();
  $("review-check").textContent = "";
  $("tracking-code").textContent = "";
  $("tracking-code").removeAttribute("data-tracking-code");
  for (const id of ["scan-error", "ballot-error", "rejected-message"]) setError($(id), "");
  $("confirm").disabled = false;
  applyContrast(false);
  applyScale(DEFAULT_SCALE);
  applyLanguage(config.defaultLang);
  showScreen("welcome", "start");
  refreshSession();
}

// --- server --------------------------------------------------------------------------------------

async function callApi(path, { method = "GET", json, raw } = {}) {
  const headers = { Accept: "application/json" };
  let payload;
  if (method !== "GET") headers["X-CSRFToken"] = config.csrf;
  if (json !== undefined) payload = JSON.stringify(json);
  if (raw !== undefined) payload = raw;
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(config.api + path, { method, headers, body: payload, credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    return { ok: false, status: 0, code: "network", retryable: true, detail: {} };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (response.ok) return { ok: true, status: response.status, data };
  const code = (data && data.code) || `http_${response.status}`;
  if (["kiosk_not_paired", "kiosk_unknown", "kiosk_revoked"].includes(code)) {
    redirecting = true; // the outbox stays in localStorage and is delivered after pairing again
    window.location.assign(config.pairUrl);
  }
  const detail = (data && data.detail) || {};
  const retryable = response.status >= 500 || Boolean(detail.retryable);
  return { ok: false, status: response.status, code, message: data && data.message, detail, retryable };
}

async function loadSession() {
  for (;;) {
    const result = await callApi("session");
    if (redirecting) return false;
    if (result.ok && result.data.elections.length) {
      session = result.data;
      return true;
    }
    if (result.ok) {
      session = result.data;
      setText($("loading-message"), "no_election");
    } else {
      if (result.code === "network") setText($("loading-message"), "network");
      else setError($("loading-message"), result.code, result.message);
    }
    if (screen !== "loading") showScreen("loading");
    await sleep(5000);
  }
}

async function refreshSession() {
  const result = await callApi("session");
  if (result.ok) {
    session = result.data;
    if (!session.elections.length) {
      showScreen("loading");
      setText($("loading-message"), "no_election");
      if (await loadSession()) showScreen("welcome", "start");
    }
  }
}

// --- outbox --------------------------------------------------------------------------------------

function readOutbox() {
  try {
    const entries = JSON.parse(window.localStorage.getItem(OUTBOX_KEY) || "[]");
    return Array.isArray(entries) ? entries.filter((e) => e && typeof e.tx === "string" && typeof e.id === "string") : [];
  } catch (error) {
    return [];
  }
}

function writeOutbox(entries) {
  try {
    if (entries.length) window.localStorage.setItem(OUTBOX_KEY, JSON.stringify(entries));
    else window.localStorage.removeItem(OUTBOX_KEY);
  } catch (error) {
    // Storage full or disabled: the entry is still in memory and delivery goes on.
  }
}

function addToOutbox(entry) {
  writeOutbox([...readOutbox().filter((e) => e.id !== entry.id), entry]);
}

function removeFromOutbox(id) {
  writeOutbox(readOutbox().filter((e) => e.id !== id));
}

/** Send the same signed bytes until the server gives a final answer; never sign again. */
async function deliver(entry) {
  showScreen("sending");
  setText($("sending-title"), "sending_title");
  setText($("sending-body"), "sending_body");
  let delay = 1000;
  for (;;) {
    const result = await callApi("votes", { method: "POST", raw: entry.tx });
    if (redirecting) return;
    if (result.ok) {
      removeFromOutbox(entry.id);
      showDone(result.data);
      return;
    }
    if (!result.retryable) {
      removeFromOutbox(entry.id);
      showRejected(result.code, result.message);
      return;
    }
    body.dataset.state = "retrying";
    setText($("sending-title"), "retrying_title");
    setText($("sending-body"), "retrying_body");
    await sleep(delay);
    delay = Math.min(delay * 2, RETRY_MAX_MS);
  }
}

function showDone(receipt) {
  const code = receipt.tracking_code;
  const tracking = $("tracking-code");
  tracking.dataset.trackingCode = code;
  tracking.textContent = code.match(/.{1,8}/g).join(" ");
  setText($("done-body"), "done_body", { height: receipt.height ?? "?" });
  showScreen("done", "finish");
  let left = config.doneResetS;
  const tick = () => {
    setText($("reset-countdown"), "reset_in", { s: left });
    left -= 1;
    doneTimer = left < 0 ? setTimeout(resetBooth, 0) : setTimeout(tick, 1000);
  };
  tick();
}

function showRejected(code, message) {
  setError($("rejected-message"), code, message);
  showScreen("rejected");
}

// --- scanning ------------------------------------------------------------------------------------

async function handleScan(text, { typed = false } = {}) {
  if (screen !== "scan") return;
  if (voter.scanBusy) {
    if (typed) voter.queued = text; // a scanner read is never dropped while a camera read is checked
    return;
  }
  const tag = String(text).trim().slice(-9); // the printed check code: tells cards apart, no secret
  if (!typed && tag === voter.lastRefused.tag && Date.now() - voter.lastRefused.at < SAME_CARD_PAUSE_MS) return;
  voter.scanBusy = true;
  const error = $("scan-error");
  setText(error, "checking");
  try {
    const refusal = await checkCard(text);
    if (refusal) {
      voter.lastRefused = { tag, at: Date.now() };
      setError(error, refusal.code, refusal.message);
      $("scan-input").focus();
      return;
    }
    setError(error, "");
    renderBallot();
    showScreen("ballot", "ballot-first");
  } finally {
    voter.scanBusy = false;
    const queued = voter.queued;
    voter.queued = null;
    if (queued) handleScan(queued, { typed: true });
  }
}

/** Parse the card, ask the server about its address; keep the key only if the card is usable. */
async function checkCard(text) {
  let card;
  try {
    card = await evote.parseCard(text);
  } catch (error) {
    return { code: error.code || "card_malformed" };
  }
  const refuse = (code, message) => {
    card.key.forget();
    return { code, message };
  };
  if (card.chain !== session.chain) return refuse("token_wrong_election");
  const result = await callApi("token-check", {
    method: "POST", json: { election: card.election, address: card.key.address, chain: card.chain },
  });
  if (!result.ok) return refuse(result.code === "network" ? "ledger_unavailable" : result.code, result.message);
  let election = session.elections.find((e) => e.id === card.election);
  if (!election) {
    await refreshSession();
    election = session.elections.find((e) => e.id === card.election);
  }
  if (!election) return refuse("token_wrong_election");
  voter.key = card.key;
  voter.check = card.check;
  voter.election = election;
  return null;
}

async function startCamera() {
  const state = $("camera-state");
  const video = $("camera");
  if (camera.stream) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof window.jsQR !== "function") {
    video.classList.add("off");
    setText(state, "camera_off");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false,
    });
    if (screen !== "scan") {
      stream.getTracks().forEach((track) => track.stop());
      return;
    }
    camera.stream = stream;
    video.srcObject = stream;
    video.classList.remove("off");
    await video.play();
    setText(state, "camera_on");
    camera.canvas = document.createElement("canvas");
    scanFrames();
  } catch (error) {
    video.classList.add("off");
    setText(state, "camera_off");
  }
}

function scanFrames() {
  const video = $("camera");
  const context = camera.canvas.getContext("2d", { willReadFrequently: true });
  const tick = () => {
    if (!camera.stream) return;
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (width && height && !voter.scanBusy) {
      camera.canvas.width = width;
      camera.canvas.height = height;
      context.drawImage(video, 0, 0, width, height);
      const image = context.getImageData(0, 0, width, height);
      const found = window.jsQR(image.data, width, height, { inversionAttempts: "attemptBoth" });
      context.clearRect(0, 0, width, height);
      if (found && found.data) handleScan(found.data);
    }
    camera.timer = setTimeout(tick, 150);
  };
  tick();
}

function stopCamera() {
  clearTimeout(camera.timer);
  if (camera.stream) camera.stream.getTracks().forEach((track) => track.stop());
  camera = { stream: null, timer: null, canvas: null };
  $("camera").srcObject = null;
}

// --- ballot --------------------------------------------------------------------------------------

function renderBallot() {
  const election = voter.election;
  const multiple = election.choices > 1;
  $("ballot-election").textContent = election.title;
  if (multiple) setText($("ballot-hint"), "ballot_approval", { k: election.choices });
  else setText($("ballot-hint"), "ballot_single");
  const options = election.candidates.map((candidate, index) => {
    const label = document.createElement("label");
    label.className = "option";
    const input = document.createElement("input");
    input.type = multiple ? "checkbox" : "radio";
    input.name = "choice";
    input.value = candidate.address;
    if (index === 0) input.id = "ballot-first";
    const number = document.createElement("span");
    number.className = "number";
    number.textContent = String(candidate.position);
    const text = document.createElement("span");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = candidate.name;
    const party = document.createElement("span");
    party.className = "party";
    party.textContent = candidate.party || "";
    text.append(name, party);
    label.append(input, number, text);
    return label;
  });
  $("ballot-options").replaceChildren(...options);
  setError($("ballot-error"), "");
}

function readMarks() {
  return [...$("ballot-options").querySelectorAll("input:checked")].map((input) => input.value);
}

function onBallotChange(event) {
  const election = voter.election;
  if (!election || election.choices <= 1) return;
  const marks = readMarks();
  if (marks.length > election.choices) {
    event.target.checked = false;
    setText($("ballot-error"), "ballot_limit", { k: election.choices });
  } else {
    setError($("ballot-error"), "");
  }
}

function toReview(event) {
  event.preventDefault();
  const election = voter.election;
  const marks = readMarks();
  if (election.choices === 1 && marks.length !== 1) {
    setText($("ballot-error"), "ballot_need_one");
    return;
  }
  voter.marks = marks;
  const byAddress = new Map(election.candidates.map((c) => [c.address, c]));
  const items = marks.map((address) => {
    const item = document.createElement("li");
    const candidate = byAddress.get(address);
    item.textContent = `${candidate.position}. ${candidate.name}${candidate.party ? ` (${candidate.party})` : ""}`;
    return item;
  });
  if (!items.length) {
    const blank = document.createElement("li");
    setText(blank, "review_blank");
    items.push(blank);
  }
  $("review-list").replaceChildren(...items);
  $("review-check").textContent = voter.check;
  showScreen("review");
}

/** Sign once with the card's key, forget the key, put the signed vote in the outbox, deliver it. */
async function castVote() {
  const confirm = $("confirm");
  if (confirm.disabled || !voter.key) return;
  confirm.disabled = true;
  const election = voter.election;
  const marks = [...voter.marks].sort(); // protocol 10.7: approval marks in ascending address order
  const to = election.choices === 1 ? marks[0] : marks;
  let built;
  try {
    built = await evote.buildTx(
      { chain: session.chain, contract: "vote", type: "transfer", payload: { election: election.id, to }, nonce: 0 },
      voter.key,
    );
  } catch (error) {
    showRejected(error.code || "vote_rejected");
    return;
  } finally {
    voter.key.forget();
    voter.key = null;
  }
  const entry = { id: built.id, tx: new TextDecoder().decode(built.bytes), at: Date.now() };
  addToOutbox(entry);
  await deliver(entry);
}

// --- wiring --------------------------------------------------------------------------------------

function bindEvents() {
  $("start").addEventListener("click", () => showScreen("scan", "scan-input"));
  $("scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("scan-input");
    const text = input.value;
    input.value = "";
    if (text.trim()) handleScan(text, { typed: true });
  });
  $("ballot-form").addEventListener("submit", toReview);
  $("ballot-options").addEventListener("change", onBallotChange);
  $("back").addEventListener("click", () => showScreen("ballot", "ballot-first"));
  $("confirm").addEventListener("click", castVote);
  for (const button of document.querySelectorAll("[data-action=reset]")) button.addEventListener("click", resetBooth);
  for (const button of document.querySelectorAll("[data-lang-switch]")) {
    button.addEventListener("click", () => applyLanguage(button.dataset.langSwitch));
  }
  $("text-smaller").addEventListener("click", () => applyScale(scale - 1));
  $("text-larger").addEventListener("click", () => applyScale(scale + 1));
  $("contrast").addEventListener("click", () => applyContrast(!document.documentElement.classList.contains("contrast")));
  document.addEventListener("keydown", (event) => {
    armIdleTimer();
    // A keyboard-wedge scanner types wherever the focus is: on the scan screen, send it to the field.
    if (screen === "scan" && event.key.length === 1 && document.activeElement !== $("scan-input")
        && !event.ctrlKey && !event.altKey && !event.metaKey) {
      $("scan-input").focus();
    }
  });
  document.addEventListener("pointerdown", armIdleTimer);
}

async function main() {
  bindEvents();
  applyLanguage(config.defaultLang);
  applyScale(DEFAULT_SCALE);
  try {
    evote = await import(config.evoteUrl);
  } catch (error) {
    setText($("loading-message"), "network");
    return;
  }
  if (!(await loadSession())) return;
  const pending = readOutbox();
  for (const entry of pending) {
    await deliver(entry); // a vote signed before a reload or power loss goes out first
    if (redirecting) return;
  }
  if (!pending.length) showScreen("welcome", "start");
  body.dataset.ready = "1";
}

main();
