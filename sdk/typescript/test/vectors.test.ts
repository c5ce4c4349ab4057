/**
 * The TypeScript suite against docs/vectors/v1.json, step by step in the
 * order of docs/protocol.md section 11. Run by `npm test` (node --test).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { fromHex, normalizeEmail, passwordBytes, toBigInt, toHex, utf8 } from "../src/encoding.js";
import { decrypt, EncStringError, encrypt } from "../src/encstring.js";
import { checkedKdf, hkdf, KdfError, masterKey, MINIMUM_KDF, srpPassword, subkeys } from "../src/kdf.js";
import * as srp from "../src/srp.js";
import { itemJson } from "../src/client.js";
import { base32Decode, totp, TotpError } from "../src/totp.js";

const vectors = JSON.parse(readFileSync(new URL("../../../../docs/vectors/v1.json", import.meta.url), "utf-8"));
const hex = (n: bigint, width = srp.HEX_WIDTH): string => n.toString(16).padStart(width, "0");
const sha256int = async (label: string): Promise<bigint> => toBigInt(await srp.H(utf8(label)));

test("kdf: identity, NFKC password, Argon2id, HKDF, P", async () => {
  const v = vectors.kdf;
  assert.equal(normalizeEmail(v.email), v.identity);
  assert.equal(toHex(passwordBytes(v.password)), v.password_nfkc_utf8);
  const { params, salt } = checkedKdf({ ...v.params, salt: v.kdf_salt });
  assert.equal(toHex(await masterKey(v.password, salt, params)), v.master_key);
  const keys = await subkeys(v.password, salt, params);
  assert.equal(toHex(keys.authKey), v.auth_key);
  assert.equal(toHex(keys.wrapKey), v.wrap_key);
  assert.equal(srpPassword(keys.authKey), vectors.srp.P);
  assert.equal(toHex(await hkdf(fromHex(v.master_key), "vaultapi/v1/auth", 32)), v.auth_key);
});

test("kdf: parameters outside the bounds are refused before any work", () => {
  const salt = "00".repeat(16);
  assert.throws(() => checkedKdf({ ...MINIMUM_KDF, memory_kib: 19455, salt }), KdfError);
  assert.throws(() => checkedKdf({ ...MINIMUM_KDF, iterations: 65, salt }), KdfError);
  assert.throws(() => checkedKdf({ ...MINIMUM_KDF, algorithm: "argon2i" as "argon2id", salt }), KdfError);
  assert.throws(() => checkedKdf({ ...MINIMUM_KDF, salt: "00".repeat(15) }), KdfError);
  assert.throws(() => checkedKdf({ ...MINIMUM_KDF, salt: "AA".repeat(16) }), KdfError);
});

test("e-mail: Python's str.strip() set, not JavaScript's trim()", () => {
  assert.equal(normalizeEmail("\u0085 Alice@Example.COM\u3000"), "alice@example.com");
  assert.equal(normalizeEmail("\ufeffa@b"), "\ufeffa@b"); // U+FEFF is not whitespace to Python
  assert.throws(() => normalizeEmail("   "));
  assert.throws(() => normalizeEmail("no-at-sign"));
});

test("srp: k, x, v, A, B, K, M1 inputs and proofs", async () => {
  const v = vectors.srp;
  assert.equal(hex(srp.N), v.N);
  assert.equal(srp.g, BigInt(v.g));
  const a = await sha256int("vaultapi/v1/test-vector/a");
  const b = await sha256int("vaultapi/v1/test-vector/b");
  assert.equal(hex(a), v.a);
  assert.equal(hex(b), v.b);
  const salt = srp.fromSalt(v.srp_salt);
  assert.equal(hex(await srp.k(), 64), v.k);
  const x = await srp.x(v.I, v.P, salt);
  assert.equal(hex(x, 64), v.x);
  const verifier = await srp.verifier(v.I, v.P, salt);
  assert.equal(srp.encodeElement(verifier), v.verifier);
  const start = srp.clientStart(a);
  assert.equal(srp.encodeElement(start.A), v.A);
  const B = ((await srp.k()) * verifier + srp.modPow(srp.g, b, srp.N)) % srp.N; // the server's side
  assert.equal(srp.encodeElement(B), v.B);
  assert.equal(srp.parseElement(v.B, "B"), B);
  assert.equal(toHex(srp.MIN(toBigInt(await srp.H(srp.MIN(srp.N))) ^ toBigInt(await srp.H(srp.MIN(srp.g))))), v.h_n_xor_h_g);
  assert.equal(toHex(srp.MIN(toBigInt(await srp.H(utf8(v.I))))), v.h_i);
  const proof = await srp.clientProof(v.I, v.P, salt, start, B);
  assert.equal(toHex(proof.K), v.K);
  assert.equal(toHex(proof.M1), v.M1);
  assert.equal(toHex(proof.expectedM2), v.M2);
  srp.verifyServerProof(proof, v.M2);
  assert.throws(() => srp.verifyServerProof(proof, v.M1), srp.SrpError);
});

test("srp: group elements out of range or badly encoded are refused (6.5)", () => {
  for (const bad of [0n, 1n, srp.N - 1n, srp.N]) {
    assert.throws(() => srp.parseElement(bad.toString(16).padStart(768, "0"), "B"), srp.SrpError);
  }
  assert.throws(() => srp.parseElement("5", "B"), srp.SrpError);
  assert.throws(() => srp.parseElement("A".padStart(768, "0"), "B"), srp.SrpError);
  assert.equal(srp.parseElement("5".padStart(768, "0"), "B"), 5n);
});

test("srp: the section 11 quirk case has A, B, S and H(I) with a leading zero byte", async () => {
  const I = "user73@example.com";
  const P = "0".repeat(64);
  const salt = new Uint8Array(16);
  const short = 1n << BigInt(8 * (srp.N_BYTES - 1));
  const a = await sha256int("a85");
  const b = await sha256int("b17765");
  const verifier = await srp.verifier(I, P, salt);
  const start = srp.clientStart(a);
  const B = ((await srp.k()) * verifier + srp.modPow(srp.g, b, srp.N)) % srp.N;
  assert.ok(start.A < short && B < short);
  const u = toBigInt(await srp.H(srp.PAD(start.A), srp.PAD(B)));
  const S = srp.modPow(start.A * srp.modPow(verifier, u, srp.N), b, srp.N); // the server's S
  assert.ok(S < short);
  const proof = await srp.clientProof(I, P, salt, start, B);
  assert.equal(toHex(proof.K), toHex(await srp.H(srp.MIN(S)))); // client S == server S, hashed MIN
  assert.equal(srp.MIN(toBigInt(await srp.H(utf8(I)))).length, 31);
});

test("encstring: the vectors by encryption and by decryption", async () => {
  const e = vectors.encstring;
  const keys: Record<string, string> = { wrap_key: vectors.kdf.wrap_key, account_key: e.account_key, item_key: e.item_key };
  for (const name of ["protected_account_key", "item_key_wrapped", "item_data"]) {
    const v = e[name];
    const key = fromHex(keys[v.key]!);
    assert.equal(await encrypt(key, fromHex(v.plaintext), v.aad, fromHex(v.nonce)), v.value, name);
    assert.equal(toHex(await decrypt(key, v.value, v.aad)), v.plaintext, name);
    await assert.rejects(decrypt(key, v.value, v.aad + "x"), EncStringError);
  }
  assert.equal(itemJson(JSON.parse(e.item_data.plaintext_text)), e.item_data.plaintext_text);
});

test("encstring: malformed or altered values are refused", async () => {
  const v = vectors.encstring.protected_account_key;
  const key = fromHex(vectors.kdf.wrap_key);
  const [, nonce, body] = v.value.split(".");
  const last = body.at(-1) === "A" ? "B" : "A";
  for (const bad of [
    `v2.${nonce}.${body}`,
    `v1.${nonce}.${body}.x`,
    `v1.${nonce}=.${body}`,
    `v1.${nonce}.${body.slice(0, -1)}${last}`, // altered tag
    `v1.${nonce.slice(0, -1)}B.${body}`, // another nonce
    `v1.${nonce}.${body.slice(0, 20)}`,
  ]) {
    await assert.rejects(decrypt(key, bad, v.aad), EncStringError, bad);
  }
});

test("item JSON: compact, sorted, non-ASCII escaped like the reference client", () => {
  assert.equal(itemJson({ b: "é", a: { z: 1, y: ["✓"] } }), '{"a":{"y":["\\u2713"],"z":1},"b":"\\u00e9"}');
});

test("totp: RFC 6238 appendix B (SHA-1), through base32 and HOTP", async () => {
  // The RFC's key is the ASCII "12345678901234567890"; apps are given it in base32.
  const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
  assert.deepEqual(base32Decode(secret), utf8("12345678901234567890"));
  const expected: [number, string][] = [
    [59, "94287082"],
    [1111111109, "07081804"],
    [1111111111, "14050471"],
    [1234567890, "89005924"],
    [2000000000, "69279037"],
    [20000000000, "65353130"],
  ];
  for (const [time, code] of expected) {
    assert.equal(await totp(secret, time, 8), code);
    assert.equal(await totp(secret, time), code.slice(2)); // the 6 digits the server uses
  }
  assert.throws(() => base32Decode("not base32!"), TotpError);
});
