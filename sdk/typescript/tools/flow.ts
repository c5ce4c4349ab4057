/**
 * The end-to-end flow that tests/sdk/test_typescript_client.py drives against a
 * real `vaultapi serve`. One JSON argument in, one JSON result on stdout; any
 * failed expectation exits non-zero with the reason on stderr.
 *
 *   node dist/tools/flow.js write '{"base_url": …, "email": …, "password": …}'
 *     register, log in (M2 verified), create, update (If-Match), a stale update
 *     (412), delta sync, trash and purge (tombstone in the next delta)
 *   node dist/tools/flow.js read '{"base_url": …, "email": …, "password": …, "item_id": …}'
 *     log in to an account and decrypt one item (one the Python client made)
 *   node dist/tools/flow.js mfa '{"base_url": …, "email": …, "password": …, "at": [unix seconds…]}'
 *     register, turn TOTP on, see a login stop at the second factor (202), finish
 *     one with a TOTP code and one with a recovery code; plus the codes at `at`
 *     (compared with pyotp by the test)
 */
import assert from "node:assert/strict";

import {
  connect,
  enableTotp,
  login,
  ProblemError,
  register,
  SecondFactorRequired,
  type Session,
  Vault,
} from "../src/client.js";
import { MINIMUM_KDF } from "../src/kdf.js";
import { PERIOD_SECONDS, totp } from "../src/totp.js";

interface Args {
  base_url: string;
  email: string;
  password: string;
  item_id?: string;
  at?: number[];
}

async function write(args: Args): Promise<unknown> {
  // The minimum KDF cost keeps the test quick; real clients register with DEFAULT_KDF.
  const accountId = await register(connect(args.base_url), args.email, args.password, MINIMUM_KDF);
  const session = await login(args.base_url, args.email, args.password);
  assert.equal(session.accountId, accountId);
  const vault = new Vault(session);

  const first = await vault.sync();
  assert.equal(first.full, true);
  const start = vault.cursor;

  const kept = await vault.create({ name: "From TypeScript", username: "ts", password: "pässwörd ✓", uri: "https://example.com" });
  const doomed = await vault.create({ name: "Short-lived", text: "gone soon" }, "note");
  assert.equal(kept.revision, 1);

  const edited = await vault.update({ ...kept, fields: { ...kept.fields, password: "changed ✓ 🔑" } });
  assert.equal(edited.revision, 2);
  let staleCode = "";
  try {
    await vault.update({ ...kept, fields: { ...kept.fields, password: "lost update" } }); // still revision 1
  } catch (error) {
    staleCode = error instanceof ProblemError ? `${error.status} ${error.code}` : String(error);
  }
  assert.equal((await vault.get(kept.id)).fields.password, "changed ✓ 🔑");

  const delta = await vault.sync();
  const trashed = await vault.trash(vault.items.get(doomed.id)!);
  assert.ok(trashed.deletedAt);
  await vault.purge(trashed);
  const afterPurge = await vault.sync();

  return {
    account_id: accountId,
    session_id: session.sessionId,
    item_id: kept.id,
    fields: vault.items.get(kept.id)!.fields,
    revision: vault.items.get(kept.id)!.revision,
    doomed_id: doomed.id,
    stale_update: staleCode,
    first_sync: { full: first.full, revision: start },
    delta: {
      full: delta.full,
      items: delta.items.map((item) => [item.id, item.revision]),
      tombstones: delta.tombstones.map((gone) => gone.id),
    },
    after_purge: {
      full: afterPurge.full,
      items: afterPurge.items.map((item) => [item.id, item.revision]),
      tombstones: afterPurge.tombstones.map((gone) => [gone.id, gone.kind]),
    },
    local_items: [...vault.items.keys()].sort(),
  };
}

async function read(args: Args): Promise<unknown> {
  const session = await login(args.base_url, args.email, args.password);
  const vault = new Vault(session);
  const item = await vault.get(args.item_id!);
  await vault.sync();
  return {
    item_id: item.id,
    type: item.type,
    revision: item.revision,
    fields: item.fields,
    synced: Object.fromEntries([...vault.items.values()].map((i) => [i.id, i.fields])),
  };
}

async function accountEmail(session: Session): Promise<string> {
  const { data } = await session.api.GET("/v1/account");
  return data!.email;
}

async function mfa(args: Args): Promise<unknown> {
  const accountId = await register(connect(args.base_url), args.email, args.password, MINIMUM_KDF);
  const first = await login(args.base_url, args.email, args.password);
  const { secret, recoveryCodes } = await enableTotp(first);

  let stopped: SecondFactorRequired | undefined;
  try {
    await login(args.base_url, args.email, args.password);
  } catch (error) {
    if (!(error instanceof SecondFactorRequired)) throw error;
    stopped = error;
  }
  assert.ok(stopped, "a login of an account with TOTP must stop at the second factor");

  // The confirmation used this step's code, and a code is good once: the next
  // step's code is within the server's accepted drift and not yet used.
  const withTotp = await login(args.base_url, args.email, args.password, "typescript totp", async (pending) => {
    assert.ok(pending.methods.includes("totp"));
    return { totp: await totp(secret, Date.now() / 1000 + PERIOD_SECONDS) };
  });
  const withRecovery = await login(args.base_url, args.email, args.password, "typescript recovery", async () => ({
    recoveryCode: recoveryCodes[0]!,
  }));
  return {
    account_id: accountId,
    secret,
    recovery_codes: recoveryCodes.length,
    pending: { methods: stopped.pending.methods, attempts_left: stopped.pending.attemptsLeft },
    totp_login: { account_id: withTotp.accountId, email: await accountEmail(withTotp) },
    recovery_login: { account_id: withRecovery.accountId, email: await accountEmail(withRecovery) },
    sessions_differ: new Set([first.sessionId, withTotp.sessionId, withRecovery.sessionId]).size === 3,
    codes_at: Object.fromEntries(await Promise.all((args.at ?? []).map(async (t) => [t, await totp(secret, t)]))),
  };
}

const [command, json] = process.argv.slice(2);
const commands: Record<string, (args: Args) => Promise<unknown>> = { write, read, mfa };
const run = commands[command ?? ""];
if (!run || !json) {
  process.stderr.write("usage: flow.js write|read '<json arguments>'\n");
  process.exit(2);
}
try {
  process.stdout.write(JSON.stringify(await run(JSON.parse(json) as Args)) + "\n");
} catch (error) {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (error instanceof ProblemError) process.stderr.write(`${JSON.stringify(error.body)}\n`);
  process.exit(1);
}
