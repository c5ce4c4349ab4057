/**
 * Encodings of docs/protocol.md section 2: strict lowercase hex, canonical
 * unpadded base64url, UTF-8, big-endian integers (PAD and MIN of 6.2), and the
 * text normalizations of 3.1 and 3.2.
 */

/** Byte strings over a plain ArrayBuffer, as WebCrypto wants them. */
export type Bytes = Uint8Array<ArrayBuffer>;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export class EncodingError extends Error {}

export function utf8(text: string): Bytes {
  // A lone surrogate cannot be encoded: refuse it instead of writing U+FFFD (section 2).
  if (!text.isWellFormed()) throw new EncodingError("text with a lone surrogate");
  return encoder.encode(text);
}

export function fromUtf8(bytes: Bytes): string {
  return decoder.decode(bytes);
}

export function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function toHex(bytes: Bytes): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Lowercase hex only; `bytes`, when given, is the exact length required. */
export function fromHex(text: string, bytes?: number): Bytes {
  if (!/^(?:[0-9a-f]{2})*$/.test(text)) throw new EncodingError("not lowercase hex");
  if (bytes !== undefined && text.length !== 2 * bytes) {
    throw new EncodingError(`expected ${bytes} bytes of hex, got ${text.length / 2}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toBase64url(bytes: Bytes): string {
  return Buffer.from(bytes).toString("base64url");
}

/** RFC 4648 §5 without padding, canonical: re-encoding must give the same text. */
export function fromBase64url(text: string): Bytes {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new EncodingError("not unpadded base64url");
  }
  const bytes = new Uint8Array(Buffer.from(text, "base64url"));
  if (toBase64url(bytes) !== text) throw new EncodingError("non-canonical base64url");
  return bytes;
}

/** Big-endian bytes → non-negative integer. */
export function toBigInt(bytes: Bytes): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + toHex(bytes));
}

/** MIN(n): the fewest big-endian bytes; MIN(0) is the single byte 00 (6.2). */
export function minBytes(n: bigint): Bytes {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  return fromHex(hex);
}

/** PAD(n): big-endian, left-padded with zero bytes to `length` bytes (6.2). */
export function padBytes(n: bigint, length: number): Bytes {
  const hex = n.toString(16);
  if (hex.length > 2 * length) throw new EncodingError("integer too large for its width");
  return fromHex(hex.padStart(2 * length, "0"));
}

/** Python's str.isspace() set, which `str.strip()` removes (3.1). JavaScript's
 * trim() differs: it keeps U+001C–U+001F and U+0085 and removes U+FEFF. */
const PY_WHITESPACE =
  "\t\n\v\f\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004" +
  "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && PY_WHITESPACE.includes(text[start]!)) start++;
  while (end > start && PY_WHITESPACE.includes(text[end - 1]!)) end--;
  return text.slice(start, end);
}

/** I = lower(strip(NFKC(email))), section 3.1. */
export function normalizeEmail(email: string): string {
  const identity = pythonStrip(email.normalize("NFKC")).toLowerCase();
  if (!identity || [...identity].length > 254 || !identity.includes("@") || /\p{Cc}/u.test(identity)) {
    throw new EncodingError("not an e-mail address");
  }
  return identity;
}

/** The Argon2id input: UTF-8(NFKC(password)), nothing else (3.2). */
export function passwordBytes(password: string): Bytes {
  return utf8(password.normalize("NFKC"));
}
