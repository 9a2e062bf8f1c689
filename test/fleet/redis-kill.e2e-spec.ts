import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PASSWORD, uniqueEmail } from '../support/auth-helpers';
import { hasRedisServer, RedisServer } from '../support/redis-server';
import { holdBuiltServer, launchServer, type ServerProcess, untilHealthy } from '../support/server-process';
import { TEST_ENV } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/*
 * Drill: kill -9 of Redis under a service with SESSION_STORE=redis, on the compiled
 * server in its own process. While Redis is gone, cookie requests get 503 with
 * Retry-After (never 401, never 500), bearer tokens and token logins go on (the
 * throttle counts per instance, with a warning), health says "Unhealthy: redis".
 * Redis comes back on the same port and the service recovers by itself. What a
 * Redis without persistence loses on the way (every cookie session) is what the
 * README's advice on AOF is about; with appendonly the sessions survive.
 */

const ROOT = join(__dirname, '../..');
const MAIN = join(ROOT, 'dist/src/main.js');
/** The service sees a dead Redis at once (the socket closes); a bound for the first 503. */
const NOTICE_MS = 3000;
/** After Redis is back: reconnect backoff (≤ 1 s) and the first ping, on a busy machine. */
const RECOVER_MS = 5000;
/** How long the first drill keeps Redis down, asking all along. */
const DOWN_MS = 2000;

const SHARED_ENV = {
  SESSION_SECRET: TEST_ENV.SESSION_SECRET,
  JWT_SECRET: TEST_ENV.JWT_SECRET,
  PASSWORD_PEPPER: TEST_ENV.PASSWORD_PEPPER,
  AUTH_RATE_LIMIT: TEST_ENV.AUTH_RATE_LIMIT,
  API_RATE_LIMIT: TEST_ENV.API_RATE_LIMIT,
};

interface Answer {
  status: number | string;
  retryAfter: string | null;
  body: Record<string, unknown>;
  cookie?: string;
}

const skip = hasRedisServer()
  ? undefined
  : 'skipped: no redis-server on the PATH (apt-get install redis-server): the drill kills its own';

(skip ? describe.skip : describe)(skip ?? 'drill: kill -9 of Redis with SESSION_STORE=redis', () => {
  let built: { release(): Promise<void> } | undefined;
  let database: TestDatabase;
  const redises: RedisServer[] = [];
  const running: ServerProcess[] = [];

  beforeAll(async () => {
    built = await holdBuiltServer();
    database = await createTestDatabase();
  }, 600_000);

  afterAll(async () => {
    for (const server of running) if (server.process.exitCode === null) server.process.kill('SIGKILL');
    await Promise.all(running.map((server) => server.exited));
    for (const redis of redises) await redis.stop();
    await database?.drop();
    await built?.release();
  });

  /** A service on a Redis of its own, and a client for it. */
  async function start(appendOnly: boolean) {
    const redis = await RedisServer.start({ appendOnly });
    redises.push(redis);
    const server = await launchServer({
      main: MAIN,
      cwd: ROOT,
      env: { ...SHARED_ENV, DATABASE_URL: database.url, REDIS_URL: redis.url, SESSION_STORE: 'redis' },
    });
    running.push(server);
    await untilHealthy(server);
    const base = `http://127.0.0.1:${server.port}`;
    const send = async (path: string, init: RequestInit = {}): Promise<Answer> => {
      try {
        const res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        return {
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          cookie: res.headers.getSetCookie()[0]?.split(';')[0],
        };
      } catch (error) {
        const { cause, name } = error as { cause?: { code?: string }; name?: string };
        return { status: cause?.code ?? name ?? String(error), retryAfter: null, body: {} };
      }
    };
    const post = (path: string, body: object, headers: Record<string, string> = {}) =>
      send(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const user = { email: uniqueEmail('redis-drill'), password: PASSWORD };
    expect((await post('/api/auth/signup', user)).status).toBe(201);
    const client = {
      send,
      post,
      user,
      cookieLogin: () => post('/api/auth/session', user),
      tokenLogin: () => post('/api/auth/token', user),
      cookieMe: (cookie: string) => send('/api/auth/me', { headers: { Cookie: cookie } }),
      bearerMe: (token: string) => send('/api/auth/me', { headers: { Authorization: `Bearer ${token}` } }),
      /** Repeats `request` until it answers `status` (or `timeoutMs` passes); every status seen, in order. */
      until: async (request: () => Promise<Answer>, status: number, timeoutMs: number) => {
        const seen: Answer[] = [];
        const startedAt = Date.now();
        do {
          seen.push(await request());
          if (seen.at(-1)!.status === status) break;
          await sleep(50);
        } while (Date.now() - startedAt < timeoutMs);
        return { seen, last: seen.at(-1)!, ms: Date.now() - startedAt, statuses: runs(seen) };
      },
    };
    return { redis, server, ...client };
  }

  /** Cookie login, checked once: the cookie, its CSRF token, and the session answering. */
  async function signedIn(client: Awaited<ReturnType<typeof start>>) {
    const login = await client.cookieLogin();
    expect(login.status).toBe(200);
    expect((await client.cookieMe(login.cookie!)).status).toBe(200);
    return { cookie: login.cookie!, csrfToken: login.body.csrfToken as string };
  }

  it('without persistence: 503s while it is down, then every cookie session is gone (401), new ones work', async () => {
    const client = await start(false);
    const session = await signedIn(client);
    const tokens = await client.tokenLogin();
    expect(tokens.status).toBe(200);
    const accessToken = tokens.body.accessToken as string;
    expect((await client.send('/api/health')).body).toMatchObject({ info: { redis: { status: 'up' } } });

    await client.redis.kill('SIGKILL');
    const down = await client.until(() => client.cookieMe(session.cookie), 503, NOTICE_MS);
    const whileDown = {
      cookieMe: await client.cookieMe(session.cookie),
      bearerMe: await client.bearerMe(accessToken),
      tokenLogin: await client.tokenLogin(),
      refresh: await client.post('/api/auth/token/refresh', { refreshToken: tokens.body.refreshToken }),
      cookieLogin: await client.cookieLogin(),
      health: await client.send('/api/health'),
    };
    // Redis stays down a while longer (reconnect attempts, pings failing): nothing changes.
    const held: { cookie: Answer[]; bearer: Answer[] } = { cookie: [], bearer: [] };
    for (const until = Date.now() + DOWN_MS; Date.now() < until; await sleep(50)) {
      held.cookie.push(await client.cookieMe(session.cookie));
      held.bearer.push(await client.bearerMe(accessToken));
    }

    await client.redis.restart();
    const back = await client.until(() => client.cookieMe(session.cookie), 401, RECOVER_MS);
    const health = await client.until(() => client.send('/api/health'), 200, RECOVER_MS);
    const fresh = await client.cookieLogin();
    const freshMe = fresh.cookie ? await client.cookieMe(fresh.cookie) : undefined;
    const bearerAfter = await client.bearerMe(accessToken);
    console.log(
      [
        'Redis kill -9 drill, no persistence:',
        `after the kill, the old cookie's /me: ${down.statuses} (${down.ms} ms)`,
        `while down: ${Object.entries(whileDown)
          .map(([name, a]) => `${name} ${a.status}${a.retryAfter ? ` (Retry-After ${a.retryAfter})` : ''}`)
          .join(', ')}; health "${String(whileDown.health.body.message)}"`,
        `kept down ${DOWN_MS} ms more: cookie /me ${runs(held.cookie)}, bearer /me ${runs(held.bearer)}`,
        `after the restart, the old cookie's /me: ${back.statuses} (${back.ms} ms); health ${health.statuses} (${health.ms} ms)`,
        `new cookie login ${fresh.status}, its /me ${freshMe?.status}; bearer /me ${bearerAfter.status}`,
      ].join('\n  '),
    );

    // While Redis is down: cookie requests 503 with Retry-After, never a 401 or a 500.
    expect(down.seen.map((a) => a.status).filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expect({ status: down.last.status, retryAfter: down.last.retryAfter }).toEqual({
      status: 503,
      retryAfter: '5',
    });
    const status = (a: Answer) => ({ status: a.status, retryAfter: a.retryAfter });
    expect({
      cookieMe: status(whileDown.cookieMe),
      bearerMe: status(whileDown.bearerMe),
      tokenLogin: status(whileDown.tokenLogin),
      refresh: status(whileDown.refresh),
      cookieLogin: status(whileDown.cookieLogin),
      health: { ...status(whileDown.health), message: whileDown.health.body.message },
    }).toEqual({
      cookieMe: { status: 503, retryAfter: '5' },
      // Tokens need no Redis.
      bearerMe: { status: 200, retryAfter: null },
      tokenLogin: { status: 200, retryAfter: null },
      refresh: { status: 200, retryAfter: null },
      cookieLogin: { status: 503, retryAfter: '5' },
      health: { status: 503, retryAfter: '5', message: 'Unhealthy: redis' },
    });
    expect(held.cookie.filter((a) => a.status !== 503 || a.retryAfter !== '5')).toEqual([]);
    expect(held.bearer.filter((a) => a.status !== 200)).toEqual([]);
    // The throttle fell back to counting on this instance, and said so.
    expect(client.server.output()).toContain('rate limits are counted per instance until Redis is back');

    // Back, without restarting the service: the old session is lost (the documented
    // loss of a Redis without persistence), never a 500 on the way; new sign-ins work.
    expect(back.seen.map((a) => a.status).filter((status) => status !== 503 && status !== 401)).toEqual([]);
    expect(back.last.status).toBe(401);
    expect(health.last.status).toBe(200);
    expect(fresh.status).toBe(200);
    expect(freshMe?.status).toBe(200);
    expect(bearerAfter.status).toBe(200);
    expect(client.server.process.exitCode).toBeNull();
    expect(client.server.output()).toContain('Redis is reachable again');
  }, 60_000);

  it('with appendonly (appendfsync always): the cookie sessions survive the kill -9', async () => {
    const client = await start(true);
    const session = await signedIn(client);

    await client.redis.kill('SIGKILL');
    const down = await client.until(() => client.cookieMe(session.cookie), 503, NOTICE_MS);
    await client.redis.restart();
    const back = await client.until(() => client.cookieMe(session.cookie), 200, RECOVER_MS);
    // Its CSRF token too: the session's data is intact, not only its key.
    const write = await client.send('/api/users/me', {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/json',
        Cookie: session.cookie,
        'X-CSRF-Token': session.csrfToken,
      },
      body: JSON.stringify({ name: 'Survived' }),
    });
    const health = await client.until(() => client.send('/api/health'), 200, RECOVER_MS);
    console.log(
      [
        'Redis kill -9 drill, appendonly yes + appendfsync always:',
        `after the kill, the cookie's /me: ${down.statuses} (${down.ms} ms)`,
        `after the restart: ${back.statuses} (${back.ms} ms); a cookie PATCH with its CSRF token ${write.status}; health ${health.statuses}`,
      ].join('\n  '),
    );

    expect(down.seen.map((a) => a.status).filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expect(down.last.status).toBe(503);
    expect(back.seen.map((a) => a.status).filter((status) => status !== 503 && status !== 200)).toEqual([]);
    expect(back.last.status).toBe(200);
    expect({ status: write.status, name: write.body.name }).toEqual({ status: 200, name: 'Survived' });
    expect(health.last.status).toBe(200);
  }, 60_000);
});

/** "503 × 4, 401" : runs of one status, in order. */
function runs(answers: Answer[]): string {
  const out: { status: number | string; count: number }[] = [];
  for (const { status } of answers) {
    const last = out.at(-1);
    if (last?.status === status) last.count++;
    else out.push({ status, count: 1 });
  }
  return out.map(({ status, count }) => (count > 1 ? `${status} × ${count}` : String(status))).join(', ');
}
