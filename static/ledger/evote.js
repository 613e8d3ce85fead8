// Browser side of the ledger protocol (docs/protocol.md): canonical JSON, P-256 token keys,
// signed transactions, candidate addresses and vote-token cards.
//
// Why in the browser: the kiosk and the voter's phone sign their own vote transactions with
// WebCrypto, so a token's private key never reaches a server (DESIGN.md, "Secrecy").
// Plain ES module, no dependencies, no build step. Every rule here mirrors the Python
// reference in ledger/core/ and voting/cards.py; tests/e2e/test_ledger_js.py compares them.

// --- errors -------------------------------------------------------------------------------

/** A failure expected in normal use (bad input), with the protocol's stable error `code`. */
export class EvoteError extends Error {
  constructor(code, message, detail = {}) {
    super(message || code);
    this.name = "EvoteError";
    this.code = code;
    this.detail = detail;
  }
}

// --- constants ----------------------------------------------------------------------------

export const MAX_SAFE_INT = 9007199254740991; // 2^53 - 1 (protocol 1.1)
export const MAX_DEPTH = 32;
export const MAX_TX_BYTES = 128 * 1024;
export const TX_VERSION = 1;
export const CURVE_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
export const HALF_ORDER = CURVE_ORDER >> 1n; // (n-1)/2: the largest low S (protocol 3)
export const IDENT_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/; // JS "$" without /m never accepts a trailing newline
export const TYPE_RE = /^[a-z][a-z0-9_]{0,31}$/;

const TX_SIGN_TAG = "EVOTE-TX-V1:";
const CANDIDATE_TAG = "EVOTE-CANDIDATE-V1:";
const CARD_CHECK_TAG = "EVOTE-CARD-CHECK-V1:";
const CARD_VERSION = "EV1";
const CARD_SEPARATOR = "~";
const KEY_RE = /^[\x20-\x7e]{1,128}$/;
const PLAIN_STRING_RE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;
const CARD_SECRET_RE = /^[A-Za-z0-9_-]{43}$/;
const CARD_CHECK_RE = /^[A-Z2-7]{4}-[A-Z2-7]{4}$/;
const ADDRESS_RE = /^[0-9a-f]{40}$/;
const PUBLIC_KEY_RE = /^04[0-9a-f]{128}$/;

// --- canonical JSON (protocol section 1) ---------------------------------------------------

const SHORT_ESCAPES = { 0x22: '\\"', 0x5c: "\\\\", 0x08: "\\b", 0x0c: "\\f", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t" };

function encodeString(text) {
  if (PLAIN_STRING_RE.test(text)) {
    return '"' + text + '"';
  }
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (SHORT_ESCAPES[unit] !== undefined) {
      out += SHORT_ESCAPES[unit];
    } else if (unit < 0x20) {
      out += "\\u00" + unit.toString(16).padStart(2, "0"); // lowercase hex, as Python writes it
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1); // NaN past the end
      if (!(next >= 0xdc00 && next <= 0xdfff)) {
        throw new EvoteError("encoding_invalid", "string is not valid Unicode (lone surrogate)");
      }
      out += text[i] + text[i + 1]; // an astral character: written literally, never as an escape pair
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      throw new EvoteError("encoding_invalid", "string is not valid Unicode (lone surrogate)");
    } else {
      out += text[i];
    }
  }
  return out + '"';
}

function encodeInteger(value) {
  if (typeof value === "bigint") {
    if (value < -BigInt(MAX_SAFE_INT) || value > BigInt(MAX_SAFE_INT)) {
      throw new EvoteError("encoding_invalid", "integer out of the safe range", { value: String(value) });
    }
    return value.toString();
  }
  if (!Number.isInteger(value)) {
    throw new EvoteError("encoding_invalid", "floating point numbers are not allowed", { value: String(value) });
  }
  if (value < -MAX_SAFE_INT || value > MAX_SAFE_INT) {
    throw new EvoteError("encoding_invalid", "integer out of the safe range", { value: String(value) });
  }
  return String(value); // -0 is written "0": JS has one zero integer, as Python does
}

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// `depth` counts the containers enclosing `value`; no value may be enclosed by more than 32
// (protocol 1.1). So an empty container may be the 33rd, a non-empty one may not (its members
// would be enclosed by 33), and a cyclic structure is refused instead of recursing forever.
function encodeValue(value, depth) {
  if (depth > MAX_DEPTH) {
    throw new EvoteError("encoding_invalid", "nesting too deep");
  }
  if (value === null) {
    return "null";
  }
  switch (typeof value) {
    case "string":
      return encodeString(value);
    case "number":
    case "bigint":
      return encodeInteger(value);
    case "object":
      break;
    default: // boolean, undefined, function, symbol
      throw new EvoteError("encoding_invalid", `type ${typeof value} is not allowed in canonical JSON`);
  }
  if (Array.isArray(value)) {
    const items = [];
    for (let i = 0; i < value.length; i++) {
      items.push(encodeValue(value[i], depth + 1)); // a hole reads as undefined and is refused
    }
    return "[" + items.join(",") + "]";
  }
  if (!isPlainObject(value) || Object.getOwnPropertySymbols(value).length > 0) {
    throw new EvoteError("encoding_invalid", "only plain objects, arrays, strings, integers and null are allowed");
  }
  const keys = Object.keys(value);
  for (const key of keys) {
    if (!KEY_RE.test(key)) {
      throw new EvoteError("encoding_invalid", "object keys must be 1..128 printable ASCII characters", { key: key.slice(0, 80) });
    }
  }
  keys.sort(); // UTF-16 order equals code-point order for ASCII keys
  const members = keys.map((key) => encodeString(key) + ":" + encodeValue(value[key], depth + 1));
  return "{" + members.join(",") + "}";
}

/** The canonical JSON text of `value` (protocol 1); throws EvoteError('encoding_invalid'). */
export function canonicalJSON(value) {
  return encodeValue(value, 0);
}

/** The canonical bytes of `value`: UTF-8 of canonicalJSON (no lone surrogate can reach TextEncoder). */
export function canonicalBytes(value) {
  return utf8(canonicalJSON(value));
}

// --- bytes -------------------------------------------------------------------------------

const textEncoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text) {
  return textEncoder.encode(text);
}

/** Concatenate byte arrays. */
export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Lowercase hex of bytes. */
export function hexEncode(bytes) {
  let out = "";
  for (const byte of bytes) {
    out += byte.toString(16).padStart(2, "0");
  }
  return out;
}

/** Bytes of lowercase hex; anything else (odd length, upper case, whitespace) is 'encoding_invalid'. */
export function hexDecode(hex) {
  if (typeof hex !== "string" || !HEX_RE.test(hex)) {
    throw new EvoteError("encoding_invalid", "expected an even number of lowercase hex digits");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.substr(2 * i, 2), 16);
  }
  return out;
}

const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** base64url without padding. */
export function base64urlEncode(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) {
      out += BASE64URL_ALPHABET[(chunk >> (18 - 6 * j)) & 63];
    }
  }
  return out;
}

/**
 * Bytes of unpadded base64url ('encoding_invalid' for padding, other alphabets or a
 * length of 4k+1). Like Python's urlsafe_b64decode, unused low bits of the last
 * character are ignored, so the card parser accepts exactly what voting/cards.py does.
 */
export function base64urlDecode(text) {
  if (typeof text !== "string" || !BASE64URL_RE.test(text) || text.length % 4 === 1) {
    throw new EvoteError("encoding_invalid", "expected unpadded base64url");
  }
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const char of text) {
    buffer = ((buffer << 6) | BASE64URL_ALPHABET.indexOf(char)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >> bits) & 0xff;
    }
  }
  return out;
}

/** Big-endian unsigned integer of bytes. */
export function bytesToBigInt(bytes) {
  return bytes.length === 0 ? 0n : BigInt("0x" + hexEncode(bytes));
}

/** `value` as exactly `size` big-endian bytes (the caller guarantees it fits). */
export function bigIntToBytes(value, size) {
  const hex = value.toString(16).padStart(2 * size, "0");
  if (hex.length > 2 * size) {
    throw new RangeError("integer does not fit");
  }
  return hexDecode(hex);
}

/** SHA-256 of bytes (WebCrypto). */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** The ledger address of a 65-byte public key: hex of the first 20 bytes of its SHA-256 (protocol 3). */
export async function addressOf(publicKey) {
  return hexEncode((await sha256(publicKey)).subarray(0, 20));
}

// --- P-256 point arithmetic (only to derive the public key of a card's scalar) --------------
//
// WebCrypto signs with a scalar but cannot compute its public point, which a JWK import
// needs. BigInt arithmetic is not constant time; it runs once per key on the voter's own
// device (README.md, "Limits").

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

function modP(value) {
  const r = value % P;
  return r < 0n ? r + P : r;
}

function modPow(base, exponent, modulus) {
  let result = 1n;
  base %= modulus;
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
    exponent >>= 1n;
  }
  return result;
}

// Jacobian coordinates (X, Y, Z) for x = X/Z^2, y = Y/Z^3; Z = 0 is the point at infinity.
function pointDouble([x, y, z]) {
  if (z === 0n || y === 0n) return [0n, 1n, 0n];
  const delta = modP(z * z);
  const gamma = modP(y * y);
  const beta = modP(x * gamma);
  const alpha = modP(3n * (x - delta) * (x + delta)); // a = -3
  const x3 = modP(alpha * alpha - 8n * beta);
  const z3 = modP((y + z) * (y + z) - gamma - delta);
  const y3 = modP(alpha * (4n * beta - x3) - 8n * gamma * gamma);
  return [x3, y3, z3];
}

function pointAdd(p1, p2) {
  const [x1, y1, z1] = p1;
  const [x2, y2, z2] = p2;
  if (z1 === 0n) return p2;
  if (z2 === 0n) return p1;
  const z1z1 = modP(z1 * z1);
  const z2z2 = modP(z2 * z2);
  const u1 = modP(x1 * z2z2);
  const u2 = modP(x2 * z1z1);
  const s1 = modP(y1 * z2 * z2z2);
  const s2 = modP(y2 * z1 * z1z1);
  const h = modP(u2 - u1);
  const r = modP(2n * (s2 - s1));
  if (h === 0n) {
    return r === 0n ? pointDouble(p1) : [0n, 1n, 0n];
  }
  const i = modP(4n * h * h);
  const j = modP(h * i);
  const v = modP(u1 * i);
  const x3 = modP(r * r - j - 2n * v);
  const y3 = modP(r * (v - x3) - 2n * s1 * j);
  const z3 = modP(((z1 + z2) * (z1 + z2) - z1z1 - z2z2) * h);
  return [x3, y3, z3];
}

/** d·G as affine (x, y); d must be in [1, n-1]. Exported for tests only. */
export function multiplyBase(d) {
  const generator = [GX, GY, 1n];
  let result = [0n, 1n, 0n];
  for (let bit = 255n; bit >= 0n; bit--) {
    result = pointDouble(result);
    const sum = pointAdd(result, generator); // always added, then selected: a regular sequence of operations
    result = (d >> bit) & 1n ? sum : result;
  }
  const [x, y, z] = result;
  const zInverse = modPow(z, P - 2n, P);
  const zInverse2 = modP(zInverse * zInverse);
  const affineX = modP(x * zInverse2);
  const affineY = modP(y * zInverse2 * zInverse);
  if (modP(affineY * affineY) !== modP(affineX * affineX * affineX - 3n * affineX + B)) {
    throw new Error("P-256 arithmetic fault: result is not on the curve"); // a bug, never bad input
  }
  return [affineX, affineY];
}

// --- token keys (protocol section 3) ------------------------------------------------------

const CONSTRUCT = Symbol("TokenKey");

/**
 * A vote token's P-256 key. The scalar is used once, to import a non-extractable WebCrypto
 * key, and is not kept; only the CryptoKey and the public key stay in this object.
 */
export class TokenKey {
  #cryptoKey;
  #publicKey;
  #address;

  constructor(token, cryptoKey, publicKey, address) {
    if (token !== CONSTRUCT) {
      throw new TypeError("use TokenKey.fromSecret() or TokenKey.generate()");
    }
    this.#cryptoKey = cryptoKey;
    this.#publicKey = publicKey;
    this.#address = address;
  }

  /** Load a 32-byte big-endian scalar d, 1 <= d <= n-1 (the card's secret); else 'card_malformed'. */
  static async fromSecret(secret) {
    if (!(secret instanceof Uint8Array) || secret.length !== 32) {
      throw new EvoteError("card_malformed", "the private scalar must be 32 bytes");
    }
    const d = bytesToBigInt(secret);
    if (d < 1n || d >= CURVE_ORDER) {
      throw new EvoteError("card_malformed", "the private scalar is out of range");
    }
    const [x, y] = multiplyBase(d);
    const xBytes = bigIntToBytes(x, 32);
    const yBytes = bigIntToBytes(y, 32);
    const jwk = { kty: "EC", crv: "P-256", d: base64urlEncode(secret), x: base64urlEncode(xBytes), y: base64urlEncode(yBytes) };
    const cryptoKey = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    jwk.d = "";
    const publicKey = concatBytes(Uint8Array.of(4), xBytes, yBytes);
    return new TokenKey(CONSTRUCT, cryptoKey, publicKey, await addressOf(publicKey));
  }

  /** A fresh random key (the phone's token): a uniform scalar in [1, n-1] from getRandomValues. */
  static async generate() {
    const secret = new Uint8Array(32);
    try {
      for (;;) {
        crypto.getRandomValues(secret);
        const d = bytesToBigInt(secret);
        if (d >= 1n && d < CURVE_ORDER) {
          return await TokenKey.fromSecret(secret);
        }
      }
    } finally {
      secret.fill(0);
    }
  }

  /**
   * Rebuild a key from `toStorable()` output (e.g. read back from IndexedDB, which keeps
   * non-extractable CryptoKeys): lets a phone survive a page reload without the scalar.
   */
  static async fromStorable({ cryptoKey, publicKeyHex }) {
    if (typeof publicKeyHex !== "string" || !PUBLIC_KEY_RE.test(publicKeyHex)) {
      throw new EvoteError("public_key_invalid", "expected 130 lowercase hex digits starting with 04");
    }
    const algorithm = cryptoKey && cryptoKey.algorithm;
    if (!(cryptoKey instanceof CryptoKey) || cryptoKey.type !== "private" || !algorithm
        || algorithm.name !== "ECDSA" || algorithm.namedCurve !== "P-256" || !cryptoKey.usages.includes("sign")) {
      throw new EvoteError("public_key_invalid", "expected a P-256 ECDSA private CryptoKey");
    }
    const publicKey = hexDecode(publicKeyHex);
    return new TokenKey(CONSTRUCT, cryptoKey, publicKey, await addressOf(publicKey));
  }

  /** What IndexedDB can keep: the non-extractable CryptoKey and the public key. */
  toStorable() {
    return { cryptoKey: this.#requireKey(), publicKeyHex: this.publicKeyHex };
  }

  /** SEC1 uncompressed public key `04||X||Y` as 130 lowercase hex digits. */
  get publicKeyHex() {
    return hexEncode(this.#publicKey);
  }

  /** The 65 public key bytes (a copy). */
  get publicKey() {
    return this.#publicKey.slice();
  }

  /** The ledger address: 40 hex digits. */
  get address() {
    return this.#address;
  }

  /** True once forget() has dropped the signing key. */
  get forgotten() {
    return this.#cryptoKey === null;
  }

  /** ECDSA-P256-SHA256 over `message`: 64 bytes r||s with low S (protocol 3). */
  async sign(message) {
    const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, this.#requireKey(), message));
    const s = bytesToBigInt(raw.subarray(32));
    if (s > HALF_ORDER) {
      raw.set(bigIntToBytes(CURVE_ORDER - s, 32), 32);
    }
    return raw;
  }

  /** Drop the signing key (after the vote is sent, or when the booth resets); sign() then fails. */
  forget() {
    this.#cryptoKey = null;
  }

  #requireKey() {
    if (this.#cryptoKey === null) {
      throw new EvoteError("key_forgotten", "this token key has been forgotten");
    }
    return this.#cryptoKey;
  }

  toJSON() {
    return { address: this.#address }; // never serialise anything secret by accident
  }
}

// --- transactions (protocol section 4) ------------------------------------------------------

function malformed(field, message) {
  return new EvoteError("malformed", message, { field });
}

/** Id of a transaction body (an object without `sig`): SHA-256 of its canonical bytes, hex. */
export async function transactionId(body) {
  return hexEncode(await sha256(canonicalBytes(body)));
}

/** What a transaction's signer signs: "EVOTE-TX-V1:" followed by the 32-byte id. */
export function signingMessage(idHex) {
  return concatBytes(utf8(TX_SIGN_TAG), hexDecode(idHex));
}

/**
 * Build and sign a transaction with `key`. Returns the transaction object, its id (the
 * voter's tracking code, hex) and its canonical bytes (what is sent to a node).
 */
export async function buildTx({ chain, contract, type, payload, nonce = 0 }, key) {
  if (typeof chain !== "string" || !IDENT_RE.test(chain)) throw malformed("chain", "chain must be an identifier");
  if (typeof contract !== "string" || !IDENT_RE.test(contract)) throw malformed("contract", "contract must be an identifier");
  if (typeof type !== "string" || !TYPE_RE.test(type)) throw malformed("type", "type must match [a-z][a-z0-9_]{0,31}");
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) throw malformed("payload", "payload must be an object");
  if (!Number.isInteger(nonce) || nonce < 0 || nonce > MAX_SAFE_INT) throw malformed("nonce", "nonce must be an integer in [0, 2^53-1]");
  if (!(key instanceof TokenKey)) throw new TypeError("buildTx needs a TokenKey");
  const body = { v: TX_VERSION, chain, contract, type, payload, signer: key.publicKeyHex, nonce };
  const id = await transactionId(body);
  const sig = await key.sign(signingMessage(id));
  const tx = { ...body, sig: hexEncode(sig) };
  const bytes = canonicalBytes(tx);
  if (bytes.length > MAX_TX_BYTES) {
    throw new EvoteError("malformed", "transaction too large", { size: bytes.length, limit: MAX_TX_BYTES });
  }
  return { tx, id, bytes };
}

// --- candidates (protocol 10.1) --------------------------------------------------------------

/** A candidate's address: first 20 bytes of SHA256("EVOTE-CANDIDATE-V1:" || canonical([election, candidate])). */
export async function candidateAddress(election, candidateId) {
  const digest = await sha256(concatBytes(utf8(CANDIDATE_TAG), canonicalBytes([election, candidateId])));
  return hexEncode(digest.subarray(0, 20));
}

// --- vote-token cards (voting/cards.py) ---------------------------------------------------------

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32Of40Bits(bytes) {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = "";
  for (let shift = 35n; shift >= 0n; shift -= 5n) {
    out += BASE32_ALPHABET[Number((value >> shift) & 31n)];
  }
  return out;
}

/** The card's check code of an address: first 40 bits of SHA256("EVOTE-CARD-CHECK-V1:" || address), base32, XXXX-XXXX. */
export async function cardCheckCode(addressHex) {
  if (typeof addressHex !== "string" || !ADDRESS_RE.test(addressHex)) {
    throw new EvoteError("encoding_invalid", "an address is 40 lowercase hex digits");
  }
  const digest = await sha256(concatBytes(utf8(CARD_CHECK_TAG), hexDecode(addressHex)));
  const text = base32Of40Bits(digest.subarray(0, 5));
  return `${text.slice(0, 4)}-${text.slice(4)}`;
}

// Python's str.strip() removes exactly the characters for which str.isspace() is true;
// JS trim() differs (it strips U+FEFF, keeps U+001C..U+001F and U+0085).
const PY_WHITESPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

function pythonStrip(text) {
  let start = 0;
  let end = text.length;
  while (start < end && PY_WHITESPACE.has(text.charCodeAt(start))) start++;
  while (end > start && PY_WHITESPACE.has(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/**
 * Parse a scanned card `EV1~<chain>~<election>~<secret>~<check>` (voting/cards.py
 * parse_card_payload): 'card_malformed' for a bad shape or scalar, 'card_check_mismatch'
 * when the printed check code does not belong to the key (a misread scan).
 */
export async function parseCard(text) {
  if (typeof text !== "string") {
    throw new EvoteError("card_malformed", "not a vote token card");
  }
  const parts = pythonStrip(text).split(CARD_SEPARATOR);
  if (parts.length !== 5 || parts[0] !== CARD_VERSION) {
    throw new EvoteError("card_malformed", "not a vote token card");
  }
  const [, chain, election, secretText, check] = parts;
  if (!IDENT_RE.test(chain) || !IDENT_RE.test(election)) {
    throw new EvoteError("card_malformed", "bad chain or election id");
  }
  if (!CARD_SECRET_RE.test(secretText) || !CARD_CHECK_RE.test(check)) {
    throw new EvoteError("card_malformed", "bad key or check code");
  }
  const secret = base64urlDecode(secretText);
  let key;
  try {
    key = await TokenKey.fromSecret(secret);
  } finally {
    secret.fill(0);
  }
  if ((await cardCheckCode(key.address)) !== check) {
    key.forget();
    throw new EvoteError("card_check_mismatch", "check code does not match the key (misread scan?)");
  }
  return { chain, election, key, check };
}
