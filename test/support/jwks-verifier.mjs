// A separate service that trusts this one only through its JWKS URL, as the README
// tells other services to verify access tokens: jose's createRemoteJWKSet + jwtVerify.
//
//   node test/support/jwks-verifier.mjs <jwksUrl> [issuer] [audience]
//
// Reads one access token per line on stdin and prints one JSON line per token, in
// order: { ok: true, kid, sub } or { ok: false, error: <jose error code> }.
// JWKS_COOLDOWN_MS (optional) sets jose's cooldownDuration: how long after a fetch an
// unknown kid is refused without fetching the key set again (jose's default: 30 s).
import { createInterface } from 'node:readline';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUrl, issuer = 'nest-auth-service', audience = 'nest-auth-service'] = process.argv.slice(2);
if (!jwksUrl) {
  process.stderr.write('usage: jwks-verifier.mjs <jwksUrl> [issuer] [audience]\n');
  process.exit(2);
}

const options = {};
if (process.env.JWKS_COOLDOWN_MS !== undefined)
  options.cooldownDuration = Number(process.env.JWKS_COOLDOWN_MS);
const keySet = createRemoteJWKSet(new URL(jwksUrl), options);

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  const token = line.trim();
  if (!token) continue;
  let result;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keySet, {
      algorithms: ['ES256'],
      issuer,
      audience,
      typ: 'at+jwt',
    });
    result = { ok: true, kid: protectedHeader.kid, sub: payload.sub };
  } catch (error) {
    result = { ok: false, error: error?.code ?? String(error?.message ?? error) };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
