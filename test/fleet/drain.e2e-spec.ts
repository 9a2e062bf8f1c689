import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { uniqueEmail, PASSWORD } from '../support/auth-helpers';
import { holdBuiltServer, launchServer, type ServerProcess, untilHealthy } from '../support/server-process';
import { startApp, TEST_ENV, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/*
 * Drill: SIGTERM while requests are in flight, on the compiled server in its own
 * process (what a balancer and an orchestrator see). Health must turn 503 at once so
 * that the balancer stops sending; what is still sent during SHUTDOWN_DELAY_SECONDS
 * is served, with `Connection: close`; requests in flight when the listener closes
 * finish; the process exits with 0 within delay + timeout, and a request that never
 * finishes does not hold it longer.
 */

const ROOT = join(__dirname, '../..');
const MAIN = join(ROOT, 'dist/src/main.js');
const DELAY_S = 1;
// Generous: the logins in flight must finish within it even on a loaded machine (the cut is tested below).
const TIMEOUT_S = 20;
/** The exit path (closing the pools and the feed) took ~30 ms here: generous for a busy 2-core machine. */
const EXIT_SLACK_MS = 1500;
/** Logins in flight at the signal: more than the bcrypt threads, so that they queue. */
const IN_FLIGHT = 12;

/** The secrets every instance shares (a second instance must accept what the first issued). */
const SHARED_ENV = {
  SESSION_SECRET: TEST_ENV.SESSION_SECRET,
  JWT_SECRET: TEST_ENV.JWT_SECRET,
  PASSWORD_PEPPER: TEST_ENV.PASSWORD_PEPPER,
  AUTH_RATE_LIMIT: TEST_ENV.AUTH_RATE_LIMIT,
  API_RATE_LIMIT: TEST_ENV.API_RATE_LIMIT,
};

interface Answer {
  path: string;
  /** HTTP status, or the error code of a request that got no answer (ECONNREFUSED). */
  status: number | string;
  connection: string | null;
  body: Record<string, unknown>;
  cookie?: string;
  /** ms after the signal when the answer arrived. */
  at: number;
}

function failure(error: unknown): string {
  const { cause, name } = error as { cause?: { code?: string }; name?: string };
  return cause?.code ?? name ?? String(error);
}

describe('drill: SIGTERM drain (a real process)', () => {
  let built: { release(): Promise<void> } | undefined;
  let database: TestDatabase;
  let verifier: TestApp;
  const running: ServerProcess[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    built = await holdBuiltServer();
    database = await createTestDatabase();
    // A second instance on the same database: sign-ins made during the drain must be real.
    verifier = await startApp(database.url);
  }, 600_000);

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    for (const server of running) if (server.process.exitCode === null) server.process.kill('SIGKILL');
    await Promise.all(running.map((server) => server.exited));
    await verifier?.close();
    await database?.drop();
    await built?.release();
  });

  async function start(env: Record<string, string>): Promise<ServerProcess> {
    const server = await launchServer({
      main: MAIN,
      cwd: ROOT,
      env: { ...SHARED_ENV, DATABASE_URL: database.url, ...env },
    });
    running.push(server);
    await untilHealthy(server);
    return server;
  }

  it('health turns 503 at once, requests during the delay and in flight are served, exit 0 within the bound', async () => {
    const server = await start({
      SHUTDOWN_DELAY_SECONDS: String(DELAY_S),
      SHUTDOWN_TIMEOUT_SECONDS: String(TIMEOUT_S),
      BCRYPT_COST: '12',
    });
    const base = `http://127.0.0.1:${server.port}`;
    let signalledAt = 0;
    const send = async (path: string, init: RequestInit = {}): Promise<Answer> => {
      try {
        const res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(20_000) });
        const text = await res.text();
        return {
          path,
          status: res.status,
          connection: res.headers.get('connection'),
          body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          cookie: res.headers.getSetCookie()[0]?.split(';')[0],
          at: Date.now() - signalledAt,
        };
      } catch (error) {
        return { path, status: failure(error), connection: null, body: {}, at: Date.now() - signalledAt };
      }
    };
    const json = (body: object): RequestInit => ({
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });

    // bcrypt cost-12 hashes, so that each login below is slow (the cost is the stored hash's).
    // Three accounts: parallel attempts on one account each hold a slot of its lock.
    const users = await Promise.all(
      [0, 1, 2].map(async () => {
        const email = uniqueEmail('drain');
        expect((await send('/api/auth/signup', json({ email, password: PASSWORD }))).status).toBe(201);
        return { email, password: PASSWORD };
      }),
    );
    const timedAt = Date.now();
    const warm = await send('/api/auth/token', json(users[0]));
    const oneLoginMs = Date.now() - timedAt;
    expect(warm.status).toBe(200);
    const bearer = { headers: { Authorization: `Bearer ${warm.body.accessToken as string}` } };

    // Logins in flight, half cookie and half token, queued on the bcrypt threads.
    const logins = Array.from({ length: IN_FLIGHT }, (_, i) =>
      send(i % 2 ? '/api/auth/token' : '/api/auth/session', json(users[i % 3])),
    );
    await sleep(100);
    signalledAt = Date.now();
    server.process.kill('SIGTERM');
    const exitedAt = server.exited.then((code) => ({ code, at: Date.now() - signalledAt }));

    // Health, back to back, until the first 503.
    const health: Answer[] = [];
    do health.push(await send('/api/health'));
    while (health.at(-1)!.status === 200 && health.at(-1)!.at < 2000);
    // Requests that keep coming during the delay (the balancer has not noticed yet).
    const duringDelay: Answer[] = [];
    while (Date.now() - signalledAt < DELAY_S * 1000 - 300) {
      duringDelay.push(await send('/api'), await send('/api/auth/me', bearer), await send('/api/health'));
      await sleep(50);
    }
    // Then the listener closes: nothing more is served.
    const afterDelay: Answer[] = [];
    do afterDelay.push(await send('/api'));
    while (typeof afterDelay.at(-1)!.status === 'number' && afterDelay.at(-1)!.at < 4000);

    const finished = await Promise.all(logins);
    const exit = await exitedAt;
    const firstUnhealthy = health.at(-1)!;
    const refusedAt = afterDelay.at(-1)!;
    const lastAnswerAt = Math.max(...finished.map((a) => a.at));
    console.log(
      [
        `drain drill: one cost-12 login ${oneLoginMs} ms; ${IN_FLIGHT} logins in flight at SIGTERM`,
        `health: ${health.length - 1} × 200 then ${firstUnhealthy.status} "${String(firstUnhealthy.body.message)}" at ${firstUnhealthy.at} ms after the signal`,
        `during the ${DELAY_S} s delay: ${duringDelay.length} requests, statuses ${JSON.stringify(count(duringDelay))}, Connection ${JSON.stringify(countBy(duringDelay, (a) => String(a.connection)))}`,
        `no longer served (${String(refusedAt.status)}) from ${refusedAt.at} ms`,
        `in-flight logins: ${JSON.stringify(count(finished))}, answered from ${Math.min(...finished.map((a) => a.at))} to ${lastAnswerAt} ms, Connection ${JSON.stringify(countBy(finished, (a) => String(a.connection)))}`,
        `exit code ${exit.code} at ${exit.at} ms after the signal`,
      ].join('\n  '),
    );

    // Health said 503 "draining" at once, and nothing but 200 before it.
    expect({ status: firstUnhealthy.status, message: firstUnhealthy.body.message }).toEqual({
      status: 503,
      message: 'Unhealthy: draining',
    });
    expect(firstUnhealthy.at).toBeLessThan(500);
    // The delay was honoured: served, 503 on health, and every response closing its connection.
    expect(duringDelay.length).toBeGreaterThan(0);
    const expected = (a: Answer) =>
      a.path === '/api/health'
        ? a.status === 503 && a.body.message === 'Unhealthy: draining'
        : a.status === 200;
    expect(duringDelay.filter((a) => !expected(a))).toEqual([]);
    expect(duringDelay.filter((a) => a.connection !== 'close')).toEqual([]);
    // (ECONNREFUSED; ECONNRESET when the client tried a connection kept alive from before.)
    expect(typeof refusedAt.status).toBe('string');
    expect(refusedAt.at).toBeGreaterThanOrEqual(DELAY_S * 1000 - 100);
    // Every login in flight completed, and the process exited cleanly within delay + timeout.
    expect(finished.map((a) => a.status)).toEqual(finished.map(() => 200));
    // Some were still running when the listener closed: they were given their time.
    expect(lastAnswerAt).toBeGreaterThan(refusedAt.at);
    expect(exit.code).toBe(0);
    expect(exit.at).toBeLessThan((DELAY_S + TIMEOUT_S) * 1000 + EXIT_SLACK_MS);
    expect(server.output()).toContain(`SIGTERM: draining for ${DELAY_S} s, then shutting down`);

    // Their sessions and tokens are real: another instance on the same database accepts them.
    for (const [i, login] of finished.entries()) {
      if (i % 2) {
        const me = await verifier
          .http()
          .get('/api/auth/me')
          .set('Authorization', `Bearer ${login.body.accessToken as string}`);
        expect({ i, status: me.status, email: me.body.email }).toEqual({
          i,
          status: 200,
          email: users[i % 3].email,
        });
        const refresh = await verifier
          .http()
          .post('/api/auth/token/refresh')
          .send({ refreshToken: login.body.refreshToken });
        expect({ i, status: refresh.status }).toEqual({ i, status: 200 });
      } else {
        const me = await verifier.http().get('/api/auth/me').set('Cookie', login.cookie!);
        expect({ i, status: me.status, method: me.body.authMethod }).toEqual({
          i,
          status: 200,
          method: 'session',
        });
      }
    }

    // Answers to the requests in flight say `Connection: close` too, and their connections
    // do not hold the exit: it comes soon after the last of them, not when the client
    // (or SHUTDOWN_TIMEOUT_SECONDS) gets round to closing an idle kept-alive connection.
    expect(finished.map((a) => a.connection)).toEqual(finished.map(() => 'close'));
    expect(exit.at).toBeLessThan(lastAnswerAt + EXIT_SLACK_MS);
    expect(server.output()).not.toContain('Requests still running');
  }, 60_000);

  it('a request that never finishes does not hold the exit beyond delay + timeout', async () => {
    const timeoutS = 3;
    const server = await start({
      SHUTDOWN_DELAY_SECONDS: String(DELAY_S),
      SHUTDOWN_TIMEOUT_SECONDS: String(timeoutS),
    });
    // A POST whose headers promise a body that never comes: the body parser waits for it.
    const socket = createConnection({ host: '127.0.0.1', port: server.port });
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const socketClosed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    socket.write(
      'POST /api/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000\r\n\r\n{"email":"stuck@example.com",',
    );
    await sleep(300);

    const signalledAt = Date.now();
    server.process.kill('SIGTERM');
    const code = await server.exited;
    const exitMs = Date.now() - signalledAt;
    const closedMs = (await socketClosed) - signalledAt;
    console.log(
      `stuck-request drill: delay ${DELAY_S} s + timeout ${timeoutS} s; exit code ${code} at ${exitMs} ms, ` +
        `the stuck connection closed at ${closedMs} ms (${answer ? `answer: ${answer.split('\r\n')[0]}` : 'no answer'})`,
    );

    expect(code).toBe(0);
    // It waited for the request (it was in flight) ...
    expect(exitMs).toBeGreaterThanOrEqual((DELAY_S + timeoutS) * 1000 - 200);
    // ... and no longer than the bound.
    expect(exitMs).toBeLessThan((DELAY_S + timeoutS) * 1000 + EXIT_SLACK_MS);
    expect(closedMs).toBeLessThanOrEqual(exitMs + 100);
    expect(server.output()).toContain(
      `Requests still running after ${timeoutS} s: closing their connections`,
    );
  }, 60_000);
});

function count(answers: Answer[]): Record<string, number> {
  return countBy(answers, (a) => String(a.status));
}

function countBy(answers: Answer[], key: (answer: Answer) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[key(answer)] = (counts[key(answer)] ?? 0) + 1;
  return counts;
}
