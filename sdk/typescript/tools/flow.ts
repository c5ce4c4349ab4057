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
 */
import assert from "node:assert/strict";

import { connect, login, ProblemError, register, Vault } from "../src/client.js";
import { MINIMUM_KDF } from "../src/kdf.js";

interface Args {
  base_url: string;
  email: string;
  password: string;
  item_id?: string;
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

const [command, json] = process.argv.slice(2);
const commands: Record<string, (args: Args) => Promise<unknown>> = { write, read };
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
