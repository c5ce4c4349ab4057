/**
 * EncString, docs/protocol.md section 4:
 * "v1." + base64url(nonce) + "." + base64url(ciphertext ‖ tag), AES-256-GCM
 * (WebCrypto, which returns ciphertext ‖ tag as well), 12-byte nonce, 16-byte
 * tag, AAD = the UTF-8 of a string fixed by the use.
 */
import { type Bytes, EncodingError, fromBase64url, toBase64url, utf8 } from "./encoding.js";

export const AAD_ACCOUNT_KEY = "vaultapi/v1/account-key";
export const AAD_PRIVATE_KEY = "vaultapi/v1/private-key";

/** Authentication failed, or the text is not a v1 EncString: never partial plaintext. */
export class EncStringError extends Error {}

async function aesKey(key: Bytes, usage: KeyUsage): Promise<CryptoKey> {
  if (key.length !== 32) throw new EncStringError("an EncString key is 32 bytes");
  return crypto.subtle.importKey("raw", key, "AES-GCM", false, [usage]);
}

/** `nonce` is for the test vectors only: a real encryption draws 12 fresh random bytes. */
export async function encrypt(key: Bytes, plaintext: Bytes, aad: string, nonce?: Bytes): Promise<string> {
  const iv = nonce ?? crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(aad), tagLength: 128 },
    await aesKey(key, "encrypt"),
    plaintext,
  );
  return `v1.${toBase64url(iv)}.${toBase64url(new Uint8Array(sealed))}`;
}

export async function decrypt(key: Bytes, value: string, aad: string): Promise<Bytes> {
  const parts = value.split(".");
  if (parts.length !== 3 || parts[0] !== "v1") throw new EncStringError("not a v1 EncString");
  let iv: Bytes;
  let body: Bytes;
  try {
    iv = fromBase64url(parts[1]!);
    body = fromBase64url(parts[2]!);
  } catch (error) {
    throw new EncStringError(`EncString: ${(error as EncodingError).message}`);
  }
  if (iv.length !== 12 || body.length < 16) throw new EncStringError("EncString: wrong nonce or body length");
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: utf8(aad), tagLength: 128 },
      await aesKey(key, "decrypt"),
      body,
    );
    return new Uint8Array(plain);
  } catch {
    throw new EncStringError("EncString does not authenticate under this key and AAD");
  }
}
