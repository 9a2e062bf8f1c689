import type { Response } from 'supertest';
import { signUp, sleep, tokenLogin, uniqueEmail } from '../support/auth-helpers';
import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/*
 * API keys on two instances of one deployment (one database, same secrets): a key made
 * through one works through the other; a revocation through one is refused through the
 * other on its next request after the 204 (the other had the key in memory); an owner
 * disabled through one has the key refused through the other.
 */

const ADMIN = { email: 'keys-fleet-admin@example.com', password: 'admin password for key fleet' };
const ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password };
const INVALID_KEY = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'Invalid, expired or revoked API key',
};

const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });
const withKey = (app: TestApp, key: string, path = '/api/auth/me') =>
  app.http().get(path).set('X-API-Key', key);

describe('API keys on two instances', () => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let adminBearer: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startApp(database.url, ENV);
    b = await startApp(database.url, ENV);
    adminBearer = `Bearer ${(await tokenLogin(a.http, ADMIN)).accessToken}`;
  });
  afterAll(async () => {
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await database?.drop();
  });

  /** A new user signed in on A, with a key made through A. */
  async function userWithKey() {
    const user = await signUp(a.http, uniqueEmail('fleet-keys'));
    const bearer = `Bearer ${(await tokenLogin(a.http, user)).accessToken}`;
    const res = await a.http().post('/api/keys').set('Authorization', bearer).send({ name: 'fleet' });
    expect(res.status).toBe(201);
    return { user, bearer, id: res.body.id as string, key: res.body.key as string };
  }

  it('a key created through A works through B', async () => {
    const { user, key } = await userWithKey();
    const res = await withKey(b, key).expect(200);
    expect(res.body).toMatchObject({ id: user.id, authMethod: 'apikey' });
    await withKey(a, key).expect(200);
  });

  it('revoked through A (204) → refused through B on its next request, though B had it in memory', async () => {
    for (let round = 0; round < 3; round++) {
      const { bearer, id, key } = await userWithKey();
      // Both instances have met the key (and hold it in memory).
      await withKey(b, key).expect(200);
      await withKey(b, key).expect(200);
      await withKey(a, key).expect(200);
      await a.http().delete(`/api/keys/${id}`).set('Authorization', bearer).expect(204);
      expect({ round, ...outcome(await withKey(b, key)) }).toEqual({ round, status: 401, body: INVALID_KEY });
      expect(outcome(await withKey(a, key))).toEqual({ status: 401, body: INVALID_KEY });
    }
  });

  it('revoked by an admin through B → refused through A on its next request', async () => {
    const { user, id, key } = await userWithKey();
    await withKey(a, key).expect(200);
    await b.http().delete(`/api/users/${user.id}/keys/${id}`).set('Authorization', adminBearer).expect(204);
    expect(outcome(await withKey(a, key))).toEqual({ status: 401, body: INVALID_KEY });
  });

  it('owner disabled through A → the key is refused through B (within 2 s), and stays refused', async () => {
    const { user, key } = await userWithKey();
    await withKey(b, key).expect(200);
    await a
      .http()
      .patch(`/api/users/${user.id}`)
      .set('Authorization', adminBearer)
      .send({ disabled: true })
      .expect(200);
    const deadline = Date.now() + 2000;
    const seen: number[] = [];
    for (;;) {
      const res = await withKey(b, key);
      seen.push(res.status);
      if (res.status === 401 || Date.now() > deadline) break;
      await sleep(20);
    }
    expect(seen.at(-1)).toBe(401);
    // Never anything but 200 before and 401 after.
    expect(seen.every((status) => status === 200 || status === 401)).toBe(true);
    await sleep(200);
    await withKey(b, key).expect(401);
    await withKey(a, key).expect(401);
  });
});
