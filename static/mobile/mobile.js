// Mobile voting in the browser, ballot first: election -> ballot -> confirm -> phone + birth date
// -> SMS code -> (credential -> mint -> vote in one go, cast.js) -> tracking code.
//
// The voter chooses before anything irreversible happens: the credential is requested only
// after the code is accepted, and the device then finishes the vote without waiting for the
// voter. The token key is made here (WebCrypto via evote.js) and never leaves the device; the
// server sees the session and a blinded message, never the address. Mint and vote carry no
// session and no cookies (credentials: "omit"), so the server cannot join them. What the
// device needs to finish an interrupted vote is kept in IndexedDB (store.js) until the vote is
// recorded; a reload then offers to finish it.
import { EvoteError, candidateAddress } from "../ledger/evote.js";
import { ApiError, api, configureApi } from "./api.js";
import { STAGE, finishVote, newRecord, prepareToken } from "./cast.js";
import { openVoteStore } from "./store.js";

const app = document.getElementById("app");
const LANG = app.dataset.lang || document.documentElement.lang || "ko";
const T = JSON.parse(document.getElementById("mobile-strings").textContent);
const MINT_DELAY_MAX_MS = Number(app.dataset.mintDelayMaxMs || 0);
const $ = (id) => document.getElementById(id);
configureApi({ base: app.dataset.api, lang: LANG, messages: { unexpected: T.unexpected, network_error: T.network_error } });

// In memory only: the election list, the voter's choice, the prepared token, the unfinished
// record being worked on, and the device session (only until the credential arrives).
const state = { store: null, elections: [], election: null, marks: [], prepared: null, challenge: null, record: null,
                session: null, receipts: new Map() };
// Refusals after which this record can never be finished (retrying sends the same request again).
const TERMINAL = new Set(["credential_already_issued", "voter_checked_in", "mobile_election_not_open",
  "mobile_election_not_found", "blinded_msg_invalid", "credential_invalid", "credential_already_used",
  "token_already_minted", "token_already_spent", "election_closed", "tx_invalid", "tracking_code_mismatch",
  "credential_key_missing", "mint_limit_exceeded", "unknown_election", "wrong_candidate", "not_authorised"]);

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

function fillList(list, names) {
  list.replaceChildren();
  for (const name of names.length ? names : [T.review_none]) {
    const item = document.createElement("li");
    item.textContent = name;
    list.append(item);
  }
}

// --- 1. elections ------------------------------------------------------------------------------------------

function formatTime(iso) {
  return new Date(iso).toLocaleString(LANG === "ko" ? "ko-KR" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}

function electionItem(election) {
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
  button.addEventListener("click", () => startBallot(election));
  item.append(button);
  const receipt = state.receipts.get(election.id);
  if (receipt) {
    const again = document.createElement("button");
    again.type = "button";
    again.className = "link";
    again.dataset.receipt = election.id;
    again.textContent = T.show_receipt;
    again.addEventListener("click", () => showDone(receipt));
    item.append(again);
  }
  return item;
}

async function loadElections() {
  say(T.loading);
  state.elections = await api("GET", "elections/");
  for (const election of state.elections) {
    // Never trust the server's candidate addresses: derive them (protocol 10.1).
    for (const candidate of election.candidates) {
      if ((await candidateAddress(election.id, candidate.id)) !== candidate.address) {
        throw new EvoteError("candidate_address_mismatch", T.unexpected);
      }
    }
  }
  $("election-list").replaceChildren(...state.elections.map(electionItem));
  say(state.elections.length ? "" : T.no_elections);
  show("elections");
}

// --- 2. ballot and confirmation (nothing is sent yet) ----------------------------------------------------

function startBallot(election) {
  clearError();
  state.election = election;
  state.marks = [];
  state.prepared = null;
  renderBallot();
  show("ballot");
}

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
  fillList($("confirm-list"), election.candidates.filter((c) => chosen.includes(c.id)).map((c) => c.name));
  $("storage-warning").hidden = state.store.persistent;
  show("confirm");
});

$("change").addEventListener("click", () => show("ballot"));
$("identity-back").addEventListener("click", () => { clearError(); show(state.record ? "resume" : "ballot"); });

$("confirm-continue").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  if (!globalThis.crypto || !crypto.subtle) throw new EvoteError("browser_unsupported", T.browser_unsupported);
  // Make the token key and blind its credential message now, so that the credential request
  // follows the accepted code at once (the only moment a reload could still cost the vote).
  if (!state.prepared) state.prepared = await prepareToken(state.election);
  show("identity");
}));

// --- 3. identity and code ----------------------------------------------------------------------------------

function currentElectionId() { return state.record ? state.record.election.id : state.election.id; }

// An unfinished vote that can no longer be finished (e.g. the election closed meanwhile) must be
// removable: show the failure with its actions instead of leaving the voter on the form.
function unfinishable(error) {
  if (state.record && TERMINAL.has(error.code)) { show("progress"); castFailed(error); return true; }
  return false;
}

$("identity-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy(event.submitter, async () => {
    say(T.sending_code);
    let answer;
    try {
      answer = await api("POST", "otp/request", {
        election: currentElectionId(), phone: $("phone").value.trim(), birth_date: $("birth-date").value,
      });
    } catch (error) {
      if (unfinishable(error)) return;
      throw error;
    }
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
  busy(event.submitter, async () => {
    say(T.checking_code);
    const { session } = await api("POST", "otp/verify", { challenge: state.challenge, code: $("code").value.trim() });
    state.challenge = null;
    $("code").value = "";
    if (!state.record) {
      // Written before the credential is requested: from here on a reload can finish the vote.
      state.record = await newRecord(state.election, state.marks, state.prepared);
      state.prepared.key.forget();
      state.prepared = null;
      await state.store.save(state.record);
    }
    say("");
    runCast(session);
  });
});

// --- 4. casting, and finishing an interrupted vote ----------------------------------------------------------

const STEPS = ["credential", "mint", "vote"];

function markStep(current) {
  const reached = STEPS.indexOf(current);
  for (const item of $("progress-steps").children) {
    const index = STEPS.indexOf(item.dataset.step);
    item.dataset.state = index < reached ? "done" : index === reached ? "active" : "waiting";
    if (index === reached) item.setAttribute("aria-current", "step"); else item.removeAttribute("aria-current");
  }
  say(T[`step_${current}`]);
}

function showRetrying(attempt) {
  const notice = $("retrying");
  if (attempt > 0) {
    const progress = $("screen-progress");
    progress.dataset.retries = String(Number(progress.dataset.retries || 0) + 1);
    notice.textContent = T.still_trying.replace("%(attempt)s", String(attempt));
  }
  notice.hidden = attempt === 0;
}

async function runCast(session) {
  const record = state.record;
  state.session = record.stage === STAGE.BLINDED ? session : null; // memory only, until the credential arrives
  clearError();
  $("progress-actions").hidden = true;
  $("progress-keep-open").hidden = false;
  markStep(record.stage === STAGE.BLINDED ? "credential" : record.stage === STAGE.CREDENTIAL ? "mint" : "vote");
  show("progress");
  try {
    const receipt = await finishVote(record, {
      store: state.store, session, pauseMs: MINT_DELAY_MAX_MS, onStep: markStep, onRetry: showRetrying,
    });
    state.record = null;
    state.session = null;
    state.receipts.set(receipt.election, receipt);
    showDone(receipt);
  } catch (error) {
    try {
      state.record = (await state.store.unfinished()).find((r) => r.id === record.id) || record;
    } catch (_) {
      state.record = record; // the store could not be read back: retry from the stage we started at
    }
    if (state.record.stage !== STAGE.BLINDED) state.session = null;
    castFailed(error);
  }
}

function castFailed(error) {
  fail(error);
  showRetrying(0);
  $("progress-keep-open").hidden = true;
  $("progress-actions").hidden = false;
  $("progress-discard").hidden = !TERMINAL.has(error.code);
  $("progress-retry").focus();
}

$("progress-retry").addEventListener("click", () => {
  // The credential step needs a live session; once it expired (or the page was reloaded) a new code.
  const expired = $("error").dataset.code === "session_invalid";
  if (state.record.stage === STAGE.BLINDED && (!state.session || expired)) { showResume(state.record); return; }
  runCast(state.session);
});

$("progress-discard").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  await state.store.discard(state.record.id);
  state.record = null;
  state.session = null;
  await loadElections();
}));

function showResume(record) {
  state.record = record;
  $("resume-election").textContent = record.election.title;
  fillList($("resume-list"), record.names);
  const verify = record.stage === STAGE.BLINDED;
  $("resume-help").textContent = verify ? T.resume_verify_help : T.resume_send_help;
  $("resume-go").textContent = verify ? T.resume_verify : T.resume_send;
  $("resume-go").dataset.action = verify ? "verify" : "send";
  show("resume");
}

$("resume-go").addEventListener("click", () => {
  clearError();
  if (state.record.stage === STAGE.BLINDED) show("identity"); else runCast(null);
});

// --- 5. the receipt ----------------------------------------------------------------------------------------

function showDone(receipt) {
  $("tracking-code").textContent = receipt.tracking;
  $("done-height").textContent = receipt.height === null || receipt.height === undefined
    ? "" : T.block_height.replace("%(height)s", String(receipt.height));
  $("mint-tracking-code").textContent = receipt.mintTracking || "";
  $("done-details").hidden = !receipt.mintTracking;
  $("status-result").textContent = "";
  delete $("status-result").dataset.status;
  say("");
  show("done");
}

$("check-status").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const code = $("tracking-code").textContent;
  const result = await api("GET", `votes/${code}`);
  const words = { final: T.status_final, pending: T.status_pending };
  $("status-result").textContent = words[result.status] || T.status_unknown;
  $("status-result").dataset.status = result.status;
}));

$("done-back").addEventListener("click", () => busy(null, loadElections));

// --- start: an unfinished vote comes first ------------------------------------------------------------------

async function start() {
  state.store = await openVoteStore();
  for (const receipt of await state.store.receipts()) state.receipts.set(receipt.election, receipt);
  const [unfinished] = await state.store.unfinished();
  if (unfinished) { showResume(unfinished); return; }
  await loadElections();
}

busy(null, start);
