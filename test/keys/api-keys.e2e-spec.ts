import { sql, within } from '../support/sql';
import { createHash, randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import type Test from 'supertest/lib/test';
import {
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type CookieLogin,
  type SignedUp,
} from '../support/auth-helpers';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';

/*
 * API keys (issue 16, point 4): `POST /api/keys` shows a random key once and stores
 * only its SHA-256; `X-API-Key` authenticates as `apikey` with at most the owner's
 * current roles; expiry, revocation, disabled or deleted owners refuse it at once;
 * admins list and revoke a user's keys; failed checks are throttled per client.
 */

type Json = Record<string, unknown>;
interface CreatedKey {
  id: string;
  name: string;
  roles: string[];
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  key: string;
}

const ADMIN = { email: 'keys-admin@example.com', password: 'admin password for api keys' };
const ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password };
const INVALID_KEY = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'Invalid, expired or revoked API key',
};
const KEY_FORMAT = /^nak_[A-Za-z0-9_-]{43,}$/;

const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** A caller: by bearer token or by cookie session (with its CSRF token). */
type Caller = { bearer: string } | CookieLogin;
function as(req: Test, caller: Caller): Test {
  return 'bearer' in caller
    ? req.set('Authorization', `Bearer ${caller.bearer}`)
    : req.set('Cookie', caller.cookie).set('X-CSRF-Token', caller.csrfToken);
}

async function bearerOf(app: TestApp, user: { email: string; password: string }): Promise<Caller> {
  return { bearer: (await tokenLogin(app.http, user)).accessToken };
}

async function createKey(app: TestApp, caller: Caller, body: Json = {}): Promise<CreatedKey> {
  const res = await as(app.http().post('/api/keys'), caller).send({ name: 'script', ...body });
  expect(outcome(res)).toEqual({ status: 201, body: expect.objectContaining({ key: expect.any(String) }) });
  return res.body as CreatedKey;
}

const withKey = (app: TestApp, key: string, path = '/api/auth/me') =>
  app.http().get(path).set('X-API-Key', key);

describe('API keys', () => {
  let ctx: TestContext;
  let admin: Caller;
  let adminId: string;
  const extraApps: TestApp[] = [];

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase(ENV);
    admin = await bearerOf(ctx, ADMIN);
    adminId = (await as(ctx.http().get('/api/auth/me'), admin).expect(200)).body.id as string;
  });
  afterAll(async () => {
    for (const app of extraApps) await app.close().catch(() => undefined);
    await ctx?.close();
  });

  /** A new plain user, signed in by bearer. */
  async function newUser(): Promise<{ user: SignedUp; caller: Caller }> {
    const user = await signUp(ctx.http, uniqueEmail('keys'));
    return { user, caller: await bearerOf(ctx, user) };
  }

  describe('creating', () => {
    it('by bearer: 201 with the key shown once (nak_ + ≥256 random bits), prefix its first 12 characters', async () => {
      const created = await createKey(ctx, admin, { name: 'nightly export' });
      expect(created).toEqual({
        id: expect.any(String),
        name: 'nightly export',
        roles: ['admin', 'user'],
        prefix: created.key.slice(0, 12),
        createdAt: expect.any(String),
        expiresAt: null,
        lastUsedAt: null,
        key: expect.stringMatching(KEY_FORMAT),
      });
      // 43 base64url characters carry 258 bits; the random part decodes to at least 32 bytes.
      expect(Buffer.from(created.key.slice(4), 'base64url').length).toBeGreaterThanOrEqual(32);
      const other = await createKey(ctx, admin);
      expect(other.key).not.toBe(created.key);
      expect(other.prefix).not.toBe(created.prefix);
    });

    it('by cookie session with the CSRF token: 201; without the CSRF token: 403', async () => {
      const { user } = await newUser();
      const session = await sessionLogin(ctx.http, user);
      const created = await createKey(ctx, session, { name: 'from the browser' });
      expect(created).toMatchObject({ name: 'from the browser', roles: ['user'] });
      expect(created.key).toMatch(KEY_FORMAT);
      await ctx.http().post('/api/keys').set('Cookie', session.cookie).send({ name: 'no csrf' }).expect(403);
    });

    it('GET /api/keys lists the key but never the key itself nor its hash', async () => {
      const { caller } = await newUser();
      const created = await createKey(ctx, caller, { name: 'listed' });
      const res = await as(ctx.http().get('/api/keys'), caller).expect(200);
      const { key, ...shown } = created;
      expect(res.body).toEqual([shown]);
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.slice(12));
      expect(text).not.toContain(sha256(key));
    });

    it('the database holds only the SHA-256 of the key; the key appears nowhere in its row', async () => {
      const { caller } = await newUser();
      const created = await createKey(ctx, caller);
      const rows = await sql<{ key_hash: string }>(ctx.database.url, 'SELECT * FROM api_keys WHERE id = $1', [
        created.id,
      ]);
      expect(rows).toHaveLength(1);
      expect(rows[0].key_hash).toBe(sha256(created.key));
      const row = JSON.stringify(rows[0]);
      expect(row).not.toContain(created.key);
      expect(row).not.toContain(created.key.slice(12));
      // Nor anywhere else in the key's table.
      const all = await sql<{ text: string }>(
        ctx.database.url,
        'SELECT api_keys::text AS text FROM api_keys',
      );
      expect(all.map((r) => r.text).join('\n')).not.toContain(created.key.slice(4));
    });

    it('needs recent authentication: with REAUTH_MAX_AGE_SECONDS=1, 1.5 s after login → 403, after POST /api/auth/reauth → 201', async () => {
      const strict = await startApp(ctx.database.url, { ...ENV, REAUTH_MAX_AGE_SECONDS: '1' });
      extraApps.push(strict);
      const { user } = await newUser();
      const bearer = await bearerOf(strict, user);
      const session = await sessionLogin(strict.http, user);
      await sleep(1500);
      for (const caller of [bearer, session]) {
        const res = await as(strict.http().post('/api/keys'), caller).send({ name: 'late' });
        expect(outcome(res)).toEqual({
          status: 403,
          body: expect.objectContaining({ statusCode: 403, message: 'reauthentication required' }),
        });
        await as(strict.http().post('/api/auth/reauth'), caller)
          .send({ password: user.password })
          .expect(204);
        await createKey(strict, caller, { name: 'after reauth' });
      }
      const listed = (await as(ctx.http().get('/api/keys'), bearer).expect(200)).body as unknown[];
      expect(listed).toHaveLength(2);
    });

    it('a key cannot create or list keys (401)', async () => {
      const { caller } = await newUser();
      const { key } = await createKey(ctx, caller);
      const create = await ctx.http().post('/api/keys').set('X-API-Key', key).send({ name: 'by key' });
      expect(outcome(create)).toEqual({
        status: 401,
        body: expect.objectContaining({ message: 'This route needs session or jwt authentication' }),
      });
      expect(outcome(await withKey(ctx, key, '/api/keys'))).toEqual({
        status: 401,
        body: expect.objectContaining({ statusCode: 401 }),
      });
      expect((await as(ctx.http().get('/api/keys'), caller).expect(200)).body).toHaveLength(1);
    });

    it('roles the owner lacks → 400 and no key', async () => {
      const { caller } = await newUser();
      for (const roles of [['admin'], ['user', 'admin'], ['no-such-role']]) {
        const res = await as(ctx.http().post('/api/keys'), caller).send({ name: 'greedy', roles });
        expect(res.status).toBe(400);
        expect(res.body).not.toHaveProperty('key');
      }
      expect((await as(ctx.http().get('/api/keys'), caller).expect(200)).body).toEqual([]);
      // What the owner holds is fine.
      expect((await createKey(ctx, caller, { roles: ['user'] })).roles).toEqual(['user']);
    });

    it('expiresAt in the past or malformed → 400 and no key', async () => {
      const { caller } = await newUser();
      for (const expiresAt of [
        new Date(Date.now() - 60_000).toISOString(),
        'tomorrow',
        '2030-13-45T00:00:00Z',
        12345,
      ]) {
        const res = await as(ctx.http().post('/api/keys'), caller).send({ name: 'bad expiry', expiresAt });
        expect({ expiresAt, status: res.status }).toEqual({ expiresAt, status: 400 });
      }
      expect((await as(ctx.http().get('/api/keys'), caller).expect(200)).body).toEqual([]);
      const future = new Date(Date.now() + 86_400_000).toISOString();
      expect((await createKey(ctx, caller, { expiresAt: future })).expiresAt).toBe(future);
    });
  });

  describe('using', () => {
    it("GET /api/auth/me with X-API-Key → 200 as the owner, authMethod 'apikey'", async () => {
      const { user, caller } = await newUser();
      const { key } = await createKey(ctx, caller);
      const res = await withKey(ctx, key).expect(200);
      expect(res.body).toMatchObject({
        id: user.id,
        email: user.email,
        authMethod: 'apikey',
        roles: ['user'],
      });
    });

    it('an unsafe request by key needs no CSRF token (PATCH /api/users/me)', async () => {
      const { caller } = await newUser();
      const { key } = await createKey(ctx, caller);
      const res = await ctx
        .http()
        .patch('/api/users/me')
        .set('X-API-Key', key)
        .send({ name: 'Renamed By Key' });
      expect(outcome(res)).toEqual({
        status: 200,
        body: expect.objectContaining({ name: 'Renamed By Key' }),
      });
      expect((await withKey(ctx, key).expect(200)).body.name).toBe('Renamed By Key');
    });

    it('a wrong, altered or unknown key → 401', async () => {
      const { caller } = await newUser();
      const { key } = await createKey(ctx, caller);
      const last = key.at(-1) === 'A' ? 'B' : 'A';
      for (const bad of [
        'not-a-key',
        '',
        `${key.slice(0, -1)}${last}`,
        `${key}x`,
        key.slice(0, -1),
        key.toUpperCase(),
        `nak_${randomBytes(32).toString('base64url')}`,
      ]) {
        const res = await withKey(ctx, bad);
        expect({ bad, ...outcome(res) }).toEqual({
          bad,
          status: 401,
          body: expect.objectContaining({ statusCode: 401 }),
        });
      }
      expect(outcome(await withKey(ctx, `${key.slice(0, -1)}${last}`))).toEqual({
        status: 401,
        body: INVALID_KEY,
      });
      await withKey(ctx, key).expect(200);
    });

    it('an expired key → 401', async () => {
      const { caller } = await newUser();
      const expiresAt = new Date(Date.now() + 2500);
      const { key } = await createKey(ctx, caller, { expiresAt: expiresAt.toISOString() });
      await withKey(ctx, key).expect(200);
      await sleep(Math.max(0, expiresAt.getTime() - Date.now()) + 200);
      expect(outcome(await withKey(ctx, key))).toEqual({ status: 401, body: INVALID_KEY });
    });

    it('revoked (DELETE /api/keys/:id → 204) → 401 on its next use, no longer listed; revoking again → 404', async () => {
      const { caller } = await newUser();
      const kept = await createKey(ctx, caller, { name: 'kept' });
      const revoked = await createKey(ctx, caller, { name: 'revoked' });
      await withKey(ctx, revoked.key).expect(200);
      await as(ctx.http().delete(`/api/keys/${revoked.id}`), caller).expect(204);
      expect(outcome(await withKey(ctx, revoked.key))).toEqual({ status: 401, body: INVALID_KEY });
      await withKey(ctx, kept.key).expect(200);
      const listed = (await as(ctx.http().get('/api/keys'), caller).expect(200)).body as CreatedKey[];
      expect(listed.map((k) => k.id)).toEqual([kept.id]);
      await as(ctx.http().delete(`/api/keys/${revoked.id}`), caller).expect(404);
    });

    it("revoking another user's key id → 404, and that key keeps working", async () => {
      const owner = await newUser();
      const other = await newUser();
      const created = await createKey(ctx, owner.caller);
      await as(ctx.http().delete(`/api/keys/${created.id}`), other.caller).expect(404);
      await withKey(ctx, created.key).expect(200);
      expect((await as(ctx.http().get('/api/keys'), other.caller).expect(200)).body).toEqual([]);
    });

    it('lastUsedAt is set after use, and not rewritten by further uses within a minute', async () => {
      const { caller } = await newUser();
      const created = await createKey(ctx, caller);
      const lastUsed = async () =>
        ((await as(ctx.http().get('/api/keys'), caller).expect(200)).body as CreatedKey[]).find(
          (k) => k.id === created.id,
        )!.lastUsedAt;
      expect(await lastUsed()).toBeNull();
      const before = Date.now();
      await withKey(ctx, created.key).expect(200);
      const first = await within(3000, async () => {
        const value = await lastUsed();
        expect(value).not.toBeNull();
        return value!;
      });
      expect(Date.parse(first)).toBeGreaterThanOrEqual(before - 5000);
      expect(Date.parse(first)).toBeLessThanOrEqual(Date.now() + 5000);
      await sleep(1100);
      await withKey(ctx, created.key).expect(200);
      await withKey(ctx, created.key).expect(200);
      await sleep(500);
      expect(await lastUsed()).toBe(first);
    });
  });

  describe('roles', () => {
    it("an admin's key given only ['user'] cannot reach an admin route (403)", async () => {
      const { key } = await createKey(ctx, admin, { roles: ['user'] });
      const me = await withKey(ctx, key).expect(200);
      expect(me.body.roles).toEqual(['user']);
      await withKey(ctx, key, '/api/users').expect(403);
      await as(ctx.http().get('/api/users'), admin).expect(200);
    });

    it("an admin's key with ['admin'] reaches admin routes; once its owner is demoted by another admin, the same key gets 403 at once", async () => {
      const second = await signUp(ctx.http, uniqueEmail('second-admin'));
      await as(ctx.http().put(`/api/users/${second.id}/roles`), admin)
        .send({ roles: ['user', 'admin'] })
        .expect(200);
      const secondCaller = await bearerOf(ctx, second);
      const { key } = await createKey(ctx, secondCaller, { roles: ['admin'] });
      await withKey(ctx, key, '/api/users').expect(200);
      await as(ctx.http().put(`/api/users/${second.id}/roles`), admin)
        .send({ roles: ['user'] })
        .expect(200);
      await withKey(ctx, key, '/api/users').expect(403);
      expect((await withKey(ctx, key).expect(200)).body.roles).not.toContain('admin');
    });

    it('a key cannot do what needs recent authentication (403)', async () => {
      const { key } = await createKey(ctx, admin, { roles: ['admin'] });
      const { user } = await newUser();
      const res = await ctx
        .http()
        .put(`/api/users/${user.id}/roles`)
        .set('X-API-Key', key)
        .send({ roles: ['user', 'admin'] });
      expect(outcome(res)).toEqual({
        status: 403,
        body: expect.objectContaining({ message: 'reauthentication required' }),
      });
      expect((await as(ctx.http().get(`/api/users/${user.id}`), admin).expect(200)).body.roles).toEqual([
        'user',
      ]);
    });

    it("a disabled owner's key → 401 at once", async () => {
      const { user, caller } = await newUser();
      const { key } = await createKey(ctx, caller);
      await withKey(ctx, key).expect(200);
      await as(ctx.http().patch(`/api/users/${user.id}`), admin)
        .send({ disabled: true })
        .expect(200);
      expect(outcome(await withKey(ctx, key))).toEqual({
        status: 401,
        body: expect.objectContaining({ statusCode: 401 }),
      });
      await ctx.http().patch('/api/users/me').set('X-API-Key', key).send({ name: 'still here' }).expect(401);
    });

    it("a deleted owner's key → 401", async () => {
      const { user, caller } = await newUser();
      const { key, id } = await createKey(ctx, caller);
      await withKey(ctx, key).expect(200);
      await as(ctx.http().delete(`/api/users/${user.id}`), admin).expect(204);
      expect(outcome(await withKey(ctx, key))).toEqual({
        status: 401,
        body: expect.objectContaining({ statusCode: 401 }),
      });
      expect(await sql(ctx.database.url, 'SELECT id FROM api_keys WHERE id = $1', [id])).toEqual([]);
    });
  });

  describe('admin', () => {
    it("GET /api/users/:id/keys lists a user's keys without the key; DELETE /api/users/:id/keys/:keyId revokes it", async () => {
      const { user, caller } = await newUser();
      const created = await createKey(ctx, caller, { name: 'seen by admin' });
      const res = await as(ctx.http().get(`/api/users/${user.id}/keys`), admin).expect(200);
      const { key, ...shown } = created;
      expect(res.body).toEqual([shown]);
      expect(JSON.stringify(res.body)).not.toContain(key.slice(12));
      expect(JSON.stringify(res.body)).not.toContain(sha256(key));
      // Only under the user who owns it.
      await as(ctx.http().delete(`/api/users/${adminId}/keys/${created.id}`), admin).expect(404);
      await withKey(ctx, key).expect(200);
      await as(ctx.http().delete(`/api/users/${user.id}/keys/${created.id}`), admin).expect(204);
      expect(outcome(await withKey(ctx, key))).toEqual({ status: 401, body: INVALID_KEY });
      expect((await as(ctx.http().get(`/api/users/${user.id}/keys`), admin).expect(200)).body).toEqual([]);
    });

    it('a plain user gets 403 on the admin key routes (by bearer and by key)', async () => {
      const owner = await newUser();
      const created = await createKey(ctx, owner.caller);
      const { caller } = await newUser();
      const { key } = await createKey(ctx, caller);
      await as(ctx.http().get(`/api/users/${owner.user.id}/keys`), caller).expect(403);
      await as(ctx.http().delete(`/api/users/${owner.user.id}/keys/${created.id}`), caller).expect(403);
      await withKey(ctx, key, `/api/users/${owner.user.id}/keys`).expect(403);
      await ctx
        .http()
        .delete(`/api/users/${owner.user.id}/keys/${created.id}`)
        .set('X-API-Key', key)
        .expect(403);
      await withKey(ctx, created.key).expect(200);
    });
  });

  describe('audit', () => {
    it('apikey.created and apikey.revoked appear in GET /api/audit', async () => {
      const { user, caller } = await newUser();
      const created = await createKey(ctx, caller);
      await as(ctx.http().delete(`/api/keys/${created.id}`), caller).expect(204);
      const byAdmin = await createKey(ctx, caller);
      await as(ctx.http().delete(`/api/users/${user.id}/keys/${byAdmin.id}`), admin).expect(204);
      const events = async (type: string) =>
        (
          (await as(ctx.http().get(`/api/audit?userId=${user.id}&type=${type}&limit=100`), admin).expect(200))
            .body as { items: Json[] }
        ).items;
      await within(3000, async () => {
        expect(await events('apikey.created')).toHaveLength(2);
        const revoked = await events('apikey.revoked');
        expect(revoked).toHaveLength(2);
        // The admin is named as the actor; a user revoking their own key is the actor themself (null).
        expect(revoked.map((e) => e.actorId ?? null).sort()).toEqual([adminId, null].sort());
      });
      const text = JSON.stringify([...(await events('apikey.created')), ...(await events('apikey.revoked'))]);
      expect(text).not.toContain(created.key.slice(12));
      expect(text).not.toContain(byAdmin.key.slice(12));
    });
  });

  describe('throttling (AUTH_RATE_LIMIT=3, an app of its own)', () => {
    let limited: TestApp;
    let owner: Caller;
    let key: string;

    beforeAll(async () => {
      limited = await startApp(ctx.database.url, { ...ENV, AUTH_RATE_LIMIT: '3' });
      extraApps.push(limited);
      const user = await signUp(ctx.http, uniqueEmail('throttled'));
      owner = await bearerOf(limited, user);
      key = (await createKey(limited, owner)).key;
    });

    it('after 3 failed key checks from one client, the next check → 429 with Retry-After, even with a valid key', async () => {
      await withKey(limited, key).expect(200);
      for (let i = 0; i < 3; i++) {
        const res = await withKey(limited, `nak_${randomBytes(32).toString('base64url')}`);
        expect({ attempt: i + 1, status: res.status }).toEqual({ attempt: i + 1, status: 401 });
      }
      const res = await withKey(limited, key);
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });

    it('while throttled, a valid key gets 429 with Retry-After; bearer and other routes still work', async () => {
      // However many failures the previous test left, go until the client is refused.
      let last: Response | undefined;
      for (let i = 0; i < 5 && last?.status !== 429; i++)
        last = await withKey(limited, `nak_${randomBytes(32).toString('base64url')}`);
      expect(last?.status).toBe(429);
      const res = await withKey(limited, key);
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
      await as(limited.http().get('/api/auth/me'), owner).expect(200);
      await as(limited.http().get('/api/keys'), owner).expect(200);
      await limited.http().get('/.well-known/jwks.json').expect(200);
      // Another instance keeps its own count here (in memory): the key works there.
      await withKey(ctx, key).expect(200);
    });
  });
});
