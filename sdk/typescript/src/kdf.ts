/**
 * Key hierarchy, docs/protocol.md section 3: Argon2id (hash-wasm) gives the
 * master key; HKDF-SHA256 (WebCrypto, no salt) splits it into auth_key and
 * wrap_key; P = hex(auth_key) is the SRP password.
 */
import { argon2id } from "hash-wasm";

import { type Bytes, EncodingError, fromHex, passwordBytes, toHex, utf8 } from "./encoding.js";

export interface KdfParams {
  algorithm: "argon2id";
  memory_kib: number;
  iterations: number;
  parallelism: number;
}

/** The KDF object of register, prelogin and srp/start: parameters and salt. */
export interface KdfObject extends KdfParams {
  salt: string;
}

export const DEFAULT_KDF: KdfParams = { algorithm: "argon2id", memory_kib: 65536, iterations: 3, parallelism: 4 };
export const MINIMUM_KDF: KdfParams = { algorithm: "argon2id", memory_kib: 19456, iterations: 2, parallelism: 1 };
export const MAXIMUM_KDF: KdfParams = { algorithm: "argon2id", memory_kib: 4194304, iterations: 64, parallelism: 16 };
export const KDF_SALT_BYTES = 16;

export class KdfError extends Error {}

/** Refuse parameters outside the bounds of 3.3 before deriving anything: a hostile
 * server must not lower the work factor nor make us allocate without limit. */
export function checkedKdf(kdf: { algorithm?: string; memory_kib: number; iterations: number; parallelism: number; salt: string }): {
  params: KdfParams;
  salt: Bytes;
} {
  if (kdf.algorithm !== "argon2id") throw new KdfError(`KDF algorithm ${String(kdf.algorithm)} is not argon2id`);
  for (const name of ["memory_kib", "iterations", "parallelism"] as const) {
    const value = kdf[name];
    if (!Number.isInteger(value) || value < MINIMUM_KDF[name] || value > MAXIMUM_KDF[name]) {
      throw new KdfError(`KDF ${name} = ${value} is outside ${MINIMUM_KDF[name]}…${MAXIMUM_KDF[name]}`);
    }
  }
  let salt: Bytes;
  try {
    salt = fromHex(kdf.salt, KDF_SALT_BYTES);
  } catch (error) {
    throw new KdfError(`KDF salt: ${(error as EncodingError).message}`);
  }
  const { memory_kib, iterations, parallelism } = kdf;
  return { params: { algorithm: "argon2id", memory_kib, iterations, parallelism }, salt };
}

/** Argon2id version 0x13 (hash-wasm's only version), 32-byte tag, no secret, no AD. */
export async function masterKey(password: string, salt: Bytes, params: KdfParams): Promise<Bytes> {
  const tag = await argon2id({
    password: passwordBytes(password),
    salt,
    iterations: params.iterations,
    memorySize: params.memory_kib,
    parallelism: params.parallelism,
    hashLength: 32,
    outputType: "binary",
  });
  return new Uint8Array(tag);
}

/** RFC 5869 HKDF-SHA256 with no salt (WebCrypto treats an empty salt as 32 zero bytes). */
export async function hkdf(ikm: Bytes, info: string, length: number): Promise<Bytes> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8(info) },
    key,
    8 * length,
  );
  return new Uint8Array(bits);
}

export interface Subkeys {
  authKey: Bytes;
  wrapKey: Bytes;
}

export async function subkeys(password: string, salt: Bytes, params: KdfParams): Promise<Subkeys> {
  const master = await masterKey(password, salt, params);
  return { authKey: await hkdf(master, "vaultapi/v1/auth", 32), wrapKey: await hkdf(master, "vaultapi/v1/wrap", 32) };
}

/** P of section 3.5: the 64 lowercase hex characters of auth_key. */
export function srpPassword(authKey: Bytes): string {
  return toHex(authKey);
}
