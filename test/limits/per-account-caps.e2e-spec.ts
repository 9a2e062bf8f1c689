import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { Response } from 'supertest';
import type Test from 'supertest/lib/test';
import { MAX_API_KEYS_PER_USER } from '../../src/auth/api-keys/api-key.entity';
import { MAX_PASSKEYS_PER_USER } from '../../src/auth/passkeys/passkey.entity';
import { MAX_PUBLISHED_SIGNING_KEYS } from '../../src/auth/tokens/signing-key.entity';
import { MAX_ROLES } from '../../src/roles/role.entity';
import { sessionLogin, signUp, tokenLogin, uniqueEmail, type SignedUp } from '../support/auth-helpers';
import { SoftAuthenticator } from '../support/soft-authenticator';
import { sql } from '../support/sql';
import { startApp, startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * The caps that bound the lists the API returns (issue 17): roles in all, a user's API
 * keys and passkeys, and the keys the JWKS publishes. At the cap a creation is a 409
 * and stores nothing; two creations racing one below the cap end exactly at it. The
 * first items are inserted with SQL, the last ones go through HTTP.
 */

const PUBLIC_URL = 'http://localhost:3999';
const ADMIN = { email: 'caps-admin@example.com', password: 'admin password for the caps' };
const ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, PUBLIC_URL };

const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });
const statuses = (responses: Response[]) => responses.map((res) => res.status).sort();

describe('per-account caps', () => {
  let ctx: TestContext;
  let admin: string;

  const query = <T extends Record<string, unknown>>(text: string, values: unknown[] = []) =>
    sql<T>(ctx.database.url, text, values);
  const count = async (text: string, values: unknown[] = []) =>
    (await query<{ count: number }>(`SELECT count(*)::int AS count FROM ${text}`, values))[0].count;
  const bearer = (req: Test, token: string) => req.set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase(ENV);
    admin = (await tokenLogin(ctx.http, ADMIN)).accessToken;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  /** A new user and a fresh (so recent) bearer sign-in of theirs. */
  async function newUser(prefix: string): Promise<SignedUp & { token: string }> {
    const user = await signUp(ctx.http, uniqueEmail(prefix));
    return { ...user, token: (await tokenLogin(ctx.http, user)).accessToken };
  }

  describe(`roles: at most ${MAX_ROLES} in all, built-in ones included`, () => {
    const createRole = (name: string) =>
      bearer(ctx.http().post('/api/roles'), admin).send({ name, description: 'made over HTTP' });
    const roleCount = () => count('roles');

    it('one below the cap, two creations at once: one 201, one 409, and exactly the cap', async () => {
      const builtIn = await roleCount();
      expect(builtIn).toBeGreaterThanOrEqual(2);
      await query(`INSERT INTO roles (name) SELECT 'filler-' || i FROM generate_series(1, $1::int) AS i`, [
        MAX_ROLES - 1 - builtIn,
      ]);
      const raced = await Promise.all([createRole('racer-a'), createRole('racer-b')]);
      expect(statuses(raced)).toEqual([201, 409]);
      expect(await roleCount()).toBe(MAX_ROLES);
    });

    it('at the cap: 409 saying so, nothing stored; GET /api/roles lists exactly the cap', async () => {
      expect(outcome(await createRole('one-too-many'))).toEqual({
        status: 409,
        body: expect.objectContaining({
          message: `There can be at most ${MAX_ROLES} roles: no more can be created`,
        }),
      });
      expect(await count(`roles WHERE name = 'one-too-many'`)).toBe(0);
      const listed = await bearer(ctx.http().get('/api/roles'), admin).expect(200);
      expect(listed.body).toHaveLength(MAX_ROLES);
    });
  });

  describe(`API keys: at most ${MAX_API_KEYS_PER_USER} listed per user`, () => {
    const createKey = (token: string, name = 'script') =>
      bearer(ctx.http().post('/api/keys'), token).send({ name });
    const listKeys = async (token: string) =>
      (await bearer(ctx.http().get('/api/keys'), token).expect(200)).body as { id: string }[];

    /** `n` keys of the user's, inserted directly: live ones, expired ones or revoked ones. */
    const insertKeys = (userId: string, n: number, state: 'live' | 'expired' | 'revoked' = 'live') =>
      query(
        `INSERT INTO api_keys (user_id, name, prefix, key_hash, roles, expires_at, revoked_at)
         SELECT $1, 'filler ' || i, 'nak_filler', md5(random()::text) || md5(random()::text), '["user"]',
                CASE WHEN $2::text = 'expired' THEN now() - interval '1 day' END,
                CASE WHEN $2::text = 'revoked' THEN now() END
         FROM generate_series(1, $3::int) AS i`,
        [userId, state, n],
      );
    const storedLive = (userId: string) =>
      count('api_keys WHERE user_id = $1 AND revoked_at IS NULL', [userId]);

    it('counts what GET /api/keys lists: expired keys count until revoked, revoked ones do not', async () => {
      const user = await newUser('keys-cap');
      await insertKeys(user.id, MAX_API_KEYS_PER_USER - 2);
      await insertKeys(user.id, 1, 'expired');
      await insertKeys(user.id, 5, 'revoked');
      expect(await listKeys(user.token)).toHaveLength(MAX_API_KEYS_PER_USER - 1);

      expect((await createKey(user.token, 'the last one')).status).toBe(201);
      const refused = await createKey(user.token, 'one too many');
      expect(outcome(refused)).toEqual({
        status: 409,
        body: expect.objectContaining({
          message: expect.stringContaining(`at most ${MAX_API_KEYS_PER_USER} API keys`),
        }),
      });
      expect(await storedLive(user.id)).toBe(MAX_API_KEYS_PER_USER);
      const listed = await listKeys(user.token);
      expect(listed).toHaveLength(MAX_API_KEYS_PER_USER);

      // Revoking one (the expired one too) makes room again.
      const [expired] = await query<{ id: string }>(
        'SELECT id FROM api_keys WHERE user_id = $1 AND expires_at < now() AND revoked_at IS NULL',
        [user.id],
      );
      await bearer(ctx.http().delete(`/api/keys/${expired.id}`), user.token).expect(204);
      expect((await createKey(user.token, 'in its place')).status).toBe(201);
      expect(await listKeys(user.token)).toHaveLength(MAX_API_KEYS_PER_USER);
    });

    it('one below the cap, two creations at once: one 201, one 409, and exactly the cap', async () => {
      const user = await newUser('keys-race');
      await insertKeys(user.id, MAX_API_KEYS_PER_USER - 1);
      const raced = await Promise.all([createKey(user.token, 'racer a'), createKey(user.token, 'racer b')]);
      expect(statuses(raced)).toEqual([201, 409]);
      expect(await storedLive(user.id)).toBe(MAX_API_KEYS_PER_USER);
      expect(await listKeys(user.token)).toHaveLength(MAX_API_KEYS_PER_USER);
    });

    it('the /security form at the cap: the page again, 409, the reason next to the form, no key', async () => {
      const user = await signUp(ctx.http, uniqueEmail('keys-page'));
      await insertKeys(user.id, MAX_API_KEYS_PER_USER);
      const session = await sessionLogin(ctx.http, user);
      const res = await ctx
        .http()
        .post('/security/keys')
        .set('Cookie', session.cookie)
        .type('form')
        .send({ _csrf: session.csrfToken, name: 'from the page', expiresInDays: '' });
      expect({ status: res.status, error: /id="keyName-error">([^<]*)</.exec(res.text)?.[1] }).toEqual({
        status: 409,
        error: expect.stringContaining(`at most ${MAX_API_KEYS_PER_USER} API keys`),
      });
      expect(res.text).not.toContain('new-api-key');
      expect(await storedLive(user.id)).toBe(MAX_API_KEYS_PER_USER);
    });
  });

  describe(`passkeys: at most ${MAX_PASSKEYS_PER_USER} per user`, () => {
    const insertPasskeys = (userId: string, n: number) =>
      query(
        `INSERT INTO passkeys (user_id, credential_id, public_key, name)
         SELECT $1, md5(random()::text) || i, '\\x00'::bytea, 'filler ' || i FROM generate_series(1, $2::int) AS i`,
        [userId, n],
      );
    const stored = (userId: string) => count('passkeys WHERE user_id = $1', [userId]);
    const options = (token: string) =>
      bearer(ctx.http().post('/api/auth/passkeys/registration/options'), token);

    /** Creation options, and what a new authenticator answers to them (a passkey not registered yet). */
    async function ceremony(token: string): Promise<unknown> {
      const res = await options(token);
      expect(outcome(res)).toMatchObject({ status: 200 });
      return new SoftAuthenticator(PUBLIC_URL).createCredential(
        res.body as PublicKeyCredentialCreationOptionsJSON,
      ).response;
    }
    const register = (token: string, response: unknown, name: string) =>
      bearer(ctx.http().post('/api/auth/passkeys/registration'), token).send({ response, name });

    it('at the cap: registration refused with 409 under the lock, even with options fetched before', async () => {
      const user = await newUser('passkeys-cap');
      await insertPasskeys(user.id, MAX_PASSKEYS_PER_USER - 1);
      const pending = await ceremony(user.token);
      expect((await register(user.token, await ceremony(user.token), 'the last one')).status).toBe(201);

      const refused = await register(user.token, pending, 'one too many');
      expect(outcome(refused)).toEqual({
        status: 409,
        body: expect.objectContaining({
          message: expect.stringContaining(`at most ${MAX_PASSKEYS_PER_USER} passkeys`),
        }),
      });
      expect(await stored(user.id)).toBe(MAX_PASSKEYS_PER_USER);
      // Options are refused already, before an authenticator makes a key for nothing.
      expect((await options(user.token)).status).toBe(409);
      const listed = await bearer(ctx.http().get('/api/auth/passkeys'), user.token).expect(200);
      expect(listed.body).toHaveLength(MAX_PASSKEYS_PER_USER);
    });

    it('one below the cap, two registrations at once: one 201, one 409, and exactly the cap', async () => {
      const user = await newUser('passkeys-race');
      await insertPasskeys(user.id, MAX_PASSKEYS_PER_USER - 1);
      const [a, b] = [await ceremony(user.token), await ceremony(user.token)];
      const raced = await Promise.all([
        register(user.token, a, 'racer a'),
        register(user.token, b, 'racer b'),
      ]);
      expect(statuses(raced)).toEqual([201, 409]);
      expect(await stored(user.id)).toBe(MAX_PASSKEYS_PER_USER);
    });
  });

  describe(`signing keys: the JWKS publishes at most ${MAX_PUBLISHED_SIGNING_KEYS}`, () => {
    const rotate = () => bearer(ctx.http().post('/api/admin/signing-keys/rotate'), admin);
    const published = async () =>
      ((await ctx.http().get('/.well-known/jwks.json').expect(200)).body as { keys: unknown[] }).keys.length;
    const storedKeys = () => count('signing_keys');

    /** Keys retired just now, so still published: as if rotated by hand a moment ago. */
    async function insertRetired(n: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        await query(
          `INSERT INTO signing_keys (kid, algorithm, public_jwk, private_key_sealed, retired_at)
           VALUES ($1, 'ES256', $2, 'not used: a retired key never signs', now())`,
          [randomBytes(16).toString('base64url'), JSON.stringify(publicKey.export({ format: 'jwk' }))],
        );
      }
    }

    it('one below the cap, two rotations at once: one 201, one 409, and exactly the cap published', async () => {
      // The current key, and retired ones up to one below the cap.
      await insertRetired(MAX_PUBLISHED_SIGNING_KEYS - 2);
      const raced = await Promise.all([rotate(), rotate()]);
      expect(statuses(raced)).toEqual([201, 409]);
      expect(await storedKeys()).toBe(MAX_PUBLISHED_SIGNING_KEYS);
      expect(await published()).toBe(MAX_PUBLISHED_SIGNING_KEYS);
    });

    it('at the cap: 409 saying to wait for the oldest retired key to expire, nothing stored', async () => {
      const refused = await rotate();
      expect(outcome(refused)).toEqual({
        status: 409,
        body: expect.objectContaining({
          message: expect.stringMatching(
            new RegExp(
              `at most ${MAX_PUBLISHED_SIGNING_KEYS} keys: wait until the oldest retired key expires`,
            ),
          ),
        }),
      });
      expect(await storedKeys()).toBe(MAX_PUBLISHED_SIGNING_KEYS);
      expect(await published()).toBe(MAX_PUBLISHED_SIGNING_KEYS);
    });

    it('a rotation falling due at the cap is skipped: an instance still starts and signs, nothing stored', async () => {
      await query(
        `UPDATE signing_keys SET created_at = now() - interval '365 days' WHERE retired_at IS NULL`,
      );
      const late = await startApp(ctx.database.url, ENV);
      try {
        expect((await tokenLogin(late.http, ADMIN)).accessToken).toEqual(expect.any(String));
      } finally {
        await late.close();
      }
      expect(await storedKeys()).toBe(MAX_PUBLISHED_SIGNING_KEYS);
    });

    it('once the oldest retired key has expired, a rotation works again', async () => {
      await query(
        `UPDATE signing_keys SET retired_at = now() - interval '1 day'
         WHERE kid = (SELECT kid FROM signing_keys WHERE retired_at IS NOT NULL ORDER BY retired_at LIMIT 1)`,
      );
      expect((await rotate()).status).toBe(201);
      expect(await published()).toBe(MAX_PUBLISHED_SIGNING_KEYS);
    });
  });
});
