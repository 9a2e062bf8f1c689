import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { decodeJwtPart, signUp, tokenLogin } from '../support/auth-helpers';
import { startAppOnFreshDatabase, TEST_ENV, type TestContext } from '../support/test-app';

/*
 * Another service verifies our access tokens knowing only the JWKS URL: a separate
 * Node process (test/support/jwks-verifier.mjs) with jose's createRemoteJWKSet +
 * jwtVerify, code no one here wrote. It must accept genuine tokens across a rotation
 * and refuse forged ones.
 */

const ADMIN = { email: 'keys-admin@example.com', password: 'admin password for keys' };
const VERIFIER = join(__dirname, '..', 'support', 'jwks-verifier.mjs');

type Verdict = { ok: true; kid: string; sub: string } | { ok: false; error: string };

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A running verifier: one token in, one verdict out, in order. */
class Verifier {
  private readonly waiting: ((verdict: Verdict) => void)[] = [];
  private readonly stderr: string[] = [];

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.waiting.shift()?.(JSON.parse(line) as Verdict);
    });
    child.stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
  }

  static start(jwksUrl: string, env: Record<string, string> = {}): Verifier {
    return new Verifier(
      spawn(process.execPath, [VERIFIER, jwksUrl, 'nest-auth-service', 'nest-auth-service'], {
        env: { ...process.env, ...env },
        stdio: 'pipe',
      }),
    );
  }

  verify(token: string): Promise<Verdict> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`verifier did not answer; stderr: ${this.stderr.join('')}`)),
        10_000,
      );
      this.waiting.push((verdict) => {
        clearTimeout(timer);
        resolve(verdict);
      });
      this.child.stdin.write(`${token}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}

describe('a separate service verifies access tokens with the JWKS alone (jose createRemoteJWKSet)', () => {
  let ctx: TestContext;
  let verifier: Verifier;
  let adminToken: string;
  let user: { id: string; email: string; password: string };
  /** Signed by the first key, before the rotation. */
  let before: string;
  let firstKid: string;

  const rotate = () =>
    ctx
      .http()
      .post('/api/admin/signing-keys/rotate')
      .set('Authorization', `Bearer ${adminToken}`)
      .expect(201);

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({ ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    await ctx.app.listen(0, '127.0.0.1');
    const { port } = ctx.app.getHttpServer().address() as AddressInfo;
    // jose refuses an unknown kid without fetching again for `cooldownDuration` after
    // a fetch (30 s by default); a short one lets one process see the rotation at once.
    verifier = Verifier.start(`http://127.0.0.1:${port}/.well-known/jwks.json`, { JWKS_COOLDOWN_MS: '0' });
    adminToken = (await tokenLogin(ctx.http, ADMIN)).accessToken;
    user = await signUp(ctx.http);
    before = (await tokenLogin(ctx.http, user)).accessToken;
    firstKid = decodeJwtPart(before, 0).kid as string;
  });

  afterAll(async () => {
    await verifier?.stop();
    await ctx?.close();
  });

  it('verifies a genuine token: its kid is the published key and its subject the user', async () => {
    expect(decodeJwtPart(before, 0)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(await verifier.verify(before)).toEqual({ ok: true, kid: firstKid, sub: user.id });
  });

  it('across a rotation: a token signed before still verifies, one signed after verifies with the new kid', async () => {
    const rotated = (await rotate()).body as { kid: string };
    expect(rotated.kid).not.toBe(firstKid);
    const after = (await tokenLogin(ctx.http, user)).accessToken;
    expect(decodeJwtPart(after, 0).kid).toBe(rotated.kid);

    expect(await verifier.verify(after)).toEqual({ ok: true, kid: rotated.kid, sub: user.id });
    expect(await verifier.verify(before)).toEqual({ ok: true, kid: firstKid, sub: user.id });
  });

  it('refuses a token signed with ES256 by another key under a published kid', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const [header, payload] = [decodeJwtPart(before, 0), decodeJwtPart(before, 1)];
    expect(header.kid).toBe(firstKid);
    const input = `${b64url(header)}.${b64url(payload)}`;
    const signature = cryptoSign('sha256', Buffer.from(input), {
      key: attacker.privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');

    expect(await verifier.verify(`${input}.${signature}`)).toEqual({
      ok: false,
      error: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  it('refuses a genuine token whose payload was changed (another subject, keeping the signature)', async () => {
    const admin = decodeJwtPart(adminToken, 1);
    const [header, , signature] = before.split('.');
    const changed = `${header}.${b64url({ ...decodeJwtPart(before, 1), sub: admin.sub })}.${signature}`;

    expect(await verifier.verify(changed)).toEqual({
      ok: false,
      error: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  it('refuses an HS256 token signed with JWT_SECRET, with or without a published kid', async () => {
    const payload = decodeJwtPart(before, 1);
    const hs256 = (header: Record<string, unknown>) => {
      const input = `${b64url(header)}.${b64url(payload)}`;
      return `${input}.${createHmac('sha256', TEST_ENV.JWT_SECRET).update(input).digest('base64url')}`;
    };

    expect(await verifier.verify(hs256({ alg: 'HS256', typ: 'at+jwt' }))).toEqual({
      ok: false,
      error: 'ERR_JOSE_ALG_NOT_ALLOWED',
    });
    expect(await verifier.verify(hs256({ alg: 'HS256', typ: 'at+jwt', kid: firstKid }))).toEqual({
      ok: false,
      error: 'ERR_JOSE_ALG_NOT_ALLOWED',
    });
    // The control: the same claims, genuinely signed, still pass.
    expect(await verifier.verify(before)).toMatchObject({ ok: true });
  });
});
