/**
 * SRP-6a of suite v1, exactly as docs/protocol.md section 6 writes it, with
 * BigInt arithmetic. Mind the MIN/PAD encodings (6.4): srptools hashes several
 * numbers without their leading zero bytes, and so must we.
 */
import { timingSafeEqual } from "node:crypto";

import { type Bytes, concat, EncodingError, fromHex, minBytes, padBytes, toBigInt, utf8 } from "./encoding.js";

/** RFC 5054 Appendix A, the 3072-bit group (6.1). */
export const N = BigInt(
  "0x" +
  "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74" +
  "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437" +
  "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed" +
  "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05" +
  "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb" +
  "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b" +
  "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718" +
  "3995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33" +
  "a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7" +
  "abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864" +
  "d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e2" +
  "08e24fa074e5ab3143db5bfce0fd108e4b82d120a93ad2caffffffffffffffff",
);
export const g = 5n;
export const N_BYTES = 384;
export const HEX_WIDTH = 2 * N_BYTES;
export const SALT_BYTES = 16;

export class SrpError extends Error {}

export const PAD = (n: bigint): Bytes => padBytes(n, N_BYTES);
export const MIN = minBytes;

export async function H(...parts: Bytes[]): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
}

const int = toBigInt;

/** base^exponent mod modulus by square-and-multiply (exponents here are ≤ 512 bits). */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  base %= modulus;
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
    exponent >>= 1n;
  }
  return result;
}

const mod = (n: bigint): bigint => ((n % N) + N) % N;

export const k = async (): Promise<bigint> => int(await H(MIN(N), PAD(g)));

/** x = int(H(s | H(I | ":" | P))): the salt as its raw 16 bytes, the inner hash raw. */
export async function x(identity: string, password: string, salt: Bytes): Promise<bigint> {
  return int(await H(salt, await H(utf8(identity + ":" + password))));
}

export async function verifier(identity: string, password: string, salt: Bytes): Promise<bigint> {
  return modPow(g, await x(identity, password, salt), N);
}

/** A group element on the wire: exactly 768 lowercase hex characters, 2 ≤ value ≤ N-2 (6.5). */
export function parseElement(text: string, name: string): bigint {
  let value: bigint;
  try {
    value = int(fromHex(text, N_BYTES));
  } catch (error) {
    throw new SrpError(`${name}: ${(error as EncodingError).message}`);
  }
  if (value < 2n || value > N - 2n) throw new SrpError(`${name} is out of range`);
  return value;
}

export const encodeElement = (value: bigint): string => value.toString(16).padStart(HEX_WIDTH, "0");

export interface ClientStart {
  a: bigint;
  A: bigint;
}

/** Draw a (256 random bits, again while a ≤ 1 or A is out of range); A = g^a mod N. */
export function clientStart(a?: bigint): ClientStart {
  for (;;) {
    const secret = a ?? int(crypto.getRandomValues(new Uint8Array(32)));
    const A = modPow(g, secret, N);
    if (secret > 1n && A >= 2n && A <= N - 2n) return { a: secret, A };
    if (a !== undefined) throw new SrpError("the given a gives no valid A");
  }
}

export interface ClientProof {
  K: Bytes;
  M1: Bytes;
  expectedM2: Bytes;
}

/** u, S, K, M1 and the M2 the server must answer with (6.3). */
export async function clientProof(
  identity: string,
  password: string,
  salt: Bytes,
  start: ClientStart,
  B: bigint,
): Promise<ClientProof> {
  const { a, A } = start;
  const u = int(await H(PAD(A), PAD(B)));
  if (u === 0n) throw new SrpError("u == 0: abort the handshake");
  const xValue = await x(identity, password, salt);
  const S = modPow(mod(B - (await k()) * modPow(g, xValue, N)), a + u * xValue, N);
  const K = await H(MIN(S));
  const hNxorHg = int(await H(MIN(N))) ^ int(await H(MIN(g)));
  const M1 = await H(MIN(hNxorHg), MIN(int(await H(utf8(identity)))), salt, MIN(A), MIN(B), K);
  const expectedM2 = await H(MIN(A), M1, K);
  return { K, M1, expectedM2 };
}

/** Compare the server's M2 in constant time; a server that cannot produce it does not know v. */
export function verifyServerProof(proof: ClientProof, M2: string): void {
  let received: Bytes;
  try {
    received = fromHex(M2, 32);
  } catch {
    throw new SrpError("the server's proof M2 is malformed");
  }
  if (!timingSafeEqual(received, proof.expectedM2)) throw new SrpError("the server's proof M2 does not verify");
}

/** srp_salt from srp/start: exactly 16 bytes of lowercase hex, used as is (never re-encoded). */
export function fromSalt(text: string): Bytes {
  try {
    return fromHex(text, SALT_BYTES);
  } catch (error) {
    throw new SrpError(`srp_salt: ${(error as EncodingError).message}`);
  }
}
