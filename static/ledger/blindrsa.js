// Client side of RSA blind signatures, RFC 9474 RSABSSA-SHA384-PSS-Randomized (protocol 10.10).
//
// Why: a mobile voter's phone gets its anonymous vote credential by having the election
// authority sign a *blinded* message naming the phone's token address; the authority never
// sees the address, so it cannot link the credential to the vote. The Python reference
// (signer side included) is ledger/core/blindrsa.py.
//
// Blind and Finalize are BigInt arithmetic; WebCrypto does the hashing and the final
// RSASSA-PSS verification. Only the arithmetic on the client's own secrets (r, inv) happens
// here, on the voter's own device.

import { EvoteError, bigIntToBytes, bytesToBigInt, canonicalBytes, concatBytes, hexDecode } from "./evote.js";

export const HASH_SIZE = 48; // SHA-384
export const SALT_SIZE = 48; // the PSS (not PSSZERO) variant
export const PREFIX_SIZE = 32; // the Randomized variant's message prefix (RFC 9474 4.1)
export const PUBLIC_EXPONENT = 65537n;
export const MIN_MODULUS_BITS = 2048;
export const MAX_MODULUS_BITS = 4096;
const CREDENTIAL_TAG = "EVOTE-CREDENTIAL-V1";
const RSA_ENCRYPTION_OID = "2a864886f70d010101"; // 1.2.840.113549.1.1.1

// --- a small strict DER reader (only what an RSA SubjectPublicKeyInfo needs) ---------------

function keyInvalid(message) {
  return new EvoteError("credential_key_invalid", message);
}

/** Read one TLV at `offset`; definite, minimal lengths only (DER). Returns {tag, start, end}. */
function readElement(bytes, offset, limit) {
  if (offset + 2 > limit) throw keyInvalid("truncated DER");
  const tag = bytes[offset];
  let length = bytes[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3) throw keyInvalid("unsupported DER length");
    if (start + count > limit || bytes[start] === 0) throw keyInvalid("non-minimal DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i];
    if (length < 0x80) throw keyInvalid("non-minimal DER length");
    start += count;
  }
  const end = start + length;
  if (end > limit) throw keyInvalid("truncated DER");
  return { tag, start, end };
}

function expect(bytes, offset, limit, tag) {
  const element = readElement(bytes, offset, limit);
  if (element.tag !== tag) throw keyInvalid(`expected DER tag 0x${tag.toString(16)}`);
  return element;
}

function readPositiveInteger(bytes, offset, limit) {
  const element = expect(bytes, offset, limit, 0x02);
  const content = bytes.subarray(element.start, element.end);
  if (content.length === 0 || content[0] & 0x80) throw keyInvalid("RSA integers must be positive");
  if (content.length > 1 && content[0] === 0 && !(content[1] & 0x80)) throw keyInvalid("non-minimal DER integer");
  return { value: bytesToBigInt(content), end: element.end };
}

/**
 * Parse DER SubjectPublicKeyInfo (rsaEncryption, NULL parameters) strictly to {n, e, modBits,
 * size}; the modulus must have 2048..4096 bits and e = 65537 (protocol 10.2, rule 1a).
 * Throws EvoteError('credential_key_invalid').
 */
export function parseRsaPublicKey(spkiHex) {
  let der;
  try {
    der = hexDecode(spkiHex);
  } catch (error) {
    throw keyInvalid("the credential key must be lowercase hex");
  }
  const outer = expect(der, 0, der.length, 0x30);
  if (outer.end !== der.length) throw keyInvalid("trailing bytes after the key");
  const algorithm = expect(der, outer.start, outer.end, 0x30);
  const oid = expect(der, algorithm.start, algorithm.end, 0x06);
  let oidHex = "";
  for (const byte of der.subarray(oid.start, oid.end)) oidHex += byte.toString(16).padStart(2, "0");
  if (oidHex !== RSA_ENCRYPTION_OID) throw keyInvalid("not an rsaEncryption key");
  const parameters = expect(der, oid.end, algorithm.end, 0x05);
  if (parameters.start !== parameters.end || parameters.end !== algorithm.end) throw keyInvalid("bad algorithm parameters");
  const bitString = expect(der, algorithm.end, outer.end, 0x03);
  if (bitString.end !== outer.end || bitString.start >= bitString.end || der[bitString.start] !== 0) {
    throw keyInvalid("bad public key bit string");
  }
  const rsaKey = expect(der, bitString.start + 1, bitString.end, 0x30);
  if (rsaKey.end !== bitString.end) throw keyInvalid("trailing bytes in the public key");
  const modulus = readPositiveInteger(der, rsaKey.start, rsaKey.end);
  const exponent = readPositiveInteger(der, modulus.end, rsaKey.end);
  if (exponent.end !== rsaKey.end) throw keyInvalid("trailing bytes in the RSA key");
  const n = modulus.value;
  const modBits = n.toString(2).length;
  if (modBits < MIN_MODULUS_BITS || modBits > MAX_MODULUS_BITS) throw keyInvalid("the RSA modulus must have 2048 to 4096 bits");
  if (exponent.value !== PUBLIC_EXPONENT) throw keyInvalid("the RSA public exponent must be 65537");
  return { n, e: exponent.value, modBits, size: Math.ceil(modBits / 8), der };
}

// --- number theory -----------------------------------------------------------------------------

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

function gcd(a, b) {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** a^-1 mod m (extended Euclid); the caller checked gcd(a, m) = 1. */
function modInverse(a, m) {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % m) + m) % m;
}

function randomBytes(size) {
  const out = new Uint8Array(size);
  crypto.getRandomValues(out);
  return out;
}

/** A uniform random r in [1, n-1] coprime with n (rejection sampling on modBits-bit numbers). */
function randomBlindingFactor(n, modBits) {
  const size = Math.ceil(modBits / 8);
  const mask = (1n << BigInt(modBits)) - 1n;
  for (;;) {
    const r = bytesToBigInt(randomBytes(size)) & mask;
    if (r >= 1n && r < n && gcd(r, n) === 1n) return r;
  }
}

// --- EMSA-PSS (RFC 8017 9.1.1) with SHA-384, MGF1-SHA-384 --------------------------------------

async function sha384(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-384", bytes));
}

async function mgf1Sha384(seed, length) {
  const blocks = [];
  for (let counter = 0; blocks.length * HASH_SIZE < length; counter++) {
    const c = Uint8Array.of(counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff);
    blocks.push(await sha384(concatBytes(seed, c)));
  }
  return concatBytes(...blocks).subarray(0, length);
}

/** EMSA-PSS-ENCODE(message, emBits = modBits - 1) with the given salt. */
export async function pssEncode(message, modBits, salt) {
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < HASH_SIZE + salt.length + 2) {
    throw new EvoteError("blinding_failed", "modulus too small for PSS with this salt");
  }
  const mHash = await sha384(message);
  const h = await sha384(concatBytes(new Uint8Array(8), mHash, salt));
  const db = concatBytes(new Uint8Array(emLen - salt.length - HASH_SIZE - 2), Uint8Array.of(1), salt);
  const mask = await mgf1Sha384(h, emLen - HASH_SIZE - 1);
  const masked = db.map((byte, i) => byte ^ mask[i]);
  masked[0] &= 0xff >> (8 * emLen - emBits);
  return concatBytes(masked, h, Uint8Array.of(0xbc));
}

// --- the client's steps (RFC 9474 4.2, 4.4) --------------------------------------------------------

/** The message a credential signs: canonical(["EVOTE-CREDENTIAL-V1", chain, election, address]). */
export async function credentialMessage(chain, election, address) {
  return canonicalBytes([CREDENTIAL_TAG, chain, election, address]);
}

function fixedBytes(value, size, what) {
  if (!(value instanceof Uint8Array) || value.length !== size) {
    throw new EvoteError("blinding_failed", `${what} must be ${size} bytes`);
  }
  return value;
}

/**
 * RFC 9474 Prepare + Blind: returns the blinded message for the authority, the secret inverse
 * `inv` (keep it until finalize) and `inputMsg` = prefix || msg. `prefix`, `salt` and `r`
 * are injectable for test vectors only; by default all three are fresh random values.
 */
export async function blind(publicKeySpkiHex, msg, { prefix, salt, r } = {}) {
  const { n, e, modBits, size } = parseRsaPublicKey(publicKeySpkiHex);
  if (!(msg instanceof Uint8Array)) throw new TypeError("msg must be a Uint8Array");
  const inputMsg = concatBytes(prefix === undefined ? randomBytes(PREFIX_SIZE) : fixedBytes(prefix, PREFIX_SIZE, "the prefix"), msg);
  const saltBytes = salt === undefined ? randomBytes(SALT_SIZE) : fixedBytes(salt, SALT_SIZE, "the salt");
  const m = bytesToBigInt(await pssEncode(inputMsg, modBits, saltBytes));
  if (gcd(m, n) !== 1n) {
    throw new EvoteError("blinding_failed", "the encoded message is not coprime with the modulus");
  }
  const factor = r === undefined ? randomBlindingFactor(n, modBits) : (r instanceof Uint8Array ? bytesToBigInt(r) : r);
  if (typeof factor !== "bigint" || factor < 1n || factor >= n || gcd(factor, n) !== 1n) {
    throw new EvoteError("blinding_failed", "the blinding factor is not invertible modulo n");
  }
  const z = (m * modPow(factor, e, n)) % n;
  return { blindedMsg: bigIntToBytes(z, size), inv: modInverse(factor, n), inputMsg };
}

async function importVerifyKey(der) {
  return crypto.subtle.importKey("spki", der, { name: "RSA-PSS", hash: "SHA-384" }, false, ["verify"]);
}

async function verifyPss(der, signature, inputMsg) {
  return crypto.subtle.verify({ name: "RSA-PSS", saltLength: SALT_SIZE }, await importVerifyKey(der), signature, inputMsg);
}

/**
 * RFC 9474 Finalize: unblind the authority's `blindSig` with `inv`, check the RSASSA-PSS
 * signature over `inputMsg` (else 'credential_invalid') and return the credential
 * prefix || sig (32 + k bytes; protocol 10.10 step 6).
 */
export async function finalize(publicKeySpkiHex, inputMsg, blindSig, inv) {
  const { n, size, der } = parseRsaPublicKey(publicKeySpkiHex);
  if (!(inputMsg instanceof Uint8Array) || inputMsg.length < PREFIX_SIZE) {
    throw new EvoteError("credential_invalid", "inputMsg must be the prefixed message returned by blind()");
  }
  if (!(blindSig instanceof Uint8Array) || blindSig.length !== size) {
    throw new EvoteError("credential_invalid", `the blind signature must be ${size} bytes`);
  }
  const z = bytesToBigInt(blindSig);
  const inverse = inv instanceof Uint8Array ? bytesToBigInt(inv) : inv;
  if (z >= n || typeof inverse !== "bigint" || inverse < 1n || inverse >= n) {
    throw new EvoteError("credential_invalid", "the blind signature or the inverse is out of range");
  }
  const signature = bigIntToBytes((z * inverse) % n, size);
  if (!(await verifyPss(der, signature, inputMsg))) {
    throw new EvoteError("credential_invalid", "the blind signature does not verify");
  }
  return concatBytes(inputMsg.subarray(0, PREFIX_SIZE), signature);
}

/** Check a credential (prefix || sig) for (chain, election, address) as a verifier would (protocol 10.10). */
export async function verifyCredential(publicKeySpkiHex, chain, election, address, credential) {
  const { size, der } = parseRsaPublicKey(publicKeySpkiHex);
  if (!(credential instanceof Uint8Array) || credential.length !== PREFIX_SIZE + size) return false;
  const message = concatBytes(credential.subarray(0, PREFIX_SIZE), await credentialMessage(chain, election, address));
  return verifyPss(der, credential.subarray(PREFIX_SIZE), message);
}
