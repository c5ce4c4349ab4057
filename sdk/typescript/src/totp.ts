/**
 * TOTP as docs/protocol.md section 7.7 specifies it: RFC 6238 over
 * RFC 4226 HOTP, HMAC-SHA-1, 6 digits, 30-second steps from the Unix epoch,
 * with the base32 secret an enrolment returns. What an authenticator app
 * computes; a client needs it only to script a second factor (tests, CI).
 */
import type { Bytes } from "./encoding.js";

export const DIGITS = 6;
export const PERIOD_SECONDS = 30;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export class TotpError extends Error {}

/** RFC 4648 base32 (case, spaces and `=` padding ignored, as apps accept it). */
export function base32Decode(text: string): Bytes {
  const clean = text.toUpperCase().replace(/[\s=]/g, "");
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let at = 0;
  for (const char of clean) {
    const value = BASE32.indexOf(char);
    if (value < 0) throw new TotpError(`not a base32 character: ${JSON.stringify(char)}`);
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (buffer >> bits) & 0xff;
    }
  }
  return out;
}

/** RFC 4226: HMAC-SHA-1 of the 8-byte big-endian counter, dynamically truncated. */
export async function hotp(key: Bytes, counter: number, digits = DIGITS): Promise<string> {
  const message = new Uint8Array(8);
  new DataView(message.buffer).setBigUint64(0, BigInt(counter));
  const hmacKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, message));
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary =
    ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return (binary % 10 ** digits).toString().padStart(digits, "0");
}

/** The code an authenticator app shows at `unixSeconds` for a base32 secret. */
export async function totp(secret: string, unixSeconds: number, digits = DIGITS): Promise<string> {
  return hotp(base32Decode(secret), Math.floor(unixSeconds / PERIOD_SECONDS), digits);
}
