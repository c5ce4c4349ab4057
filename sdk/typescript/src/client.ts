/**
 * A small vaultapi client: registration, SRP login (M2 checked before anything
 * else in the answer is trusted) finished with a second factor when the account
 * has one (TOTP or a recovery code), TOTP enrolment, and an encrypted vault
 * (per-item keys, If-Match revisions, delta sync). Requests go through openapi-fetch, typed by the
 * `paths` that openapi-typescript generates from openapi/openapi.json.
 */
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./generated/api.js";
import { type Bytes, fromBase64url, fromUtf8, normalizeEmail, toBase64url, toHex, utf8 } from "./encoding.js";
import { AAD_ACCOUNT_KEY, AAD_PRIVATE_KEY, decrypt, EncStringError, encrypt } from "./encstring.js";
import { checkedKdf, DEFAULT_KDF, type KdfParams, srpPassword, subkeys } from "./kdf.js";
import * as srp from "./srp.js";
import { totp } from "./totp.js";

export type Api = Client<paths>;
type Schemas = components["schemas"];
export type RawItem = Schemas["Item"];
export type ItemType = Schemas["ItemType"];
export type Fields = Record<string, unknown>;

export function connect(baseUrl: string, accessToken?: string): Api {
  return createClient<paths>({
    baseUrl,
    headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
  });
}

/** A problem+json answer (docs/protocol.md section 10): branch on `code`. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly body: unknown,
  ) {
    super(`${status} ${code}`);
  }
}

/** The password was right and M2 verified; the account wants its second factor
 * (a 202 `MFARequiredResponse` at srp/verify) before it issues any token. */
export interface PendingLogin {
  mfaToken: string;
  /** What can finish this login (`totp`, `webauthn`, `recovery_code`; more may come). */
  methods: string[];
  expiresIn: number;
  attemptsLeft: number;
}

/** Finishes a pending login, e.g. by asking the user for the code their app shows. */
export type SecondFactor = (pending: PendingLogin) => Promise<{ totp: string } | { recoveryCode: string }>;

/** The account has a second factor and `login` was given no `secondFactor`. */
export class SecondFactorRequired extends Error {
  constructor(readonly pending: PendingLogin) {
    super(`a second factor is required: one of ${pending.methods.join(", ")}`);
  }
}

/** The data of a 2xx answer, or the problem as a ProblemError. */
function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    const body = result.error as { code?: string } | undefined;
    throw new ProblemError(result.response.status, body?.code ?? "unknown", body);
  }
  return result.data as T;
}

const randomBytes = (n: number): Bytes => crypto.getRandomValues(new Uint8Array(n));

async function srpMaterial(identity: string, authKey: Bytes): Promise<{ salt: string; verifier: string }> {
  const salt = randomBytes(srp.SALT_BYTES);
  const v = await srp.verifier(identity, srpPassword(authKey), salt);
  return { salt: toHex(salt), verifier: srp.encodeElement(v) };
}

/** Section 5.1, in its order. Returns the account id. */
export async function register(api: Api, email: string, password: string, kdf: KdfParams = DEFAULT_KDF): Promise<string> {
  const identity = normalizeEmail(email);
  const kdfSalt = randomBytes(16);
  checkedKdf({ ...kdf, salt: toHex(kdfSalt) }); // the server refuses others; fail before the work
  const { authKey, wrapKey } = await subkeys(password, kdfSalt, kdf);
  const srpBody = await srpMaterial(identity, authKey);
  const accountKey = randomBytes(32);
  const pair = (await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const privateKey = fromBase64url(jwk.d!);
  const publicKey = fromBase64url(jwk.x!);
  const body = ok(
    await api.POST("/v1/auth/register", {
      body: {
        email,
        kdf: { ...kdf, salt: toHex(kdfSalt) },
        srp: srpBody,
        keys: {
          protected_account_key: await encrypt(wrapKey, accountKey, AAD_ACCOUNT_KEY),
          public_key: toBase64url(publicKey),
          protected_private_key: await encrypt(accountKey, privateKey, AAD_PRIVATE_KEY),
        },
      },
    }),
  );
  return body.account_id;
}

export interface Session {
  api: Api;
  accountId: string;
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  /** Unwrapped in memory only; never written anywhere. */
  accountKey: Bytes;
}

/** Sections 7.3 and 7.4: srp/start, Argon2id and the proof, srp/verify, M2, then
 * (an account with a second factor) `secondFactor` and `mfa/totp` or
 * `mfa/recovery-code`, and the account key unwrapped. */
export async function login(
  baseUrl: string,
  email: string,
  password: string,
  deviceName = "typescript",
  secondFactor?: SecondFactor,
): Promise<Session> {
  const api = connect(baseUrl);
  const identity = normalizeEmail(email);
  const start = srp.clientStart();
  const challenge = ok(await api.POST("/v1/auth/srp/start", { body: { email, A: srp.encodeElement(start.A) } }));
  const { params, salt } = checkedKdf(challenge.kdf);
  const B = srp.parseElement(challenge.B, "B");
  const { authKey, wrapKey } = await subkeys(password, salt, params);
  const srpSalt = srp.fromSalt(challenge.srp_salt);
  const proof = await srp.clientProof(identity, srpPassword(authKey), srpSalt, start, B);
  const result = await api.POST("/v1/auth/srp/verify", {
    body: { handshake_id: challenge.handshake_id, M1: toHex(proof.M1), device_name: deviceName },
  });
  const answer = ok(result) as Schemas["SRPVerifyResponse"] | Schemas["MFARequiredResponse"];
  srp.verifyServerProof(proof, answer.M2); // before anything else in the answer is trusted
  if (result.response.status === 202 || "mfa_required" in answer) {
    const required = answer as Schemas["MFARequiredResponse"];
    const pending: PendingLogin = {
      mfaToken: required.mfa_token,
      methods: required.methods,
      expiresIn: required.expires_in,
      attemptsLeft: required.attempts_left,
    };
    if (secondFactor === undefined) throw new SecondFactorRequired(pending);
    const factor = await secondFactor(pending);
    const finished =
      "totp" in factor
        ? await api.POST("/v1/auth/mfa/totp", { body: { mfa_token: pending.mfaToken, code: factor.totp } })
        : await api.POST("/v1/auth/mfa/recovery-code", {
            body: { mfa_token: pending.mfaToken, code: factor.recoveryCode },
          });
    return sessionOf(baseUrl, ok(finished), wrapKey);
  }
  return sessionOf(baseUrl, answer as Schemas["SRPVerifyResponse"], wrapKey);
}

/** The tokens of a finished login, and the account key unwrapped (memory only). */
async function sessionOf(baseUrl: string, verified: Schemas["LoginResponse"], wrapKey: Bytes): Promise<Session> {
  let accountKey: Bytes;
  try {
    accountKey = await decrypt(wrapKey, verified.keys.protected_account_key, AAD_ACCOUNT_KEY);
  } catch (error) {
    throw new EncStringError(`the account key does not unwrap: ${(error as Error).message}`);
  }
  return {
    api: connect(baseUrl, verified.access_token),
    accountId: verified.account_id,
    sessionId: verified.session_id,
    accessToken: verified.access_token,
    refreshToken: verified.refresh_token,
    accountKey,
  };
}

/** Turns TOTP on: enrol, then confirm with the code for now, computed from the
 * secret as an authenticator app would. Returns the secret and, for the first
 * second factor of the account, its recovery codes (shown this once). */
export async function enableTotp(
  session: Session,
  nowSeconds: number = Date.now() / 1000,
): Promise<{ secret: string; recoveryCodes: string[] }> {
  const enrolment = ok(await session.api.POST("/v1/account/mfa/totp"));
  const enabled = ok(
    await session.api.POST("/v1/account/mfa/totp/confirm", {
      body: { code: await totp(enrolment.secret, nowSeconds) },
    }),
  );
  return { secret: enrolment.secret, recoveryCodes: enabled.recovery_codes ?? [] };
}

export interface Item {
  id: string;
  type: ItemType;
  fields: Fields;
  folderId: string | null;
  favorite: boolean;
  revision: number;
  deletedAt: string | null;
}

/** The item plaintext as the reference client writes it: compact JSON, keys sorted,
 * non-ASCII as \uXXXX escapes (Python's json.dumps(..., sort_keys=True,
 * separators=(",", ":"))). Readers only parse it; writing the same bytes just
 * makes the two clients' plaintexts identical. */
export function itemJson(fields: Fields): string {
  const sorted = (value: unknown): unknown =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((key) => [key, sorted((value as Fields)[key])]),
        )
      : Array.isArray(value)
        ? value.map(sorted)
        : value;
  return JSON.stringify(sorted(fields)).replace(
    /[\u0080-\uffff]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

const etag = (revision: number): string => `"${revision}"`;

/** The vault of one session: item key under the account key, item JSON under the
 * item key, both with the item id as AAD (docs/protocol.md section 5.3). */
export class Vault {
  cursor: number | undefined;
  readonly items = new Map<string, Item>();
  readonly folders = new Map<string, string>();

  constructor(readonly session: Session) {}

  private async seal(id: string, fields: Fields): Promise<{ key: string; data: string }> {
    const itemKey = randomBytes(32);
    return {
      key: await encrypt(this.session.accountKey, itemKey, id),
      data: await encrypt(itemKey, utf8(itemJson(fields)), id),
    };
  }

  async open(raw: RawItem): Promise<Item> {
    const itemKey = await decrypt(this.session.accountKey, raw.key, raw.id);
    const fields = JSON.parse(fromUtf8(await decrypt(itemKey, raw.data, raw.id))) as Fields;
    const item: Item = {
      id: raw.id,
      type: raw.type as ItemType,
      fields,
      folderId: raw.folder_id ?? null,
      favorite: raw.favorite,
      revision: raw.revision,
      deletedAt: raw.deleted_at ?? null,
    };
    this.items.set(item.id, item);
    return item;
  }

  async create(fields: Fields, type: ItemType = "login"): Promise<Item> {
    const id = crypto.randomUUID();
    const body = { id, type, ...(await this.seal(id, fields)), folder_id: null, favorite: false };
    return this.open(ok(await this.session.api.POST("/v1/vault/items", { body })));
  }

  async get(id: string): Promise<Item> {
    return this.open(ok(await this.session.api.GET("/v1/vault/items/{item_id}", { params: { path: { item_id: id } } })));
  }

  /** Replace the fields; 412 `stale_revision` when the server has moved past item.revision. */
  async update(item: Item): Promise<Item> {
    const body = { type: item.type, ...(await this.seal(item.id, item.fields)), folder_id: item.folderId, favorite: item.favorite };
    const params = { path: { item_id: item.id }, header: { "if-match": etag(item.revision) } };
    return this.open(ok(await this.session.api.PUT("/v1/vault/items/{item_id}", { params, body })));
  }

  /** Move to the trash (the item stays, with deleted_at). */
  async trash(item: Item): Promise<Item> {
    const params = { path: { item_id: item.id }, header: { "if-match": etag(item.revision) } };
    return this.open(ok(await this.session.api.DELETE("/v1/vault/items/{item_id}", { params })));
  }

  /** Delete for good: later syncs report a tombstone. */
  async purge(item: Item): Promise<void> {
    const params = { path: { item_id: item.id }, header: { "if-match": etag(item.revision) } };
    ok(await this.session.api.POST("/v1/vault/items/{item_id}/purge", { params }));
    this.items.delete(item.id);
  }

  /** Everything since the last sync (everything the first time). */
  async sync(): Promise<Schemas["Sync"]> {
    const query = this.cursor === undefined ? {} : { since: this.cursor };
    const body = ok(await this.session.api.GET("/v1/vault/sync", { params: { query } }));
    if (body.full) {
      this.items.clear();
      this.folders.clear();
    }
    for (const raw of body.items) await this.open(raw);
    for (const folder of body.folders) {
      this.folders.set(folder.id, fromUtf8(await decrypt(this.session.accountKey, folder.name, folder.id)));
    }
    for (const gone of body.tombstones) {
      this.items.delete(gone.id);
      this.folders.delete(gone.id);
    }
    this.cursor = body.revision;
    return body;
  }
}
