// Casting a phone vote in one go once the voter is verified: credential -> finalize -> (random
// pause) -> mint -> vote, with each step's result written to the device store before the next
// step, so that an interrupted run resumes from the last completed step (store.js).
//
// Every step can be repeated without harm: the credential is re-requested with the *same*
// blinded message (the server returns the same signature), and the mint and the vote are
// signed once, stored, and re-sent as the same bytes (same transaction id = same tracking
// code; a committed transaction answers success again). The session token is only a function
// argument: it is never written anywhere.
import { EvoteError, TokenKey, buildTx, candidateAddress, hexDecode, hexEncode, transactionId } from "../ledger/evote.js";
import { blind, credentialMessage, finalize } from "../ledger/blindrsa.js";
import { api, withRetry } from "./api.js";

export const STAGE = Object.freeze({ BLINDED: "blinded", CREDENTIAL: "credential", MINTED: "minted" });

/** A fresh token key and its blinded credential message, made before the code is even requested. */
export async function prepareToken(election) {
  const key = await TokenKey.generate();
  const message = await credentialMessage(election.chain, election.id, key.address);
  const { blindedMsg, inv, inputMsg } = await blind(election.credential_key, message);
  return { key, blinding: { blindedMsg: hexEncode(blindedMsg), inputMsg: hexEncode(inputMsg), inv: inv.toString(16) } };
}

/** The transfer's `to` (protocol 10.7): one candidate address, or for approval the ascending list. */
export async function ballotPayload(election, candidateIds) {
  const marks = (await Promise.all(candidateIds.map((id) => candidateAddress(election.id, id)))).sort();
  return election.choices === 1 ? marks[0] : marks;
}

function randomId() {
  return hexEncode(crypto.getRandomValues(new Uint8Array(16)));
}

/** What the device keeps before it asks for the credential (see store.js for what follows). */
export async function newRecord(election, candidateIds, prepared) {
  const names = election.candidates.filter((c) => candidateIds.includes(c.id)).map((c) => c.name);
  return {
    id: randomId(),
    createdAt: Date.now(),
    stage: STAGE.BLINDED,
    election: { id: election.id, chain: election.chain, title: election.title, choices: election.choices,
                credential_key: election.credential_key },
    marks: [...candidateIds],
    names,
    to: await ballotPayload(election, candidateIds),
    key: prepared.key.toStorable(),
    blinding: prepared.blinding,
  };
}

function randomPause(maxMs) {
  if (!(maxMs > 0)) return Promise.resolve();
  const draw = crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32;
  return new Promise((resolve) => setTimeout(resolve, Math.floor(draw * maxMs)));
}

async function idOf(tx) {
  const { sig, ...body } = tx;
  return transactionId(body);
}

/** Send a stored signed transaction (retrying) and check the server answered for that very transaction. */
async function submitStored(endpoint, tx, onRetry) {
  const expected = await idOf(tx);
  const answer = await withRetry(() => api("POST", endpoint, { tx }), onRetry);
  if (answer.tracking_code !== expected) {
    throw new EvoteError("tracking_code_mismatch", "the server answered for another transaction");
  }
  return answer;
}

/**
 * Finish `record` from its stage. `session` is needed only at STAGE.BLINDED. Returns the receipt
 * shown to the voter: {election, title, tracking, mintTracking, height}.
 * Hooks: onStep(name) as each step starts, onRetry(attempt, error) while a step is being retried.
 */
export async function finishVote(record, { store, session = null, pauseMs = 0, onStep = () => {}, onRetry }) {
  const election = record.election;
  const key = await TokenKey.fromStorable(record.key);
  try {
    if (record.stage === STAGE.BLINDED) {
      if (!session) throw new EvoteError("session_invalid", "verify again to get the credential");
      onStep("credential");
      const { blinding } = record;
      const answer = await withRetry(
        () => api("POST", "credential", { blinded_msg: blinding.blindedMsg }, session), onRetry);
      const credential = await finalize(election.credential_key, hexDecode(blinding.inputMsg),
                                        hexDecode(answer.blind_sig), BigInt(`0x${blinding.inv}`));
      const { blinding: _dropped, ...rest } = record;
      record = { ...rest, stage: STAGE.CREDENTIAL, credential: hexEncode(credential) };
      await store.save(record);
      await randomPause(pauseMs); // harder to pair the credential request and the mint by time
    }
    if (record.stage === STAGE.CREDENTIAL) {
      onStep("mint");
      if (!record.mintTx) {
        const { tx } = await buildTx({ chain: election.chain, contract: "vote", type: "mint_credential", payload: {
          election: election.id, station: "mobile", address: key.address, credential: record.credential } }, key);
        record = { ...record, mintTx: tx };
        await store.save(record);
      }
      const minted = await submitStored("mint", record.mintTx, onRetry);
      record = { ...record, stage: STAGE.MINTED, mintTracking: minted.tracking_code };
      await store.save(record);
    }
    onStep("vote");
    if (!record.voteTx) {
      const { tx } = await buildTx({ chain: election.chain, contract: "vote", type: "transfer",
                                     payload: { election: election.id, to: record.to } }, key);
      record = { ...record, voteTx: tx };
      await store.save(record);
    }
    const voted = await submitStored("vote", record.voteTx, onRetry);
    const receipt = { election: election.id, title: election.title, tracking: voted.tracking_code,
                      height: voted.height, savedAt: Date.now() };
    await store.finish(record.id, receipt);
    return { ...receipt, mintTracking: record.mintTracking };
  } finally {
    key.forget();
  }
}
