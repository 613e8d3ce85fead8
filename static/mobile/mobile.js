// Mobile voting in the browser: SMS code -> anonymous credential (RFC 9474 blind signature) -> mint -> vote.
//
// The token key is made here (WebCrypto via evote.js) and never leaves this page's memory;
// the server sees the session and a blinded message, never the address. The session is
// dropped as soon as the blind signature arrives, and the mint and the vote are sent with
// no session and no cookies (credentials: "omit"), so the server cannot join them. Nothing
// is persisted: a reload starts over (a credential already issued cannot be issued again,
// which is the price of never writing the session next to the address).
import { EvoteError, TokenKey, buildTx, candidateAddress, hexDecode, hexEncode } from "../ledger/evote.js";
import { blind, credentialMessage, finalize } from "../ledger/blindrsa.js";

const app = document.getElementById("app");
const API = app.dataset.api;
const LANG = app.dataset.lang || document.documentElement.lang || "ko";
const T = JSON.parse(document.getElementById("mobile-strings").textContent);
const MINT_DELAY_MAX_MS = Number(app.dataset.mintDelayMaxMs || 0);
const $ = (id) => document.getElementById(id);

// Everything the flow needs, in memory only.
const state = { elections: [], election: null, challenge: null, key: null, marks: [] };

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || T.unexpected);
    this.status = status;
    this.code = (body && body.code) || "http_error";
    this.detail = (body && body.detail) || {};
  }
}

async function api(method, path, body, bearer) {
  const headers = { Accept: "application/json", "Accept-Language": LANG };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(API + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
  } catch (_) {
    throw new ApiError(0, { code: "network_error", message: T.network_error });
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function show(name) {
  for (const section of document.querySelectorAll(".screen")) section.hidden = section.id !== `screen-${name}`;
  const heading = document.querySelector(`#screen-${name} h2`);
  if (heading) heading.focus();
}

function say(text) { $("status").textContent = text || ""; }

function fail(error) {
  const box = $("error");
  box.textContent = error instanceof ApiError || error instanceof EvoteError ? error.message : T.unexpected;
  box.dataset.code = error.code || "unexpected";
  box.hidden = false;
  say("");
}

function clearError() { $("error").hidden = true; $("error").textContent = ""; delete $("error").dataset.code; }

async function busy(button, work) {
  clearError();
  if (button) button.disabled = true;
  try { await work(); } catch (error) { fail(error); } finally { if (button) button.disabled = false; }
}

// --- 1. elections ------------------------------------------------------------------------------------------

function formatTime(iso) {
  return new Date(iso).toLocaleString(LANG === "ko" ? "ko-KR" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}

async function loadElections() {
  say(T.loading);
  state.elections = await api("GET", "elections/");
  const list = $("election-list");
  list.replaceChildren();
  for (const election of state.elections) {
    // Never trust the server's candidate addresses: derive them (protocol 10.1).
    for (const candidate of election.candidates) {
      if ((await candidateAddress(election.id, candidate.id)) !== candidate.address) {
        throw new EvoteError("candidate_address_mismatch", T.unexpected);
      }
    }
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.election = election.id;
    button.textContent = election.title;
    const when = document.createElement("small");
    when.textContent = election.status === "open"
      ? `${T.closes} ${formatTime(election.closes_at)}`
      : `${T.not_open_yet} · ${T.opens} ${formatTime(election.opens_at)}`;
    button.append(when);
    button.disabled = election.status !== "open";
    button.addEventListener("click", () => { state.election = election; show("identity"); });
    item.append(button);
    list.append(item);
  }
  say(state.elections.length ? "" : T.no_elections);
}

// --- 2. identity and code ----------------------------------------------------------------------------------

$("identity-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const button = event.submitter;
  busy(button, async () => {
    say(T.sending_code);
    const answer = await api("POST", "otp/request", {
      election: state.election.id, phone: $("phone").value.trim(), birth_date: $("birth-date").value,
    });
    state.challenge = answer.challenge;
    $("code-help").textContent = T.code_sent;
    $("code").value = "";
    say("");
    show("code");
  });
});

$("code-restart").addEventListener("click", () => { state.challenge = null; clearError(); show("identity"); });

$("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const button = event.submitter;
  busy(button, async () => {
    say(T.checking_code);
    const answer = await api("POST", "otp/verify", { challenge: state.challenge, code: $("code").value.trim() });
    state.challenge = null;
    await obtainCredentialAndMint(answer.session);
    renderBallot();
    show("ballot");
  });
});

// --- 3. the anonymous credential ---------------------------------------------------------------------------

function randomPause(maxMs) {
  if (!(maxMs > 0)) return Promise.resolve();
  const draw = crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32;
  return new Promise((resolve) => setTimeout(resolve, Math.floor(draw * maxMs)));
}

async function obtainCredentialAndMint(session) {
  say(T.preparing);
  if (!globalThis.crypto || !crypto.subtle) throw new EvoteError("browser_unsupported", T.browser_unsupported);
  const election = state.election;
  const key = await TokenKey.generate();
  const message = await credentialMessage(election.chain, election.id, key.address);
  const { blindedMsg, inv, inputMsg } = await blind(election.credential_key, message);
  const { blind_sig: blindSig } = await api("POST", "credential", { blinded_msg: hexEncode(blindedMsg) }, session);
  session = null; // used once; never sent again, never stored
  const credential = await finalize(election.credential_key, inputMsg, hexDecode(blindSig), inv);
  await randomPause(MINT_DELAY_MAX_MS); // harder to pair the credential request and the mint by time
  const { tx } = await buildTx({
    chain: election.chain, contract: "vote", type: "mint_credential",
    payload: { election: election.id, station: "mobile", address: key.address, credential: hexEncode(credential) },
  }, key);
  await api("POST", "mint", { tx });
  state.key = key;
  say(T.credential_ok);
}

// --- 4. ballot, confirm, cast ------------------------------------------------------------------------------

function renderBallot() {
  const election = state.election;
  const single = election.choices === 1;
  $("h-ballot").textContent = election.title;
  $("ballot-legend").textContent = single ? T.choose_one : T.choose_up_to.replace("%(k)s", String(election.choices));
  const options = $("ballot-options");
  options.replaceChildren();
  for (const candidate of election.candidates) {
    const label = document.createElement("label");
    label.className = "option";
    const input = document.createElement("input");
    input.type = single ? "radio" : "checkbox";
    input.name = "candidate";
    input.value = candidate.id;
    const name = document.createElement("span");
    name.textContent = candidate.name;
    label.append(input, name);
    if (candidate.party) {
      const party = document.createElement("span");
      party.className = "party";
      party.textContent = `· ${candidate.party}`;
      label.append(party);
    }
    if (!single) {
      input.addEventListener("change", () => {
        const checked = options.querySelectorAll("input:checked").length;
        for (const box of options.querySelectorAll("input")) box.disabled = !box.checked && checked >= election.choices;
      });
    }
    options.append(label);
  }
}

$("ballot-form").addEventListener("submit", (event) => {
  event.preventDefault();
  clearError();
  const election = state.election;
  const chosen = [...$("ballot-options").querySelectorAll("input:checked")].map((input) => input.value);
  if (election.choices === 1 && chosen.length !== 1) { fail(new EvoteError("no_choice", T.choose_first)); return; }
  state.marks = chosen;
  const list = $("confirm-list");
  list.replaceChildren();
  const names = election.candidates.filter((c) => chosen.includes(c.id)).map((c) => c.name);
  for (const name of names.length ? names : [T.review_none]) {
    const item = document.createElement("li");
    item.textContent = name;
    list.append(item);
  }
  show("confirm");
});

$("change").addEventListener("click", () => show("ballot"));

$("cast").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const election = state.election;
  say(T.casting);
  const byId = Object.fromEntries(election.candidates.map((c) => [c.id, c.address]));
  const marks = state.marks.map((id) => byId[id]).sort();
  const to = election.choices === 1 ? marks[0] : marks; // approval: ascending addresses (protocol 10.7)
  const { tx } = await buildTx({ chain: election.chain, contract: "vote", type: "transfer",
                                 payload: { election: election.id, to } }, state.key);
  const result = await api("POST", "vote", { tx });
  state.key.forget();
  state.key = null;
  state.marks = [];
  $("tracking-code").textContent = result.tracking_code;
  $("done-height").textContent = result.height === null ? "" : T.block_height.replace("%(height)s", String(result.height));
  say("");
  show("done");
}));

$("check-status").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const code = $("tracking-code").textContent;
  const result = await api("GET", `votes/${code}`);
  const words = { final: T.status_final, pending: T.status_pending };
  $("status-result").textContent = words[result.status] || T.status_unknown;
  $("status-result").dataset.status = result.status;
}));

busy(null, loadElections);
