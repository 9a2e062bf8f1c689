import {
  createHmac,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import type { Response } from 'supertest';
import { decodeJwtPart, sessionLogin, signUp, sleep, tokenLogin } from '../support/auth-helpers';
import { sql, within } from '../support/sql';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import {
  startApp,
  startAppOnFreshDatabase,
  TEST_ENV,
  type TestApp,
  type TestContext,
} from '../support/test-app';

/*
 * ES256 signing keys (issue 16): one key on first start, published without its private
 * half and stored sealed; rotation by an admin with recent authentication; every
 * instance hears of it on the feed; a retired key is accepted only through its overlap;
 * a header that names anything this service would not sign with is 401.
 */

type Json = Record<string, unknown>;
type Jwk = { kid: string; [field: string]: unknown };

const ADMIN = { email: 'signing-admin@example.com', password: 'admin password for signing' };
const TTL_SECONDS = 120;
const ENV = {
  ADMIN_EMAIL: ADMIN.email,
  ADMIN_PASSWORD: ADMIN.password,
  ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS),
};
const INVALID = { statusCode: 401, message: 'Invalid or expired access token' };

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });
const kidOf = (token: string) => decodeJwtPart(token, 0).kid as string | undefined;

const signEs256 = (header: Json, payload: Json, key: KeyObject): string => {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
};
const signHs256 = (header: Json, payload: Json): string => {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac('sha256', TEST_ENV.JWT_SECRET).update(input).digest('base64url')}`;
};

const me = (app: TestApp, token: string) =>
  app.http().get('/api/auth/me').set('Authorization', `Bearer ${token}`);
const jwks = async (app: TestApp) =>
  (await app.http().get('/.well-known/jwks.json').expect(200)).body as { keys: Jwk[] };
const kids = async (app: TestApp) => (await jwks(app)).keys.map((key) => key.kid).sort();

describe('ES256 signing keys and GET /.well-known/jwks.json', () => {
  let ctx: TestContext;
  let second: TestApp | undefined;
  let admin: string;
  let user: { id: string; email: string; password: string };
  let firstKid: string;
  let secondKid: string;
  /** Signed by the first key and never shown to either instance until the key is past its overlap. */
  let unseenFirstKeyToken: string;
  /** Signed by the first key and used on /me across the rotation. */
  let firstKeyToken: string;
  let secondKeyToken: string;

  const rotate = (app: TestApp, token: string) =>
    app.http().post('/api/admin/signing-keys/rotate').set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase(ENV);
    second = await startApp(ctx.database.url, ENV);
    admin = (await tokenLogin(ctx.http, ADMIN)).accessToken;
    user = await signUp(ctx.http);
    firstKeyToken = (await tokenLogin(ctx.http, user)).accessToken;
    unseenFirstKeyToken = (await tokenLogin(ctx.http, user)).accessToken;
  });

  afterAll(async () => {
    await second?.close();
    await ctx?.close();
  });

  it('a fresh app publishes exactly one key, only its public part, and signs with its kid', async () => {
    const { keys } = await jwks(ctx);
    expect(keys).toHaveLength(1);
    const [key] = keys;
    expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(key).not.toHaveProperty('d');
    firstKid = key.kid;

    expect(decodeJwtPart(firstKeyToken, 0)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: firstKid });
    // The second instance found the key the first made: the same single key.
    expect(await kids(second!)).toEqual([firstKid]);
    expect(kidOf((await tokenLogin(second!.http, user)).accessToken)).toBe(firstKid);
  });

  it('stores the private key sealed: no PEM and no JWK private part in signing_keys', async () => {
    const rows = await sql<{ kid: string; private_key_sealed: string; public_jwk: Json }>(
      ctx.database.url,
      'SELECT kid, private_key_sealed, public_jwk FROM signing_keys',
    );
    expect(rows.map((row) => row.kid)).toEqual([firstKid]);
    const sealed = rows[0].private_key_sealed;
    expect(sealed.length).toBeGreaterThan(100);
    expect(sealed).not.toMatch(/-----BEGIN|PRIVATE KEY/);
    expect(Buffer.from(sealed, 'base64').toString('latin1')).not.toMatch(/-----BEGIN|PRIVATE KEY/);
    expect(rows[0].public_jwk).not.toHaveProperty('d');
  });

  it('lets verifiers cache the JWKS publicly, no longer than an access token lives', async () => {
    const res = await ctx.http().get('/.well-known/jwks.json').expect(200);
    const cacheControl = res.headers['cache-control'];
    expect(cacheControl).toMatch(/\bpublic\b/);
    const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(TTL_SECONDS);
  });

  it('refuses a rotation by a plain user (403) and keeps the key', async () => {
    const plain = (await tokenLogin(ctx.http, user)).accessToken;
    expect(outcome(await rotate(ctx, plain))).toMatchObject({ status: 403 });
    expect(await kids(ctx)).toEqual([firstKid]);
  });

  it('rotates on an admin request: new tokens carry the new kid on both instances, old tokens still work', async () => {
    const res = await rotate(ctx, admin);
    expect(outcome(res)).toMatchObject({ status: 201, body: { kid: expect.any(String) } });
    secondKid = (res.body as { kid: string }).kid;
    expect(secondKid).not.toBe(firstKid);

    const fresh = (await tokenLogin(ctx.http, user)).accessToken;
    secondKeyToken = fresh;
    expect(kidOf(fresh)).toBe(secondKid);
    expect(await kids(ctx)).toEqual([firstKid, secondKid].sort());
    expect(outcome(await me(ctx, firstKeyToken))).toMatchObject({ status: 200, body: { id: user.id } });
    expect(outcome(await me(ctx, fresh))).toMatchObject({ status: 200, body: { id: user.id } });

    // The other instance heard it on the feed: it signs with the new key right away...
    const fromSecond = await within(2000, async () => {
      const token = (await tokenLogin(second!.http, user)).accessToken;
      expect(kidOf(token)).toBe(secondKid);
      return token;
    });
    expect(await kids(second!)).toEqual([firstKid, secondKid].sort());
    // ...and accepts the first's tokens, old and new, as the first accepts its.
    expect(outcome(await me(second!, fresh))).toMatchObject({ status: 200, body: { id: user.id } });
    expect(outcome(await me(second!, firstKeyToken))).toMatchObject({ status: 200, body: { id: user.id } });
    expect(outcome(await me(ctx, fromSecond))).toMatchObject({ status: 200, body: { id: user.id } });
  });

  it('refuses a token with an unknown kid, HS256 with a kid, or alg none (401)', async () => {
    const claims = decodeJwtPart((await tokenLogin(ctx.http, user)).accessToken, 1);
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const unknownKid = signEs256(
      { alg: 'ES256', typ: 'at+jwt', kid: randomBytes(16).toString('base64url') },
      claims,
      attacker,
    );
    const hs256WithKid = signHs256({ alg: 'HS256', typ: 'at+jwt', kid: secondKid }, claims);
    const hs256WithKidOfNone = signHs256({ alg: 'HS256', typ: 'at+jwt', kid: 'none' }, claims);
    const none = `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(claims)}.`;
    const noneWithKid = `${b64url({ alg: 'none', typ: 'at+jwt', kid: secondKid })}.${b64url(claims)}.`;

    for (const [name, token] of Object.entries({
      unknownKid,
      hs256WithKid,
      hs256WithKidOfNone,
      none,
      noneWithKid,
    }))
      for (const app of [ctx, second!])
        expect({ name, ...outcome(await me(app, token)) }).toMatchObject({
          name,
          status: 401,
          body: INVALID,
        });
  });

  it('drops a retired key past its overlap from the JWKS on every instance and refuses its tokens (401)', async () => {
    // The first key retired an hour ago (made two hours ago): its overlap is over.
    await sql(
      ctx.database.url,
      `UPDATE signing_keys SET retired_at = now() - interval '1 hour', created_at = now() - interval '2 hours'
        WHERE kid = '${firstKid}'`,
    );
    // A rotation publishes on the feed: every instance reloads the keys.
    const thirdKid = ((await rotate(ctx, admin).expect(201)).body as { kid: string }).kid;

    expect(await kids(ctx)).toEqual([secondKid, thirdKid].sort());
    await within(2000, async () => expect(await kids(second!)).toEqual([secondKid, thirdKid].sort()));
    for (const app of [ctx, second!]) {
      expect(outcome(await me(app, unseenFirstKeyToken))).toMatchObject({ status: 401, body: INVALID });
      // The key retired just now is still in its overlap; the new one signs.
      expect(outcome(await me(app, secondKeyToken))).toMatchObject({ status: 200 });
      expect(kidOf((await tokenLogin(app.http, user)).accessToken)).toBe(thirdKid);
    }
  });

  it('refuses an HS256 token without kid signed with JWT_SECRET, once ES256 has been on for longer than a token lives', async () => {
    // (The previous test made the first key two hours old: no HS256 token from before it can be alive.)
    const genuine = (await tokenLogin(ctx.http, user)).accessToken;
    expect(outcome(await me(ctx, genuine))).toMatchObject({ status: 200 });
    const hs256 = signHs256({ alg: 'HS256', typ: 'at+jwt' }, decodeJwtPart(genuine, 1));
    for (const app of [ctx, second!])
      expect(outcome(await me(app, hs256))).toMatchObject({ status: 401, body: INVALID });
  });
});

describe('rotation needs recent authentication (REAUTH_MAX_AGE_SECONDS=1)', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({ ...ENV, REAUTH_MAX_AGE_SECONDS: '1' });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('accepts no HS256 token on a fresh install, not even one minted with JWT_SECRET right after the start', async () => {
    const user = await signUp(ctx.http);
    const genuine = (await tokenLogin(ctx.http, user)).accessToken;
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...decodeJwtPart(genuine, 1), iat: now, exp: now + 100 };
    expect(outcome(await me(ctx, signHs256({ alg: 'HS256', typ: 'at+jwt' }, claims)))).toMatchObject({
      status: 401,
      body: INVALID,
    });
    expect(outcome(await me(ctx, genuine))).toMatchObject({ status: 200 });
  });

  it('refuses an admin whose sign-in is 1.5 s old (403 reauthentication required), then rotates after POST /api/auth/reauth', async () => {
    const admin = (await tokenLogin(ctx.http, ADMIN)).accessToken;
    const [before] = (await jwks(ctx)).keys.map((key) => key.kid);
    await sleep(1500);
    const rotate = () =>
      ctx.http().post('/api/admin/signing-keys/rotate').set('Authorization', `Bearer ${admin}`);

    expect(outcome(await rotate())).toMatchObject({
      status: 403,
      body: { message: 'reauthentication required' },
    });
    expect(await kids(ctx)).toEqual([before]);

    await ctx
      .http()
      .post('/api/auth/reauth')
      .set('Authorization', `Bearer ${admin}`)
      .send({ password: ADMIN.password })
      .expect(204);
    expect(outcome(await rotate())).toMatchObject({ status: 201 });
    expect(await kids(ctx)).toHaveLength(2);
  });
});

describe('JWT_ALGORITHM=HS256', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({ ...ENV, JWT_ALGORITHM: 'HS256' });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('publishes no keys, signs HS256 without kid, and refuses a rotation (409)', async () => {
    expect(await jwks(ctx)).toEqual({ keys: [] });
    expect(await sql(ctx.database.url, 'SELECT kid FROM signing_keys')).toEqual([]);

    const token = (await tokenLogin(ctx.http, ADMIN)).accessToken;
    expect(decodeJwtPart(token, 0)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
    expect(outcome(await me(ctx, token))).toMatchObject({ status: 200 });

    const res = await ctx
      .http()
      .post('/api/admin/signing-keys/rotate')
      .set('Authorization', `Bearer ${token}`);
    expect(outcome(res)).toMatchObject({ status: 409 });
  });
});

describe('the upgrade from HS256 to ES256 on the same database', () => {
  let database: TestDatabase;
  const apps: TestApp[] = [];
  const start = async (env: Record<string, string>) => {
    const app = await startApp(database.url, env);
    apps.push(app);
    return app;
  };
  const stop = async (app: TestApp) => {
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  };

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const app of apps.splice(0)) await app.close();
    await database?.drop();
  });

  it('keeps access tokens issued before the switch until they expire, refresh tokens and cookie sessions; refuses HS256 minted after it', async () => {
    // Before: HS256, a token login and a cookie session.
    const hs = await start({ ...ENV, JWT_ALGORITHM: 'HS256' });
    const user = await signUp(hs.http);
    const pair = await tokenLogin(hs.http, user);
    const browser = await sessionLogin(hs.http, user);
    expect(decodeJwtPart(pair.accessToken, 0)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
    const issuedAt = decodeJwtPart(pair.accessToken, 1).iat as number;
    await stop(hs);

    // The switch: the first ES256 start makes the first key. Its clock is moved to the
    // edge the 60 s clock skew allows for the old token, so that a token minted a second
    // later is past it without waiting a minute.
    await stop(await start(ENV));
    await sql(database.url, `UPDATE signing_keys SET created_at = to_timestamp(${issuedAt - 60})`);
    const es = await start(ENV);

    expect(outcome(await me(es, pair.accessToken))).toMatchObject({ status: 200, body: { id: user.id } });
    const cookie = await es.http().get('/api/auth/me').set('Cookie', browser.cookie);
    expect(outcome(cookie)).toMatchObject({ status: 200, body: { id: user.id } });

    const refreshed = await es
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: pair.refreshToken });
    expect(outcome(refreshed)).toMatchObject({ status: 200 });
    const next = (refreshed.body as { accessToken: string }).accessToken;
    expect(decodeJwtPart(next, 0)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    expect(await kids(es)).toContain(kidOf(next));
    expect(outcome(await me(es, next))).toMatchObject({ status: 200, body: { id: user.id } });

    // Whoever holds JWT_SECRET cannot mint a new one: the same claims, issued now.
    while (Math.floor(Date.now() / 1000) <= issuedAt) await sleep(50);
    const now = Math.floor(Date.now() / 1000);
    const minted = signHs256(
      { alg: 'HS256', typ: 'at+jwt' },
      { ...decodeJwtPart(next, 1), jti: randomBytes(8).toString('hex'), iat: now, exp: now + TTL_SECONDS },
    );
    expect(outcome(await me(es, minted))).toMatchObject({ status: 401, body: INVALID });
  });
});

describe('a changed JWT_SECRET on the same database', () => {
  let database: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const app of apps.splice(0)) await app.close();
    await database?.drop();
  });

  it('starts with a new key sealed under the new secret; tokens the old key signed still verify until they expire', async () => {
    const before = await startApp(database.url, ENV);
    apps.push(before);
    const user = await signUp(before.http);
    const old = await tokenLogin(before.http, user);
    const oldKid = kidOf(old.accessToken);
    await before.close();
    apps.pop();

    const after = await startApp(database.url, { ...ENV, JWT_SECRET: `another ${TEST_ENV.JWT_SECRET}` });
    apps.push(after);
    const fresh = await tokenLogin(after.http, user);
    const newKid = kidOf(fresh.accessToken);
    expect(newKid).toEqual(expect.any(String));
    expect(newKid).not.toBe(oldKid);
    expect(await kids(after)).toEqual([oldKid, newKid].sort());
    expect(outcome(await me(after, old.accessToken))).toMatchObject({ status: 200, body: { id: user.id } });
    expect(outcome(await me(after, fresh.accessToken))).toMatchObject({ status: 200, body: { id: user.id } });
    const [{ sealed }] = await sql<{ sealed: number }>(
      database.url,
      'SELECT count(*)::int AS sealed FROM signing_keys WHERE retired_at IS NULL',
    );
    expect(sealed).toBe(1);
  });
});
