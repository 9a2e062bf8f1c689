import { PassThrough } from 'node:stream';
import type { Response } from 'supertest';
import { PASSWORD, sessionLogin, signUp, tokenLogin, uniqueEmail } from '../support/auth-helpers';
import { RedisConnection } from '../../src/redis/redis-connection';
import { describeFailure, eventually, outcome } from '../support/eventually';
import { hasRedisServer, RedisServer } from '../support/redis-server';
import { TcpProxy } from '../support/tcp-proxy';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/*
 * Redis goes away (killed, or silent) under running instances, and comes back. Each
 * describe runs a redis-server of its own, so that it can kill it.
 */

const UNAVAILABLE = {
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'Service temporarily unavailable, try again shortly',
};
const UNHEALTHY_REDIS = { statusCode: 503, error: 'Service Unavailable', message: 'Unhealthy: redis' };
const LOCKED = 'Too many failed sign-in attempts for this account; try again later';
/** Reconnecting waits up to 1 s between attempts; a busy machine adds some. */
const RECOVERY_MS = 10_000;

const describeWithRedisServer = hasRedisServer() ? describe : describe.skip;
const skipped = hasRedisServer() ? '' : ': skipped: no redis-server on the PATH (this suite kills its own)';

/** A 503 for a dependency: the standard body, Retry-After, and nothing of the cause. */
function expectUnavailable(res: Response) {
  expect(outcome(res)).toEqual({ status: 503, body: UNAVAILABLE });
  expect(res.headers['retry-after']).toBe('5');
}

function expectUnhealthyRedis(res: Response, port: number) {
  expect(outcome(res)).toEqual({ status: 503, body: UNHEALTHY_REDIS });
  expect(JSON.stringify(res.body)).not.toMatch(new RegExp(`ECONNREFUSED|127\\.0\\.0\\.1|${port}|stack`, 'i'));
}

/** What `send` answered, sent again and again for `ms` (a request without an answer: its error). */
async function statusesFor(send: () => PromiseLike<Response>, ms: number): Promise<(number | string)[]> {
  const seen: (number | string)[] = [];
  for (const end = Date.now() + ms; Date.now() < end;) {
    try {
      seen.push((await send()).status);
    } catch (error) {
      seen.push(describeFailure(error));
    }
  }
  return seen;
}

// First in the file: nestjs-pino keeps one request logger per process (module registry), made by
// the first app that starts, so only this describe's apps, started first, log to its stream.
describeWithRedisServer(`SESSION_STORE=postgres with REDIS_URL while Redis is down${skipped}`, () => {
  let redis: RedisServer;
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let logs = '';
  let ip = 0;

  beforeAll(async () => {
    redis = await RedisServer.start();
    database = await createTestDatabase();
    const env = {
      REDIS_URL: redis.url,
      SESSION_STORE: 'postgres',
      AUTH_RATE_LIMIT: '3',
      AUTH_RATE_WINDOW_SECONDS: '60',
      LOGIN_MAX_FAILURES: '3',
      // Each phase sends from client IPs of its own (X-Forwarded-For), so that no budget carries over.
      TRUST_PROXY: 'loopback',
      LOG_LEVEL: 'warn',
    };
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    // Both log to one stream: in one process, the logger behind Nest's Logger is shared by the apps.
    a = await startApp(database.url, env, stream);
    b = await startApp(database.url, env, stream);
  });
  afterAll(async () => {
    await redis?.restart();
    await b?.close();
    await a?.close();
    await database?.drop();
    await redis?.stop();
  });

  const newIp = () => `198.51.100.${++ip}`;
  const login = (on: TestApp, from: string, email: string, password = PASSWORD) =>
    on.http().post('/api/auth/token').set('X-Forwarded-For', from).send({ email, password });
  /** The statuses of logins sent in turn from one client IP to the instances given. */
  async function loginsFrom(from: string, email: string, instances: TestApp[]): Promise<number[]> {
    const statuses: number[] = [];
    for (const on of instances) statuses.push((await login(on, from, email)).status);
    return statuses;
  }
  const warnings = () =>
    logs
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: number; msg?: string })
      .filter((line) => line.level === 40)
      .map((line) => line.msg ?? '');

  it('logins and cookie sessions go on; per-IP limits fall back to per-instance counts with a warning; the account lock holds; health says redis', async () => {
    const user = await signUp(a.http);
    const session = await sessionLogin(a.http, user);
    // Up: one budget of 3 for both instances.
    expect(await loginsFrom(newIp(), user.email, [a, b, a, b])).toEqual([200, 200, 200, 429]);

    await redis.kill();
    await eventually(() => a.http().get('/api/health'), 503);
    expectUnhealthyRedis(await a.http().get('/api/health'), redis.port);
    expectUnhealthyRedis(await b.http().get('/api/health'), redis.port);

    // Down: each instance counts its own 3.
    const from = newIp();
    expect(await loginsFrom(from, user.email, [a, a, a, a])).toEqual([200, 200, 200, 429]);
    expect(await loginsFrom(from, user.email, [b, b, b, b])).toEqual([200, 200, 200, 429]);
    expect(warnings()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/rate limits are counted per instance until Redis is back/),
      ]),
    );

    // Cookie sessions live in PostgreSQL: untouched.
    expect(outcome(await a.http().get('/api/auth/me').set('Cookie', session.cookie))).toMatchObject({
      status: 200,
      body: { id: user.id, authMethod: 'session' },
    });
    const fresh = await sessionLogin(b.http, user);
    await a.http().get('/api/auth/me').set('Cookie', fresh.cookie).expect(200);

    // The per-account lock is PostgreSQL's: three failures across both instances lock the account.
    const target = await signUp(a.http, uniqueEmail('locked'));
    for (const on of [a, b, a])
      expect((await login(on, newIp(), target.email, 'wrong password!')).status).toBe(401);
    const locked = await login(b, newIp(), target.email);
    expect(outcome(locked)).toEqual({
      status: 429,
      body: { statusCode: 429, error: 'Too Many Requests', message: LOCKED },
    });

    await redis.restart();
    for (const on of [a, b]) {
      const health = (await eventually(() => on.http().get('/api/health'), 200, RECOVERY_MS)).res;
      expect(health.body).toMatchObject({ info: { redis: { status: 'up' } } });
    }
    // Back: one budget for both again.
    expect(await loginsFrom(newIp(), user.email, [a, b, a, b, a])).toEqual([200, 200, 200, 429, 429]);
  }, 60_000);
});

describeWithRedisServer(`SESSION_STORE=redis while Redis is down${skipped}`, () => {
  let redis: RedisServer;
  let ctx: TestContext;

  beforeAll(async () => {
    // With an append-only file, what Redis acknowledged survives the kill: the sessions come back with it.
    redis = await RedisServer.start({ appendOnly: true });
    ctx = await startAppOnFreshDatabase({ REDIS_URL: redis.url, SESSION_STORE: 'redis' });
  });
  afterAll(async () => {
    await redis?.restart();
    await ctx?.close();
    await redis?.stop();
  });

  const me = (cookie: string) => ctx.http().get('/api/auth/me').set('Cookie', cookie);
  const bearer = (token: string, path = '/api/auth/me') =>
    ctx.http().get(path).set('Authorization', `Bearer ${token}`);

  it('answers cookie requests and cookie logins with 503 + Retry-After (never 401 or 500), bearer requests with 200; recovers by itself', async () => {
    const user = await signUp(ctx.http);
    const session = await sessionLogin(ctx.http, user);
    const tokens = await tokenLogin(ctx.http, user);
    // Used just now: held in memory.
    expect(outcome(await me(session.cookie))).toMatchObject({ status: 200, body: { id: user.id } });
    expect((await ctx.http().get('/api/health')).status).toBe(200);

    await redis.kill();

    // From the moment the connection drops, the session in memory is not trusted: 503 at once.
    const { seen } = await eventually(() => me(session.cookie), 503);
    expect(seen.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expectUnavailable(await me(session.cookie));
    expectUnavailable(
      await ctx.http().get('/api/sessions').set('Cookie', session.cookie).set('User-Agent', 'outage'),
    );
    // Signing out cannot be done either: 503, not a 204 that left the session in Redis.
    expectUnavailable(
      await ctx
        .http()
        .delete('/api/auth/session')
        .set('Cookie', session.cookie)
        .set('X-CSRF-Token', session.csrfToken),
    );
    expectUnavailable(
      await ctx.http().post('/api/auth/session').send({ email: user.email, password: PASSWORD }),
    );
    // A wrong password is still judged 401 by the password check, before the session store.
    expect(
      (await ctx.http().post('/api/auth/session').send({ email: user.email, password: 'wrong password!' }))
        .status,
    ).toBe(401);

    // Bearer sign-ins do not use Redis (their listing does: it includes the cookie sessions).
    expect(outcome(await bearer(tokens.accessToken))).toMatchObject({ status: 200, body: { id: user.id } });
    expect((await tokenLogin(ctx.http, user)).accessToken).toEqual(expect.any(String));
    expectUnavailable(await bearer(tokens.accessToken, '/api/sessions'));

    expectUnhealthyRedis(await ctx.http().get('/api/health'), redis.port);

    await redis.restart();

    const health = (await eventually(() => ctx.http().get('/api/health'), 200, RECOVERY_MS)).res;
    expect(health.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, redis: { status: 'up' } },
    });
    // The session Redis kept is back, with nothing lost by the failed sign-out.
    expect(outcome(await me(session.cookie))).toMatchObject({ status: 200, body: { id: user.id } });
    const later = await sessionLogin(ctx.http, user);
    expect(outcome(await me(later.cookie))).toMatchObject({ status: 200, body: { authMethod: 'session' } });
    const list = await bearer(tokens.accessToken, '/api/sessions').expect(200);
    expect((list.body as { method: string }[]).filter((item) => item.method === 'session')).toHaveLength(2);
    await ctx
      .http()
      .delete('/api/auth/session')
      .set('Cookie', later.cookie)
      .set('X-CSRF-Token', later.csrfToken)
      .expect(204);
    await me(later.cookie).expect(401);
  }, 60_000);

  it('after a restart that lost the sessions, their cookies are refused (401), not served from memory', async () => {
    const user = await signUp(ctx.http);
    const session = await sessionLogin(ctx.http, user);
    await me(session.cookie).expect(200);
    // A Redis that comes back empty (restarted without persistence, or failed over to an empty replica).
    await ctx.app.get(RedisConnection).run((client) => client.flushAll());
    await redis.kill();
    await redis.restart();
    await eventually(() => ctx.http().get('/api/health'), 200, RECOVERY_MS);
    expect(outcome(await me(session.cookie))).toEqual({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: expect.any(String) },
    });
    await sessionLogin(ctx.http, user);
  }, 60_000);
});

describeWithRedisServer(`SESSION_STORE=redis while Redis is silent${skipped}`, () => {
  let redis: RedisServer;
  let proxy: TcpProxy;
  let ctx: TestContext;

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = TcpProxy.forUrl(redis.url);
    await proxy.start();
    ctx = await startAppOnFreshDatabase({ REDIS_URL: proxy.route(redis.url), SESSION_STORE: 'redis' });
  });
  afterAll(async () => {
    proxy?.thaw();
    // Closed while its connection is still coming back, the client can keep a timer running.
    await eventually(() => ctx.http().get('/api/health'), 200, RECOVERY_MS).catch(() => undefined);
    await ctx?.close();
    await proxy?.stop();
    await redis?.stop();
  });

  /** No answer within 8 s is a hang: supertest fails the request ("timeout"). */
  const me = (cookie: string) => ctx.http().get('/api/auth/me').set('Cookie', cookie).timeout(8000);

  it('answers 503 within a few seconds instead of hanging, never 401; recovers once the path is back', async () => {
    const user = await signUp(ctx.http);
    const session = await sessionLogin(ctx.http, user);
    const tokens = await tokenLogin(ctx.http, user);
    await me(session.cookie).expect(200);

    proxy.freeze();
    // Served from memory at first (Redis answered moments ago), then 503 once it has been silent too long.
    const seen = await statusesFor(() => me(session.cookie), 6000);
    expect(seen.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expect(seen).toContain(503);

    for (const send of [
      () => me(session.cookie),
      () =>
        ctx.http().post('/api/auth/session').send({ email: user.email, password: PASSWORD }).timeout(8000),
    ]) {
      const started = Date.now();
      expectUnavailable(await send());
      // A command unanswered for 2 s fails; more than three times that is a hang.
      expect(Date.now() - started).toBeLessThan(6000);
    }
    const health = await ctx.http().get('/api/health').timeout(8000);
    expect(outcome(health)).toEqual({ status: 503, body: UNHEALTHY_REDIS });
    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${tokens.accessToken}`).expect(200);

    proxy.thaw();
    await eventually(() => ctx.http().get('/api/health'), 200, RECOVERY_MS);
    await me(session.cookie).expect(200);
    const later = await sessionLogin(ctx.http, user);
    await me(later.cookie).expect(200);
  }, 60_000);
});
