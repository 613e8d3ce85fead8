// Line-oriented driver for tests/fuzz/test_qr_payload.py: each stdin line is a JSON string (a
// scanned card text); each stdout line is the browser parser's verdict on it, shaped like
// tests/e2e/ledger_js_support.python_card_outcome: {"ok": [...]} or {"code": EvoteError code}.
// Any other exception is a parser bug and is reported as {"crash": message}.
import { createInterface } from "node:readline";

const evoteUrl = new URL("../../static/ledger/evote.js", import.meta.url);
const ev = await import(evoteUrl.href);
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  let outcome;
  try {
    const card = await ev.parseCard(JSON.parse(line));
    outcome = { ok: [card.chain, card.election, card.key.address, card.check, card.key.publicKeyHex] };
  } catch (error) {
    outcome = error instanceof ev.EvoteError ? { code: error.code } : { crash: String(error && error.stack) };
  }
  process.stdout.write(JSON.stringify(outcome) + "\n");
}
