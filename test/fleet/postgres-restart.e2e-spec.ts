import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PASSWORD, uniqueEmail } from '../support/auth-helpers';
import { holdBuiltServer, launchServer, type ServerProcess, untilHealthy } from '../support/server-process';
import { TEST_ENV } from '../support/test-app';

/*
 * Drill: PostgreSQL restarted under load. The service (the compiled server, in its
 * own process) runs on a PostgreSQL of this file's own, which is stopped (fast
 * shutdown) while a few clients keep using it, kept down for a few seconds, and
 * started again on the same port and data. While it is down every answer is a 200
 * (what needs no database) or a 503 with Retry-After, never a 401, a 500 or a hang;
 * once it is back, the very same cookies and tokens work again and new logins too,
 * without restarting the service.
 */

const ROOT = join(__dirname, '../..');
const MAIN = join(ROOT, 'dist/src/main.js');
const QUERY_TIMEOUT_S = 2;
const FEED_TIMEOUT_S = 2;
const BEFORE_MS = 1500;
const DOWN_MS = 3000;
/** From PostgreSQL accepting connections again to every client being served; measured well under 1 s. */
const RECOVER_MS = 10_000;
/** After recovery, everything must keep answering 200 this long. */
const AFTER_MS = 2000;
/** A request unanswered this long is a hang (longer than the query timeout and its 503). */
const REQUEST_TIMEOUT_MS = 10_000;

const SHARED_ENV = {
  SESSION_SECRET: TEST_ENV.SESSION_SECRET,
  JWT_SECRET: TEST_ENV.JWT_SECRET,
  PASSWORD_PEPPER: TEST_ENV.PASSWORD_PEPPER,
  AUTH_RATE_LIMIT: TEST_ENV.AUTH_RATE_LIMIT,
  API_RATE_LIMIT: TEST_ENV.API_RATE_LIMIT,
};

type Phase = 'before' | 'down' | 'restarting' | 'recovering' | 'after';

interface Answer {
  phase: Phase;
  /** HTTP status, or how the request failed without one (TimeoutError, ECONNRESET). */
  status: number | string;
  retryAfter: string | null;
  message?: unknown;
}

/**
 * The service's own EmbeddedPostgres (the compiled one in dist/), in a small process of
 * its own: Jest cannot load the ESM package that holds PostgreSQL's programs. `stop()`
 * is the class's stop (a fast shutdown) and returns once PostgreSQL has exited.
 */
class OwnPostgres {
  private constructor(
    readonly url: string,
    private readonly exited: Promise<unknown>,
    private readonly stopIt: () => void,
  ) {}

  static async start(dir: string, port?: number): Promise<OwnPostgres> {
    const script = `
      const { EmbeddedPostgres } = require(${JSON.stringify(join(ROOT, 'dist/src/database/embedded-postgres.js'))});
      const [dir, port] = process.argv.slice(1);
      EmbeddedPostgres.start({ dir, port: port ? Number(port) : undefined }).then((server) => {
        process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
        process.stdout.write(server.url + '\\n');
      }, (error) => { process.stderr.write(String(error)); process.exit(1); });`;
    const child = spawn(process.execPath, ['-e', script, dir, ...(port ? [String(port)] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      void exited.then(() => reject(new Error(`PostgreSQL did not start: ${output}`)));
    });
    return new OwnPostgres(url, exited, () => child.kill('SIGTERM'));
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  async stop(): Promise<void> {
    this.stopIt();
    await this.exited;
  }
}

/** 200, or 503 with Retry-After: what a client may see during an outage. */
const acceptable = (a: Answer) => a.status === 200 || (a.status === 503 && a.retryAfter !== null);

describe('drill: PostgreSQL restarted under load (a real process)', () => {
  let built: { release(): Promise<void> } | undefined;
  let dir: string;
  let postgres: OwnPostgres | undefined;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    built = await holdBuiltServer();
    dir = await mkdtemp(join(tmpdir(), 'auth-drill-pg-'));
    // As root, PostgreSQL runs as the `postgres` user, which must reach its data.
    await chmod(dir, 0o755);
    postgres = await OwnPostgres.start(join(dir, 'pg'));
    // The service runs the migrations at start-up, on this server's `postgres` database.
    server = await launchServer({
      main: MAIN,
      cwd: ROOT,
      env: {
        ...SHARED_ENV,
        DATABASE_URL: postgres.url,
        DATABASE_QUERY_TIMEOUT_SECONDS: String(QUERY_TIMEOUT_S),
        INVALIDATION_FEED_TIMEOUT_SECONDS: String(FEED_TIMEOUT_S),
        // One line per request would be thousands: warnings and errors only.
        LOG_LEVEL: 'warn',
      },
    });
    await untilHealthy(server);
  }, 600_000);

  afterAll(async () => {
    if (server && server.process.exitCode === null) server.process.kill('SIGKILL');
    await server?.exited;
    await postgres?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    await built?.release();
  });

  it('503 with Retry-After while it is down, never 401/500; the same sign-ins and new logins work once it is back', async () => {
    const base = `http://127.0.0.1:${server!.port}`;
    let phase: Phase = 'before';
    const send = async (
      path: string,
      init: RequestInit = {},
    ): Promise<{ answer: Answer; body: Record<string, unknown>; cookie?: string }> => {
      const sentIn = phase;
      try {
        const res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        const text = await res.text();
        const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        const answer: Answer = {
          phase: sentIn,
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          message: res.status === 200 ? undefined : body.message,
        };
        return { answer, body, cookie: res.headers.getSetCookie()[0]?.split(';')[0] };
      } catch (error) {
        const { cause, name } = error as { cause?: { code?: string }; name?: string };
        return {
          answer: { phase: sentIn, status: cause?.code ?? name ?? String(error), retryAfter: null },
          body: {},
        };
      }
    };
    const post = (path: string, body: object) =>
      send(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });

    // Sign-ins made before the outage, each used by its own loop all along.
    const users = await Promise.all(
      [0, 1, 2].map(async () => {
        const user = { email: uniqueEmail('pg-drill'), password: PASSWORD };
        expect((await post('/api/auth/signup', user)).answer.status).toBe(201);
        return user;
      }),
    );
    const cookieLogins = await Promise.all(
      [users[0], users[1]].map((user) => post('/api/auth/session', user)),
    );
    const tokenLogins = await Promise.all(users.map((user) => post('/api/auth/token', user)));
    for (const login of [...cookieLogins, ...tokenLogins]) expect(login.answer.status).toBe(200);
    let refreshToken = tokenLogins[2].body.refreshToken as string;

    const loops: Record<string, () => Promise<{ answer: Answer }>> = {
      'public GET /api': () => send('/api'),
      health: () => send('/api/health'),
      'cookie /me (1)': () => send('/api/auth/me', { headers: { Cookie: cookieLogins[0].cookie! } }),
      'cookie /me (2)': () => send('/api/auth/me', { headers: { Cookie: cookieLogins[1].cookie! } }),
      'bearer /me (1)': () =>
        send('/api/auth/me', {
          headers: { Authorization: `Bearer ${tokenLogins[0].body.accessToken as string}` },
        }),
      'bearer /me (2)': () =>
        send('/api/auth/me', {
          headers: { Authorization: `Bearer ${tokenLogins[1].body.accessToken as string}` },
        }),
      'token login': () => post('/api/auth/token', users[1]),
      // The chain of one login: a 503 leaves the refresh token unspent, so it is sent again.
      refresh: async () => {
        const res = await post('/api/auth/token/refresh', { refreshToken });
        if (res.answer.status === 200) refreshToken = res.body.refreshToken as string;
        return res;
      },
    };
    const seen: Record<string, Answer[]> = Object.fromEntries(Object.keys(loops).map((name) => [name, []]));
    let stopped = false;
    const running = Object.entries(loops).map(async ([name, request]) => {
      while (!stopped) {
        seen[name].push((await request()).answer);
        await sleep(20);
      }
    });

    let recoveredMs: number | undefined;
    let stopMs: number | undefined;
    let startMs: number | undefined;
    try {
      await sleep(BEFORE_MS);
      phase = 'down';
      let at = Date.now();
      await postgres!.stop();
      stopMs = Date.now() - at;
      await sleep(DOWN_MS);
      phase = 'restarting';
      at = Date.now();
      postgres = await OwnPostgres.start(join(dir, 'pg'), postgres!.port);
      startMs = Date.now() - at;
      phase = 'recovering';
      const restartedAt = Date.now();
      // Recovered: every loop's latest answer, sent since the restart, is a 200.
      while (Date.now() - restartedAt < RECOVER_MS) {
        const latest = Object.values(seen).map((answers) => answers.at(-1)!);
        if (latest.every((a) => a.phase === 'recovering' && a.status === 200)) {
          recoveredMs = Date.now() - restartedAt;
          break;
        }
        await sleep(20);
      }
      phase = 'after';
      await sleep(AFTER_MS);
    } finally {
      stopped = true;
      await Promise.all(running);
    }

    // New logins, of both kinds, on the restarted database.
    const freshCookie = await post('/api/auth/session', users[2]);
    const freshMe = await send('/api/auth/me', { headers: { Cookie: freshCookie.cookie ?? '' } });

    const phases: Phase[] = ['before', 'down', 'restarting', 'recovering', 'after'];
    const report = Object.entries(seen).map(
      ([name, answers]) =>
        `${name.padEnd(16)} ${phases
          .map((p) => `${p}: ${JSON.stringify(tally(answers.filter((a) => a.phase === p)))}`)
          .join('  ')}`,
    );
    const unacceptable = Object.entries(seen).flatMap(([name, answers]) =>
      answers.filter((a) => !acceptable(a)).map((a) => ({ name, ...a })),
    );
    console.log(
      [
        `PostgreSQL restart drill: stop (fast shutdown) took ${stopMs} ms, down ${DOWN_MS} ms, start took ${startMs} ms; ` +
          `every client served again ${recoveredMs ?? 'never'} ms after it accepted connections`,
        ...report,
        `503 messages: ${JSON.stringify(tally(Object.values(seen).flat(), (a) => (a.status === 503 ? String(a.message) : undefined)))}`,
        `fresh cookie login ${freshCookie.answer.status}, its /me ${freshMe.answer.status}`,
      ].join('\n  '),
    );

    // Never a 401, a 500 or a hang: 200, or 503 with Retry-After, in every phase.
    expect(unacceptable).toEqual([]);
    // The outage was real: whatever needs the database answered 503 while it was down ...
    const answeredWhileDown = Object.entries(seen)
      .filter(([name]) => name !== 'public GET /api')
      .map(([name, answers]) => [name, answers.some((a) => a.phase === 'down' && a.status === 503)]);
    expect(Object.fromEntries(answeredWhileDown)).toEqual(
      Object.fromEntries(answeredWhileDown.map(([name]) => [name, true])),
    );
    // ... and what does not kept answering 200.
    expect(seen['public GET /api'].filter((a) => a.status !== 200)).toEqual([]);
    // Back within the bound, without restarting the service, with the same sign-ins.
    expect(recoveredMs).toBeDefined();
    const notOkAfter = Object.entries(seen).flatMap(([name, answers]) =>
      answers.filter((a) => a.phase === 'after' && a.status !== 200).map((a) => ({ name, ...a })),
    );
    expect(notOkAfter).toEqual([]);
    for (const answers of Object.values(seen)) expect(answers.some((a) => a.phase === 'after')).toBe(true);
    expect({ login: freshCookie.answer.status, me: freshMe.answer.status }).toEqual({ login: 200, me: 200 });
    expect(server!.process.exitCode).toBeNull();

    server!.process.kill('SIGTERM');
    expect(await server!.exited).toBe(0);
  }, 90_000);
});

function tally(answers: Answer[], key = (a: Answer): string | undefined => String(a.status)) {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const name = key(answer);
    if (name !== undefined) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}
