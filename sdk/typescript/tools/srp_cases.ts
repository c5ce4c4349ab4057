/**
 * For tests/sdk/test_typescript_client.py: reads SRP cases as JSON on stdin
 * ([{I, P, s, a, b}], hex strings) and prints what this client computes for
 * each, so that the test can compare with srptools byte for byte, quirk cases
 * (leading zero bytes in A, B, S, H(I)) included.
 */
import { readFileSync } from "node:fs";

import { fromHex, toHex } from "../src/encoding.js";
import * as srp from "../src/srp.js";

interface Case {
  I: string;
  P: string;
  s: string;
  a: string;
  b: string;
}

const cases = JSON.parse(readFileSync(0, "utf-8")) as Case[];
const results = [];
for (const c of cases) {
  const salt = fromHex(c.s);
  const verifier = await srp.verifier(c.I, c.P, salt);
  const start = srp.clientStart(BigInt("0x" + c.a));
  const B = ((await srp.k()) * verifier + srp.modPow(srp.g, BigInt("0x" + c.b), srp.N)) % srp.N;
  const proof = await srp.clientProof(c.I, c.P, salt, start, B);
  results.push({
    verifier: srp.encodeElement(verifier),
    A: srp.encodeElement(start.A),
    B: srp.encodeElement(B),
    K: toHex(proof.K),
    M1: toHex(proof.M1),
    M2: toHex(proof.expectedM2),
  });
}
process.stdout.write(JSON.stringify(results));
