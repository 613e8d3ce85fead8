"""static/ledger/evote.js and blindrsa.js in real Chromium, compared byte for byte with ledger.core.

Why: the kiosk and the voter's phone build and sign vote transactions and blind their vote
credentials in the browser. A byte that differs from the Python reference is a vote the
nodes refuse, or a tracking code that never appears on the ledger. Cases are batched into a
few page.evaluate calls; the page is served by Playwright routing (tests/e2e/ledger_js_support.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core import blindrsa
from ledger.core.contracts.vote import candidate_address, credential_message
from ledger.core.crypto import CURVE_ORDER, HALF_ORDER, PrivateKey, address_of, is_valid_signature, load_public_key
from ledger.core.encoding import encode
from ledger.core.errors import CredentialInvalid
from ledger.core.tx import Transaction
from tests.e2e.ledger_js_support import (
    card_text,
    flip_check,
    idents,
    json_value_of,
    json_values,
    load_vectors,
    maybe_bad_values,
    mutated_cards,
    nest,
    open_ledger_page,
    python_card_outcome,
    python_key_outcome,
    python_outcome,
    raw_card,
    rfc9474_private_key,
    scalars,
    spki_cases,
    spki_hex,
)
from tests.ledger.core.factory import secret_for
from voting.cards import compute_check_code

pytestmark = pytest.mark.e2e
BROWSER_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    yield from open_ledger_page(browser)


ENCODE_TEXTS = """async (texts) => Promise.all(texts.map((text) =>
  attempt(async () => ev.hexEncode(ev.canonicalBytes(JSON.parse(text))))))"""


def browser_outcomes(page: Any, values: list[Any]) -> list[dict[str, str]]:
    """Canonical hex (or the error code) of each value, sent as JSON text and parsed by JSON.parse."""
    return page.evaluate(ENCODE_TEXTS, [json.dumps(value) for value in values])


# --- canonical JSON ---------------------------------------------------------------------------


def test_canonical_json_reproduces_every_valid_vector(page: Any) -> None:
    valid = load_vectors("encoding.json")["valid"]
    results = page.evaluate(
        """async (texts) => Promise.all(texts.map(async (text) => {
             const bytes = ev.canonicalBytes(JSON.parse(text));
             return [ev.hexEncode(bytes), ev.hexEncode(await ev.sha256(bytes))];
           }))""",
        [json.dumps(vector["value"]) for vector in valid],
    )
    assert results == [[vector["canonical_hex"], vector["sha256"]] for vector in valid]


def test_canonical_json_refuses_the_invalid_vectors_that_are_values(page: Any) -> None:
    invalid = [v for v in load_vectors("encoding.json")["invalid"] if v["error"] == "encoding_invalid"]
    expressible = [v for v in invalid if json_value_of(v["bytes_hex"])[0]]
    names = {v["name"] for v in expressible}
    assert {"float", "true", "false-in-array", "int-above-safe-range", "non-ascii-key", "empty-key",
            "lone-surrogate-escape", "nesting-33"} <= names
    texts = [bytes.fromhex(v["bytes_hex"]).decode("utf-8") for v in expressible]
    assert page.evaluate(ENCODE_TEXTS, texts) == [{"code": "encoding_invalid"}] * len(texts)


def test_canonical_json_rewrites_non_canonical_vectors_like_python(page: Any) -> None:
    """The bytes a decoder refuses as not canonical re-encode to something else, the same in both."""
    rows = [v for v in load_vectors("encoding.json")["invalid"] if v["error"] == "encoding_not_canonical"]
    texts = [bytes.fromhex(v["bytes_hex"]).decode("utf-8") for v in rows]
    results = page.evaluate(ENCODE_TEXTS, texts)
    for row, text, result in zip(rows, texts, results):
        assert result == {"ok": encode(json.loads(text)).hex()}, row["name"]
        assert result["ok"] != row["bytes_hex"], row["name"]


def test_canonical_json_refuses_javascript_values_outside_the_model(page: Any) -> None:
    refused, accepted = page.evaluate("""async () => {
      const hole = [1, , 2];
      const cyclic = []; cyclic.push(cyclic);
      const symbolKey = {a: 1}; symbolKey[Symbol('s')] = 2;
      const bad = [1.5, -0.25, true, false, NaN, Infinity, -Infinity, undefined, () => 1, Symbol('x'),
        2 ** 53, -(2 ** 53), 2n ** 53n, -(2n ** 53n), new Date(0), new Map(), new Uint8Array(2), hole,
        {a: undefined}, symbolKey, Object.create({inherited: 1}), '\\ud800', 'x\\udc00', '\\ud83d',
        {'': 1}, {'\\u00e9': 1}, {'\\u007f': 1}, {'\\n': 1}, {['k'.repeat(129)]: 1}, [[1.5]], {a: {b: true}}, cyclic];
      const good = [[2n ** 53n - 1n, 'bigint'], [-0, 'minus zero'], [Object.assign(Object.create(null), {b: 1, a: 2}), 'null proto'],
        [{['k'.repeat(128)]: 1}, 'long key'], [{'__proto__': 1}, 'proto key'], [JSON.parse('{"__proto__": 1}'), 'parsed proto key']];
      const refused = await Promise.all(bad.map((value) => attempt(async () => ev.canonicalJSON(value))));
      const accepted = await Promise.all(good.map(([value]) => attempt(async () => ev.canonicalJSON(value))));
      return [refused, accepted];
    }""")
    assert refused == [{"code": "encoding_invalid"}] * len(refused)
    assert accepted == [{"ok": "9007199254740991"}, {"ok": "0"}, {"ok": '{"a":2,"b":1}'},
                        {"ok": '{"' + "k" * 128 + '":1}'}, {"ok": "{}"}, {"ok": '{"__proto__":1}'}]


def test_canonical_json_nesting_limit_matches_python(page: Any) -> None:
    values = [nest(leaf, depth, kind) for depth in range(30, 36) for kind in ("list", "dict")
              for leaf in (1, "s", None, [], {}, [1], {"a": 1})]
    expected = [python_outcome(value) for value in values]
    assert any("ok" in outcome for outcome in expected) and any("code" in outcome for outcome in expected)
    assert browser_outcomes(page, values) == expected


@BROWSER_SETTINGS
@given(values=st.lists(json_values, min_size=1, max_size=10))
def test_canonical_json_of_random_values_is_byte_identical_to_python(page: Any, values: list[Any]) -> None:
    assert browser_outcomes(page, values) == [python_outcome(value) for value in values]


@BROWSER_SETTINGS
@given(values=st.lists(maybe_bad_values, min_size=1, max_size=10))
def test_canonical_json_refuses_exactly_what_python_refuses(page: Any, values: list[Any]) -> None:
    assert browser_outcomes(page, values) == [python_outcome(value) for value in values]


# --- keys ---------------------------------------------------------------------------------------

KEY_OF_SECRET = """async (secrets) => Promise.all(secrets.map((secret) => attempt(async () => {
  const key = await ev.TokenKey.fromSecret(ev.hexDecode(secret));
  return [key.publicKeyHex, key.address];
})))"""


def test_token_keys_match_the_fixed_key_vectors(page: Any) -> None:
    keys = load_vectors("keys.json")["keys"]
    results = page.evaluate(KEY_OF_SECRET, [key["secret"] for key in keys])
    assert results == [{"ok": [key["public_key"], key["address"]]} for key in keys]


@BROWSER_SETTINGS
@given(scalars=st.lists(st.integers(1, CURVE_ORDER - 1), min_size=1, max_size=20))
def test_public_keys_of_random_scalars_match_openssl(page: Any, scalars: list[int]) -> None:
    scalars = scalars + [1, 2, 3, CURVE_ORDER - 1, CURVE_ORDER - 2, HALF_ORDER, HALF_ORDER + 1, 2**255]
    results = page.evaluate(KEY_OF_SECRET, [scalar.to_bytes(32, "big").hex() for scalar in scalars])
    expected = []
    for scalar in scalars:
        key = PrivateKey.from_secret(scalar.to_bytes(32, "big"))
        expected.append({"ok": [key.public_key.hex(), key.address]})
    assert results == expected


def test_out_of_range_scalars_are_card_malformed(page: Any) -> None:
    secrets = [bytes(32).hex(), CURVE_ORDER.to_bytes(32, "big").hex(), (CURVE_ORDER + 1).to_bytes(32, "big").hex(),
               (2**256 - 1).to_bytes(32, "big").hex(), "01" * 31, "01" * 33]
    assert page.evaluate(KEY_OF_SECRET, secrets) == [{"code": "card_malformed"}] * len(secrets)


def test_generated_keys_are_distinct_valid_points(page: Any) -> None:
    keys = page.evaluate("""async () => {
      const out = [];
      for (let i = 0; i < 40; i++) {
        const key = await ev.TokenKey.generate();
        out.push([key.publicKeyHex, key.address]);
      }
      return out;
    }""")
    assert len({public for public, _ in keys}) == len(keys)
    for public_hex, address in keys:
        public = bytes.fromhex(public_hex)
        load_public_key(public)  # raises unless a valid P-256 point
        assert address == address_of(public)


def test_a_stored_key_signs_after_a_structured_clone(page: Any) -> None:
    """toStorable() is what IndexedDB keeps (a structured clone): the clone must sign for the same address."""
    address, public_hex, signature_hex, refusals = page.evaluate("""async () => {
      const key = await ev.TokenKey.generate();
      const copy = await ev.TokenKey.fromStorable(structuredClone(key.toStorable()));
      const signature = await copy.sign(ev.utf8('stored'));
      const refusals = [
        (await attempt(async () => ev.TokenKey.fromStorable({...key.toStorable(), publicKeyHex: '05' + 'ab'.repeat(64)}))).code,
        (await attempt(async () => ev.TokenKey.fromStorable({cryptoKey: {}, publicKeyHex: key.publicKeyHex}))).code,
      ];
      key.forget();
      refusals.push((await attempt(async () => key.toStorable())).code, (await attempt(() => key.sign(ev.utf8('x')))).code);
      return [copy.address, copy.publicKeyHex, ev.hexEncode(signature), refusals];
    }""")
    public = bytes.fromhex(public_hex)
    assert address == address_of(public)
    assert is_valid_signature(public, bytes.fromhex(signature_hex), b"stored")
    assert refusals == ["public_key_invalid", "public_key_invalid", "key_forgotten", "key_forgotten"]


# --- transactions ---------------------------------------------------------------------------------


def test_transaction_ids_and_bytes_match_the_vectors(page: Any) -> None:
    valid = load_vectors("transactions.json")["valid"]
    results = page.evaluate("""async (txs) => Promise.all(txs.map(async (tx) => {
      const {sig, ...body} = tx;
      const id = await ev.transactionId(body);
      return [id, ev.hexEncode(ev.canonicalBytes(body)), ev.hexEncode(ev.canonicalBytes(tx)), ev.hexEncode(ev.signingMessage(id))];
    }))""", [vector["tx"] for vector in valid])
    assert results == [[v["id"], v["body_canonical_hex"], v["canonical_hex"], v["signing_message_hex"]] for v in valid]


BUILD_WITH_SECRET = """async (rows) => Promise.all(rows.map(async ([secret, fields]) => {
  const key = await ev.TokenKey.fromSecret(ev.hexDecode(secret));
  const built = await ev.buildTx(fields, key);
  return [built.id, built.tx.signer, ev.hexEncode(built.bytes)];
}))"""


def test_build_tx_reproduces_the_vector_transaction_ids(page: Any) -> None:
    secrets = {PrivateKey.from_secret(secret_for(label)).public_key.hex(): secret_for(label).hex()
               for label in ["authority-0", "validator-0"] + [f"vector-token-{i}" for i in range(8)]}
    rows, expected = [], []
    for vector in load_vectors("transactions.json")["valid"]:
        tx = vector["tx"]
        if tx["signer"] in secrets:
            fields = {name: tx[name] for name in ("chain", "contract", "type", "payload", "nonce")}
            rows.append([secrets[tx["signer"]], fields])
            expected.append((vector["id"], tx["signer"]))
    assert len(rows) >= 14
    for (tx_id, signer, tx_hex), wanted in zip(page.evaluate(BUILD_WITH_SECRET, rows), expected):
        assert (tx_id, signer) == wanted
        decoded = Transaction.from_bytes(bytes.fromhex(tx_hex))
        decoded.verify_signature("openssl")
        assert decoded.id_hex == tx_id


def test_browser_signatures_verify_in_python_and_are_always_low_s(page: Any) -> None:
    """WebCrypto returns a high S about half the time; every signature sent must be the low form."""
    results, raw_signatures = page.evaluate("""async () => {
      const raw = [];
      const original = crypto.subtle.sign.bind(crypto.subtle);
      crypto.subtle.sign = async (...args) => {
        const out = await original(...args);
        raw.push(ev.hexEncode(new Uint8Array(out)));
        return out;
      };
      try {
        const results = [];
        for (let i = 0; i < 24; i++) {
          const key = await ev.TokenKey.generate();
          for (let j = 0; j < 10; j++) {
            const to = await ev.candidateAddress('gg-2026', 'cand-' + j);
            const built = await ev.buildTx({chain: 'evote-test', contract: 'vote', type: 'transfer',
              payload: {election: 'gg-2026', to, note: '투표 ' + i + '/' + j}, nonce: i * 10 + j}, key);
            results.push([built.id, ev.hexEncode(built.bytes)]);
          }
        }
        return [results, raw];
      } finally {
        delete crypto.subtle.sign;
      }
    }""")
    assert len(results) == len(raw_signatures) == 240
    high_before_normalising = 0
    for (tx_id, tx_hex), raw_hex in zip(results, raw_signatures):
        tx = Transaction.from_bytes(bytes.fromhex(tx_hex))  # canonical bytes, or this raises
        assert tx.id_hex == tx_id
        tx.verify_signature("openssl")
        tx.verify_signature("ecdsa")
        r, s = tx.sig[:32], int.from_bytes(tx.sig[32:], "big")
        raw_s = int.from_bytes(bytes.fromhex(raw_hex)[32:], "big")
        assert r == bytes.fromhex(raw_hex)[:32]
        assert s <= HALF_ORDER and s == min(raw_s, CURVE_ORDER - raw_s)
        high_before_normalising += raw_s > HALF_ORDER
    assert high_before_normalising > 0  # the normalising branch really ran (2**-240 chance otherwise)


def test_build_tx_refuses_bad_fields(page: Any) -> None:
    results = page.evaluate("""async () => {
      const key = await ev.TokenKey.generate();
      const base = {chain: 'evote-test', contract: 'vote', type: 'transfer', payload: {election: 'e'}, nonce: 0};
      const cases = [{chain: 'bad chain'}, {chain: 'a\\n'}, {chain: '-a'}, {chain: 'x'.repeat(65)}, {contract: ''},
        {type: 'Transfer'}, {type: '1x'}, {payload: []}, {payload: null}, {nonce: -1}, {nonce: 1.5}, {nonce: 2 ** 53},
        {payload: {x: 1.5}}, {payload: {x: true}}, {payload: {big: 'x'.repeat(140000)}}];
      const out = [];
      for (const change of cases) out.push((await attempt(() => ev.buildTx({...base, ...change}, key))).code);
      key.forget();
      out.push((await attempt(() => ev.buildTx(base, key))).code);
      return out;
    }""")
    assert results == ["malformed"] * 12 + ["encoding_invalid", "encoding_invalid", "malformed", "key_forgotten"]


# --- candidates -------------------------------------------------------------------------------------

CANDIDATES = """async (pairs) => Promise.all(pairs.map(([election, id]) => ev.candidateAddress(election, id)))"""


def test_candidate_addresses_match_the_chain_vectors(page: Any) -> None:
    candidates = load_vectors("chain.json")["candidates"]
    addresses = page.evaluate(CANDIDATES, [[c["election"], c["candidate"]] for c in candidates])
    assert addresses == [c["address"] for c in candidates]


@BROWSER_SETTINGS
@given(pairs=st.lists(st.tuples(idents, st.text(max_size=20)), min_size=1, max_size=10))
def test_candidate_addresses_of_random_ids_match_python(page: Any, pairs: list[tuple[str, str]]) -> None:
    expected = [candidate_address(election, candidate) for election, candidate in pairs]
    assert page.evaluate(CANDIDATES, [list(pair) for pair in pairs]) == expected


# --- vote-token cards ----------------------------------------------------------------------------

PARSE_CARDS = """async (texts) => Promise.all(texts.map((text) => attempt(async () => {
  const card = await ev.parseCard(text);
  return [card.chain, card.election, card.key.address, card.check, card.key.publicKeyHex];
})))"""


@BROWSER_SETTINGS
@given(cards=st.lists(st.tuples(idents, idents, scalars), min_size=1, max_size=8))
def test_cards_written_by_python_parse_to_the_same_key(page: Any, cards: list[tuple[str, str, int]]) -> None:
    texts = [card_text(chain, election, scalar) for chain, election, scalar in cards]
    results = page.evaluate(PARSE_CARDS, texts)
    assert results == [python_card_outcome(text) for text in texts]
    assert all("ok" in result for result in results)


def test_card_faults_give_the_codes_of_parse_card_payload(page: Any) -> None:
    good = card_text("evote-test", "gg-2026", 0x1234567890ABCDEF)
    secret_text = good.split("~")[3]
    cases = {
        flip_check(good): "card_check_mismatch",
        good[:-1]: "card_malformed",  # truncated check code
        good.rsplit("~", 1)[0]: "card_malformed",  # four fields
        "EV2" + good[3:]: "card_malformed",
        "ev1" + good[3:]: "card_malformed",
        good.replace(secret_text, secret_text[:-1] + "+"): "card_malformed",  # not base64url
        good.replace(secret_text, secret_text[:-1] + "="): "card_malformed",
        good.replace(secret_text, secret_text + "A"): "card_malformed",
        good.replace("~gg-2026~", "~gg-2026\n~"): "card_malformed",  # no trailing newline inside an id
        good.replace("~gg-2026~", "~gg 2026~"): "card_malformed",
        good + "~": "card_malformed",
        good[:-9] + good[-9:].lower(): "card_malformed",
        raw_card(bytes(32)): "card_malformed",  # scalar 0
        raw_card(CURVE_ORDER.to_bytes(32, "big")): "card_malformed",  # scalar n
        raw_card((2**256 - 1).to_bytes(32, "big")): "card_malformed",
        "\ufeff" + good: "card_malformed",  # Python's strip() keeps a BOM
        "": "card_malformed",
        "  " + good + "\r\n": None,  # surrounding whitespace is stripped
        "\x1c\u3000" + good + "\x85": None,  # ... with Python's notion of whitespace
    }
    # The last base64 character carries 2 unused bits, which the reference ignores.
    last = secret_text[-1]
    variant = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = variant[(variant.index(last) & ~3) | ((variant.index(last) + 1) & 3)]
    cases[good.replace(secret_text, secret_text[:-1] + sibling)] = None
    texts = list(cases)
    results = page.evaluate(PARSE_CARDS, texts)
    for text, result in zip(texts, results):
        assert result == python_card_outcome(text), repr(text)
        assert result.get("code") == cases[text], repr(text)


@BROWSER_SETTINGS
@given(texts=st.lists(mutated_cards(), min_size=1, max_size=10))
def test_mangled_cards_get_the_same_verdict_as_python(page: Any, texts: list[str]) -> None:
    assert page.evaluate(PARSE_CARDS, texts) == [python_card_outcome(text) for text in texts]


def test_card_check_code_matches_python(page: Any) -> None:
    addresses = [PrivateKey.from_secret(secret_for(f"card-{i}")).address for i in range(20)]
    codes = page.evaluate("async (addresses) => Promise.all(addresses.map((a) => ev.cardCheckCode(a)))", addresses)
    assert codes == [compute_check_code(address) for address in addresses]


# --- blind RSA credentials (RFC 9474) --------------------------------------------------------------

BLIND_FIXED = """async ({spki, msg, prefix, salt, r, blindSig}) => {
  const blinded = await br.blind(spki, ev.hexDecode(msg), {prefix: ev.hexDecode(prefix), salt: ev.hexDecode(salt), r: BigInt('0x' + r)});
  const credential = await br.finalize(spki, blinded.inputMsg, ev.hexDecode(blindSig), blinded.inv);
  return [ev.hexEncode(blinded.blindedMsg), blinded.inv.toString(16), ev.hexEncode(blinded.inputMsg), ev.hexEncode(credential)];
}"""


def test_blind_and_finalize_reproduce_the_rfc9474_pss_randomized_vector(page: Any) -> None:
    vector = next(v for v in load_vectors("rfc9474.json")["vectors"] if v["name"] == "RSABSSA-SHA384-PSS-Randomized")
    n = int(vector["n"], 16)
    r = pow(int(vector["inv"], 16), -1, n)
    blinded, inv, input_msg, credential = page.evaluate(BLIND_FIXED, {
        "spki": spki_hex(n, int(vector["e"], 16)), "msg": vector["msg"], "prefix": vector["msg_prefix"],
        "salt": vector["salt"], "r": format(r, "x"), "blindSig": vector["blind_sig"]})
    assert blinded == vector["blinded_msg"]
    assert int(inv, 16) == int(vector["inv"], 16)
    assert input_msg == vector["input_msg"]
    assert credential == vector["msg_prefix"] + vector["sig"]


def test_the_credential_vector_is_issued_step_by_step(page: Any) -> None:
    vectors = load_vectors("credentials.json")
    issuance, spki = vectors["issuance"], vectors["credential_key"]
    message = page.evaluate("async ([c, e, a]) => ev.hexEncode(await br.credentialMessage(c, e, a))",
                            [issuance["chain"], issuance["election"], issuance["address"]])
    assert message == issuance["message_hex"]
    blinded, inv, input_msg, credential = page.evaluate(BLIND_FIXED, {
        "spki": spki, "msg": message, "prefix": issuance["msg_prefix"], "salt": issuance["salt"],
        "r": issuance["r"], "blindSig": issuance["blind_sig"]})
    assert (blinded, int(inv, 16), input_msg, credential) == (
        issuance["blinded_msg"], int(issuance["inv"], 16), issuance["input_msg"], issuance["credential"])
    verdicts = page.evaluate("""async ([spki, c, e, a, credential]) => [
      await br.verifyCredential(spki, c, e, a, ev.hexDecode(credential)),
      await br.verifyCredential(spki, c, e, 'ff'.repeat(20), ev.hexDecode(credential)),
      await br.verifyCredential(spki, c, e + 'x', a, ev.hexDecode(credential))]""",
                             [spki, issuance["chain"], issuance["election"], issuance["address"], issuance["credential"]])
    assert verdicts == [True, False, False]


@pytest.fixture(scope="module")
def authority_keys() -> list[rsa.RSAPrivateKey]:
    return [blindrsa.generate_private_key(2048), rfc9474_private_key()]


BLIND_FRESH = """async ([spki, chain, election, count]) => {
  window.pendingCredentials = [];
  const out = [];
  for (let i = 0; i < count; i++) {
    const key = await ev.TokenKey.generate();
    const blinded = await br.blind(spki, await br.credentialMessage(chain, election, key.address));
    window.pendingCredentials.push(blinded);  // inv and inputMsg stay in the page, as on a phone
    out.push([key.address, ev.hexEncode(blinded.blindedMsg)]);
  }
  return out;
}"""

FINALIZE_PENDING = """async ([spki, blindSigs]) => Promise.all(blindSigs.map(async (blindSig, i) => {
  const {inputMsg, inv} = window.pendingCredentials[i];
  const good = await attempt(async () => ev.hexEncode(await br.finalize(spki, inputMsg, ev.hexDecode(blindSig), inv)));
  const tampered = ev.hexDecode(blindSig); tampered[tampered.length - 1] ^= 1;
  const other = window.pendingCredentials[(i + 1) % blindSigs.length];
  return [good,
          await attempt(() => br.finalize(spki, inputMsg, tampered, inv)),
          await attempt(() => br.finalize(spki, inputMsg, ev.hexDecode(blindSig), other.inv)),
          await attempt(() => br.finalize(spki, inputMsg, ev.hexDecode(blindSig).subarray(1), inv))];
}))"""


def test_python_blind_signs_a_browser_blinded_credential_that_python_verifies(
    page: Any, authority_keys: list[rsa.RSAPrivateKey],
) -> None:
    chain, election = "evote-test", "gg-2026-m"
    for private_key in authority_keys:
        public_key = private_key.public_key()
        spki = blindrsa.public_key_der(public_key).hex()
        pending = page.evaluate(BLIND_FRESH, [spki, chain, election, 3])
        assert len({blinded for _, blinded in pending}) == 3
        blind_sigs = [blindrsa.blind_sign(private_key, bytes.fromhex(blinded)).hex() for _, blinded in pending]
        results = page.evaluate(FINALIZE_PENDING, [spki, blind_sigs])
        for (address, _), (good, tampered, wrong_inv, short) in zip(pending, results):
            assert [tampered, wrong_inv, short] == [{"code": "credential_invalid"}] * 3
            credential = bytes.fromhex(good["ok"])
            prefix, signature = credential[: blindrsa.PREFIX_SIZE], credential[blindrsa.PREFIX_SIZE:]
            blindrsa.verify(public_key, prefix + credential_message(chain, election, address), signature,
                            blindrsa.PSS_RANDOMIZED)
            with pytest.raises(CredentialInvalid):
                blindrsa.verify(public_key, prefix + credential_message(chain, election, "00" * 20), signature,
                                blindrsa.PSS_RANDOMIZED)


PARSE_KEYS = """async (keys) => Promise.all(keys.map((spki) => attempt(async () => {
  const key = br.parseRsaPublicKey(spki);
  return [key.n.toString(16), Number(key.e)];
})))"""


def test_credential_key_parsing_matches_python(page: Any) -> None:
    cases = spki_cases()
    results = page.evaluate(PARSE_KEYS, list(cases.values()))
    for (name, spki), result in zip(cases.items(), results):
        assert result == python_key_outcome(spki), name
        assert ("ok" in result) == name.startswith("good"), name


@settings(max_examples=40, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 293), st.integers(0, 255)), min_size=1, max_size=2))
def test_corrupted_credential_keys_get_the_same_verdict_as_python(page: Any, edits: list[tuple[int, int]]) -> None:
    der = bytearray.fromhex(load_vectors("credentials.json")["credential_key"])
    for position, value in edits:
        der[position % len(der)] = value
    assert page.evaluate(PARSE_KEYS, [der.hex()]) == [python_key_outcome(der.hex())]
