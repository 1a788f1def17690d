#!/usr/bin/env node
// Prints a fresh VAPID key pair (P-256) in .dev.vars format, with nothing to compile:
//
//   node scripts/gen-vapid.mjs >> .dev.vars             # local dev (`make dev` does it when missing)
//   node scripts/gen-vapid.mjs | grep PRIVATE | cut -d= -f2- | wrangler secret put VAPID_PRIVATE_KEY
//
// VAPID_PRIVATE_KEY is the 32-byte scalar (the JWK `d`), which `push::VapidKey::from_base64url`
// reads. VAPID_PUBLIC_KEY is the uncompressed point 0x04 || x || y, the browser's
// `applicationServerKey`; the Worker can also derive it (`VapidKey::public_key_b64url`).
// Both are base64url without padding. Changing the key invalidates every stored subscription.
import { generateKeyPairSync } from 'node:crypto';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const { d, x, y } = privateKey.export({ format: 'jwk' });
const publicPoint = Buffer.concat([
  Buffer.from([0x04]),
  Buffer.from(x, 'base64url'),
  Buffer.from(y, 'base64url'),
]);
if (Buffer.from(d, 'base64url').length !== 32 || publicPoint.length !== 65) {
  throw new Error('unexpected P-256 JWK sizes');
}
process.stdout.write(`VAPID_PRIVATE_KEY=${d}\nVAPID_PUBLIC_KEY=${publicPoint.toString('base64url')}\n`);
