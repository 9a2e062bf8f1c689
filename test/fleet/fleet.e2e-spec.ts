import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PASSWORD, uniqueEmail } from '../support/auth-helpers';
import { checkTiming, Haproxy, haproxySkipReason } from '../support/haproxy';
import {
  checkSignIns,
  closeClients,
  cookieOf,
  freshAddress,
  GATEWAY_ERRORS,
  MixedLoad,
  type Outcome,
  send,
} from '../support/mixed-load';
import { redisSkipReason, testRedisEnv } from '../support/redis-server';
import { holdBuiltServer, launchServer, type ServerProcess, untilHealthy } from '../support/server-process';
import { TEST_ENV } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/*
 * Issue 13, "a fleet in a test": Redis, three compiled instances in processes of their
 * own on one database, behind haproxy running deploy/haproxy.cfg (only its `bind` and
 * `server` lines replaced): round robin, no stickiness. Sign-ins work through every
 * instance, changes made through one are refused by the others on their very next
 * request, per-IP limits hold across the fleet, a kill -9 during load loses no
 * committed sign-in, an instance started later serves existing sign-ins at once, and
 * a SIGTERM drain through the balancer fails no request.
 *
 * Every test speaks from loopback addresses of its own (127.1.x.y): with
 * AUTH_RATE_LIMIT=20 each address has a fresh budget per route group.
 */

const ROOT = join(__dirname, '../..');
const MAIN = join(ROOT, 'dist/src/main.js');
const { interMs, fall } = checkTiming();
/** How long haproxy may take to mark a dead or draining instance down (its checks, then slack). */
const MARK_DOWN_MS = interMs * fall + 3000;
/** Above inter × fall, as deploy/haproxy.cfg tells operators. */
const DRAIN_DELAY_S = Math.ceil((interMs * fall) / 1000) + 2;
const DRAIN_TIMEOUT_S = 5;
const RATE_LIMIT = 20;
const VIRTUAL_USERS = 6;
const ADMIN = { email: 'fleet-admin@example.com', password: 'fleet admin: three instances, one database' };
const NAMES = ['app1', 'app2', 'app3'] as const;
type Name = (typeof NAMES)[number];

const skipped = redisSkipReason() ?? haproxySkipReason();
const describeFleet = skipped ? describe.skip : describe;

interface User {
  id: string;
  email: string;
  password: string;
}
interface Tokens {
  accessToken: string;
  refreshToken: string;
}
interface Cookie {
  cookie: string;
  csrfToken: string;
}

const urlOf = (server: ServerProcess) => `http://127.0.0.1:${server.port}`;

/** The statuses of a list of outcomes, counted. */
function countStatuses(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.status === undefined ? o.error! : String(o.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

describeFleet(
  skipped
    ? `a fleet of three instances behind haproxy: ${skipped}`
    : 'a fleet of three instances behind haproxy (deploy/haproxy.cfg), Redis and one database',
  () => {
    let built: { release(): Promise<void> } | undefined;
    let database: TestDatabase | undefined;
    let haproxy: Haproxy | undefined;
    let env: Record<string, string>;
    const apps = {} as Record<Name, ServerProcess>;
    const started: ServerProcess[] = [];
    const timings: string[] = [];
    const suiteStart = Date.now();

    async function launch(): Promise<ServerProcess> {
      const server = await launchServer({ main: MAIN, cwd: ROOT, env });
      started.push(server);
      await untilHealthy(server);
      return server;
    }

    beforeAll(async () => {
      built = await holdBuiltServer();
      timings.push(`build ${Date.now() - suiteStart} ms`);
      database = await createTestDatabase();
      env = {
        SESSION_SECRET: TEST_ENV.SESSION_SECRET,
        JWT_SECRET: TEST_ENV.JWT_SECRET,
        PASSWORD_PEPPER: TEST_ENV.PASSWORD_PEPPER,
        DATABASE_URL: database.url,
        // One key prefix for the whole fleet, as one deployment has.
        ...testRedisEnv()!,
        SESSION_STORE: 'redis',
        TRUST_PROXY: 'loopback',
        AUTH_RATE_LIMIT: String(RATE_LIMIT),
        API_RATE_LIMIT: TEST_ENV.API_RATE_LIMIT,
        LOG_LEVEL: 'warn',
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        SHUTDOWN_DELAY_SECONDS: String(DRAIN_DELAY_S),
        SHUTDOWN_TIMEOUT_SECONDS: String(DRAIN_TIMEOUT_S),
      };
      const launchedAt = Date.now();
      // Started together, as an orchestrator does (the admin bootstrap must not race).
      const servers = await Promise.all(NAMES.map(() => launch()));
      NAMES.forEach((name, i) => (apps[name] = servers[i]));
      timings.push(`three instances healthy ${Date.now() - launchedAt} ms`);
      haproxy = await Haproxy.start(NAMES.map((name) => ({ name, port: apps[name].port })));
    }, 600_000);

    afterAll(async () => {
      await haproxy?.stop();
      for (const server of started) if (server.process.exitCode === null) server.process.kill('SIGKILL');
      await Promise.all(started.map((server) => server.exited));
      closeClients();
      await database?.drop();
      await built?.release();
      timings.push(`whole file ${Date.now() - suiteStart} ms`);
      for (const [i, server] of started.entries())
        timings.push(
          `instance ${i + 1} logged: ${server.output().split('\n').filter(Boolean).length} lines at warn or above`,
        );
      console.log(`fleet timings:\n  ${timings.join('\n  ')}`);
    });

    afterEach(() => {
      // No instance logged an error (every 500 is one; a 503, health's while draining, is a warning).
      for (const server of started)
        expect(
          server
            .output()
            .split('\n')
            .filter((line) => /"level":[56]0\b/.test(line)),
        ).toEqual([]);
    });

    // --- direct calls to one instance ------------------------------------------------

    async function signUp(url: string, from: string): Promise<User> {
      const email = uniqueEmail('fleet');
      const reply = await send(url, '/api/auth/signup', { from, body: { email, password: PASSWORD } });
      expect(reply.status).toBe(201);
      return { id: reply.body.id as string, email, password: PASSWORD };
    }

    async function cookieLogin(url: string, user: { email: string; password: string }, from: string) {
      const reply = await send(url, '/api/auth/session', {
        from,
        body: { email: user.email, password: user.password },
      });
      expect(reply.status).toBe(200);
      return { cookie: cookieOf(reply), csrfToken: reply.body.csrfToken as string } satisfies Cookie;
    }

    async function tokenLogin(url: string, user: { email: string; password: string }, from: string) {
      const reply = await send(url, '/api/auth/token', {
        from,
        body: { email: user.email, password: user.password },
      });
      expect(reply.status).toBe(200);
      return reply.body as unknown as Tokens;
    }

    /** GET `path` on each named instance with the cookie and with the bearer token: their statuses. */
    async function statusesOn(
      names: readonly Name[],
      from: string,
      credentials: { cookie?: Cookie; tokens?: Tokens },
      path = '/api/auth/me',
    ): Promise<Record<string, Record<string, number>>> {
      const result: Record<string, Record<string, number>> = {};
      for (const name of names) {
        result[name] = {};
        if (credentials.cookie)
          result[name].cookie = (
            await send(urlOf(apps[name]), path, { from, cookie: credentials.cookie.cookie })
          ).status;
        if (credentials.tokens)
          result[name].bearer = (
            await send(urlOf(apps[name]), path, { from, bearer: credentials.tokens.accessToken })
          ).status;
      }
      return result;
    }

    const every = (names: readonly Name[], statuses: Record<string, number>) =>
      Object.fromEntries(names.map((name) => [name, statuses]));

    const others = (name: Name) => NAMES.filter((other) => other !== name);

    // --- the tests -------------------------------------------------------------------------

    it('a session or a token created through one instance works through every instance and through the balancer', async () => {
      const from = freshAddress();
      const user = await signUp(urlOf(apps.app1), from);
      const cookie = await cookieLogin(urlOf(apps.app1), user, from);
      const tokens = await tokenLogin(urlOf(apps.app2), user, from);

      expect(await statusesOn(NAMES, from, { cookie, tokens })).toEqual(
        every(NAMES, { cookie: 200, bearer: 200 }),
      );

      // Through the balancer, spread over all three by round robin.
      const before = haproxy!.requests().length;
      const answers = [];
      for (let i = 0; i < 6; i++) {
        const byCookie = await send(haproxy!.url, '/api/auth/me', { from, cookie: cookie.cookie });
        const byBearer = await send(haproxy!.url, '/api/auth/me', { from, bearer: tokens.accessToken });
        answers.push([byCookie.status, byCookie.body.authMethod, byCookie.body.email]);
        answers.push([byBearer.status, byBearer.body.authMethod, byBearer.body.email]);
      }
      expect(answers).toEqual(
        Array.from({ length: 6 }, () => [
          [200, 'session', user.email],
          [200, 'jwt', user.email],
        ]).flat(),
      );
      await sleep(100);
      const served = countBy(
        haproxy!
          .requests()
          .slice(before)
          .filter((r) => r.client === from),
        (r) => r.server,
      );
      expect(served).toEqual({ app1: 4, app2: 4, app3: 4 });

      // A refresh through one instance: the new access token works on another, the
      // new refresh token through the balancer.
      const refreshed = await send(urlOf(apps.app3), '/api/auth/token/refresh', {
        from,
        body: { refreshToken: tokens.refreshToken },
      });
      expect(refreshed.status).toBe(200);
      const pair = refreshed.body as unknown as Tokens;
      expect(await statusesOn(['app1'], from, { tokens: pair })).toEqual({ app1: { bearer: 200 } });
      const again = await send(haproxy!.url, '/api/auth/token/refresh', {
        from,
        body: { refreshToken: pair.refreshToken },
      });
      expect(again.status).toBe(200);
    });

    describe('a change made through one instance is refused by the others on their very next request', () => {
      it('revoking one sign-in (DELETE /api/sessions/:id)', async () => {
        const from = freshAddress();
        const user = await signUp(urlOf(apps.app1), from);
        const revoked = await cookieLogin(urlOf(apps.app1), user, from);
        const token = await tokenLogin(urlOf(apps.app2), user, from);
        const actor = await cookieLogin(urlOf(apps.app3), user, from);
        // Every instance has met both (and keeps them in memory).
        expect(await statusesOn(NAMES, from, { cookie: revoked, tokens: token })).toEqual(
          every(NAMES, { cookie: 200, bearer: 200 }),
        );

        const list = await send(urlOf(apps.app1), '/api/sessions', { from, cookie: actor.cookie });
        expect(list.status).toBe(200);
        const signIns = list.body as unknown as { id: string; method: string; current: boolean }[];
        const cookieId = signIns.find((s) => s.method === 'session' && !s.current)!.id;
        const tokenId = signIns.find((s) => s.method === 'jwt')!.id;

        const deleteCookie = await send(urlOf(apps.app1), `/api/sessions/${cookieId}`, {
          method: 'DELETE',
          from,
          cookie: actor.cookie,
          csrf: actor.csrfToken,
        });
        expect(deleteCookie.status).toBe(204);
        expect(await statusesOn(others('app1'), from, { cookie: revoked })).toEqual(
          every(others('app1'), { cookie: 401 }),
        );
        // Only that one: the actor's cookie and the token login still work everywhere.
        expect(await statusesOn(NAMES, from, { cookie: actor, tokens: token })).toEqual(
          every(NAMES, { cookie: 200, bearer: 200 }),
        );

        const deleteToken = await send(urlOf(apps.app2), `/api/sessions/${tokenId}`, {
          method: 'DELETE',
          from,
          cookie: actor.cookie,
          csrf: actor.csrfToken,
        });
        expect(deleteToken.status).toBe(204);
        expect(await statusesOn(others('app2'), from, { tokens: token })).toEqual(
          every(others('app2'), { bearer: 401 }),
        );
        const refresh = await send(urlOf(apps.app3), '/api/auth/token/refresh', {
          from,
          body: { refreshToken: token.refreshToken },
        });
        expect(refresh.status).toBe(401);
      });

      it('logout-all', async () => {
        const from = freshAddress();
        const user = await signUp(urlOf(apps.app1), from);
        const cookie = await cookieLogin(urlOf(apps.app1), user, from);
        const tokens = await tokenLogin(urlOf(apps.app3), user, from);
        expect(await statusesOn(NAMES, from, { cookie, tokens })).toEqual(
          every(NAMES, { cookie: 200, bearer: 200 }),
        );

        const out = await send(urlOf(apps.app2), '/api/auth/logout-all', {
          method: 'POST',
          from,
          bearer: tokens.accessToken,
        });
        expect(out.status).toBe(204);
        expect(await statusesOn(others('app2'), from, { cookie, tokens })).toEqual(
          every(others('app2'), { cookie: 401, bearer: 401 }),
        );
        const refresh = await send(urlOf(apps.app1), '/api/auth/token/refresh', {
          from,
          body: { refreshToken: tokens.refreshToken },
        });
        expect(refresh.status).toBe(401);
      });

      it('disabling a user (admin)', async () => {
        const from = freshAddress();
        const admin = await tokenLogin(urlOf(apps.app3), ADMIN, from);
        const user = await signUp(urlOf(apps.app1), from);
        const cookie = await cookieLogin(urlOf(apps.app1), user, from);
        const tokens = await tokenLogin(urlOf(apps.app2), user, from);
        expect(await statusesOn(NAMES, from, { cookie, tokens })).toEqual(
          every(NAMES, { cookie: 200, bearer: 200 }),
        );

        const disable = await send(urlOf(apps.app3), `/api/users/${user.id}`, {
          method: 'PATCH',
          from,
          bearer: admin.accessToken,
          body: { disabled: true },
        });
        expect({ status: disable.status, disabled: disable.body.disabled }).toEqual({
          status: 200,
          disabled: true,
        });
        expect(await statusesOn(others('app3'), from, { cookie, tokens })).toEqual(
          every(others('app3'), { cookie: 401, bearer: 401 }),
        );
      });

      it('a role change (admin): a demoted admin gets 403 on an admin route', async () => {
        const from = freshAddress();
        const admin = await tokenLogin(urlOf(apps.app1), ADMIN, from);
        const user = await signUp(urlOf(apps.app1), from);
        const cookie = await cookieLogin(urlOf(apps.app2), user, from);
        const tokens = await tokenLogin(urlOf(apps.app3), user, from);
        const setRoles = (roles: string[]) =>
          send(urlOf(apps.app1), `/api/users/${user.id}/roles`, {
            method: 'PUT',
            from,
            bearer: admin.accessToken,
            body: { roles },
          });
        // Not an admin yet: refused everywhere (and every instance has met both sign-ins).
        expect(await statusesOn(NAMES, from, { cookie, tokens }, '/api/users')).toEqual(
          every(NAMES, { cookie: 403, bearer: 403 }),
        );

        expect((await setRoles(['admin'])).status).toBe(200);
        expect(await statusesOn(others('app1'), from, { cookie, tokens }, '/api/users')).toEqual(
          every(others('app1'), { cookie: 200, bearer: 200 }),
        );

        expect((await setRoles([])).status).toBe(200);
        expect(await statusesOn(others('app1'), from, { cookie, tokens }, '/api/users')).toEqual(
          every(others('app1'), { cookie: 403, bearer: 403 }),
        );
        // Demoted, not signed out.
        expect(await statusesOn(NAMES, from, { cookie, tokens })).toEqual(
          every(NAMES, { cookie: 200, bearer: 200 }),
        );
      });

      it('a spent refresh token replayed (reuse detection ends the login)', async () => {
        const from = freshAddress();
        const user = await signUp(urlOf(apps.app1), from);
        const first = await tokenLogin(urlOf(apps.app1), user, from);
        const rotated = await send(urlOf(apps.app2), '/api/auth/token/refresh', {
          from,
          body: { refreshToken: first.refreshToken },
        });
        expect(rotated.status).toBe(200);
        const current = rotated.body as unknown as Tokens;
        expect(await statusesOn(NAMES, from, { tokens: current })).toEqual(every(NAMES, { bearer: 200 }));

        const replay = await send(urlOf(apps.app3), '/api/auth/token/refresh', {
          from,
          body: { refreshToken: first.refreshToken },
        });
        expect(replay.status).toBe(401);
        expect(await statusesOn(others('app3'), from, { tokens: current })).toEqual(
          every(others('app3'), { bearer: 401 }),
        );
      });
    });

    it(`${RATE_LIMIT + 5} logins from one client address, spread over the three instances, are throttled as if they hit one`, async () => {
      const from = freshAddress();
      const user = await signUp(urlOf(apps.app1), freshAddress());
      const before = haproxy!.requests().length;
      const replies = [];
      // Five at a time; each with a forged X-Forwarded-For, which the balancer drops.
      for (let batch = 0; batch < 5; batch++)
        replies.push(
          ...(await Promise.all(
            Array.from({ length: 5 }, (_, i) =>
              send(haproxy!.url, '/api/auth/session', {
                from,
                body: { email: user.email, password: user.password },
                headers: { 'X-Forwarded-For': `203.0.113.${batch * 5 + i + 1}` },
              }),
            ),
          )),
        );
      expect(countBy(replies, (r) => String(r.status))).toEqual({ 200: RATE_LIMIT, 429: 5 });
      for (const reply of replies.filter((r) => r.status === 429))
        expect(Number(reply.headers['retry-after'])).toBeGreaterThanOrEqual(1);

      await sleep(100);
      const logged = haproxy!
        .requests()
        .slice(before)
        .filter((r) => r.client === from);
      const served = countBy(logged, (r) => r.server);
      const throttledBy = countBy(
        logged.filter((r) => r.status === 429),
        (r) => r.server,
      );
      timings.push(
        `throttling: 25 logins served ${JSON.stringify(served)}, the 429s by ${JSON.stringify(throttledBy)}`,
      );
      expect(logged).toHaveLength(25);
      for (const name of NAMES) expect(served[name]).toBeGreaterThanOrEqual(5);
    });

    let survivors: { cookie: string; accessToken: string } | undefined;

    it('kill -9 of one instance during a steady mixed load loses no committed sign-in; the others keep answering', async () => {
      const from = freshAddress();
      const users = [];
      for (let i = 0; i < VIRTUAL_USERS; i++) users.push(await signUp(urlOf(apps.app2), from));
      const loadStart = Date.now();
      const load = MixedLoad.start({ baseUrl: haproxy!.url, users });
      await sleep(3000);

      const killedAt = Date.now();
      apps.app1.process.kill('SIGKILL');
      await apps.app1.exited;
      const down = await haproxy!.untilState('app1', 'DOWN', killedAt, MARK_DOWN_MS);
      await sleep(3000);
      await load.stop();
      const stoppedAt = Date.now();

      const outcomes = load.outcomes;
      const failures = load.failures();
      const inDoubt = load.tokenSignIns().filter((s) => s.inDoubt);
      const logged = haproxy!.requests().filter((r) => r.at >= loadStart);
      const loginPaths = ['/api/auth/session', '/api/auth/token'];
      const signInsByKilled = logged.filter(
        (r) => r.server === 'app1' && r.status === 200 && loginPaths.includes(r.path) && r.at < killedAt,
      ).length;
      const check = await checkSignIns(haproxy!.url, load.signIns);
      timings.push(
        [
          `kill -9: ${outcomes.length} requests by ${VIRTUAL_USERS} virtual users over ${stoppedAt - loadStart} ms: ${JSON.stringify(countStatuses(outcomes))}`,
          `  by operation ${JSON.stringify(countBy(outcomes, (o) => o.op))}`,
          `  haproxy marked app1 down ${down.at - killedAt} ms after the kill`,
          `  failed: ${JSON.stringify(failures.map((f) => ({ op: f.op, status: f.status ?? f.error, sent: f.sentAt - killedAt, done: f.doneAt - killedAt })))}`,
          `  retried on another instance by haproxy: ${logged.filter((r) => r.redispatched).length}`,
          `  ${load.signIns.length} sign-ins received (${signInsByKilled} made by app1 before the kill), ${check.checked} checked afterwards, ${inDoubt.length} refreshes in doubt`,
        ].join('\n  '),
      );

      // No answer was a 500, a 401 or a 429: nothing but 200 or a gateway error.
      expect(
        outcomes.filter(
          (o) => o.status !== undefined && o.status !== 200 && !GATEWAY_ERRORS.includes(o.status),
        ),
      ).toEqual([]);
      // What failed was in flight at the kill: nothing before it, nothing once app1 was marked down.
      expect(failures.filter((f) => f.doneAt < killedAt || f.sentAt > down.at)).toEqual([]);
      // Until haproxy marks app1 down it may still pass it a request over a connection
      // it already had open (not retried: the request was sent), so a virtual user can
      // lose two in that window (seen once in CI: 7 for 6 users); more would be a fault.
      expect(failures.length).toBeLessThanOrEqual(2 * VIRTUAL_USERS);
      expect(inDoubt.length).toBeLessThanOrEqual(VIRTUAL_USERS);
      expect(down.at - killedAt).toBeLessThanOrEqual(MARK_DOWN_MS);
      // The other two kept answering every virtual user after the kill.
      for (let vu = 0; vu < VIRTUAL_USERS; vu++)
        expect(
          outcomes.filter((o) => o.vu === vu && o.status === 200 && o.sentAt > down.at).length,
        ).toBeGreaterThan(5);
      expect(new Set(logged.filter((r) => r.at > down.at).map((r) => r.server))).toEqual(
        new Set(['app2', 'app3']),
      );
      // Until then, what haproxy sent to app1 was refused and went to another instance.
      expect(logged.filter((r) => r.redispatched && r.at > killedAt).length).toBeGreaterThan(0);

      // Every sign-in the client got a 200 for still works (some were made by app1).
      expect(signInsByKilled).toBeGreaterThan(0);
      expect(load.cookieSignIns().length).toBeGreaterThanOrEqual(VIRTUAL_USERS);
      expect(load.tokenSignIns().length).toBeGreaterThanOrEqual(VIRTUAL_USERS);
      expect(check.failed.map((f) => ({ kind: f.signIn.kind, vu: f.signIn.vu, status: f.status }))).toEqual(
        [],
      );

      const cookie = load.cookieSignIns()[0];
      const token = load.tokenSignIns().find((s) => !s.inDoubt)!;
      survivors = { cookie: cookie.cookie, accessToken: token.accessToken };
    }, 60_000);

    it('an instance started later serves existing sessions and tokens on its very first request', async () => {
      expect(survivors).toBeDefined();
      const startedAt = Date.now();
      const late = await launch();
      timings.push(`a fourth instance healthy ${Date.now() - startedAt} ms`);
      const from = freshAddress();
      const byCookie = await send(urlOf(late), '/api/auth/me', { from, cookie: survivors!.cookie });
      const byBearer = await send(urlOf(late), '/api/auth/me', { from, bearer: survivors!.accessToken });
      expect([byCookie.status, byCookie.body.authMethod]).toEqual([200, 'session']);
      expect([byBearer.status, byBearer.body.authMethod]).toEqual([200, 'jwt']);
      late.process.kill('SIGINT');
      expect(await late.exited).toBe(0);
    }, 60_000);

    it(`a SIGTERM drain through the balancer (SHUTDOWN_DELAY_SECONDS=${DRAIN_DELAY_S} > inter × fall) fails no request`, async () => {
      const from = freshAddress();
      const users = [];
      for (let i = 0; i < VIRTUAL_USERS; i++) users.push(await signUp(urlOf(apps.app3), from));
      const loadStart = Date.now();
      const load = MixedLoad.start({ baseUrl: haproxy!.url, users });
      await sleep(2000);

      const signalledAt = Date.now();
      apps.app2.process.kill('SIGTERM');
      const exited = apps.app2.exited.then((code) => ({ code, at: Date.now() }));
      const down = await haproxy!.untilState('app2', 'DOWN', signalledAt, MARK_DOWN_MS);
      const exit = await exited;
      await sleep(1500);
      await load.stop();

      const outcomes = load.outcomes;
      const logged = haproxy!.requests().filter((r) => r.at >= loadStart);
      const servedWhileDraining = logged.filter((r) => r.server === 'app2' && r.at > signalledAt);
      const check = await checkSignIns(haproxy!.url, load.signIns);
      timings.push(
        [
          `drain: ${outcomes.length} requests over ${Date.now() - loadStart} ms: ${JSON.stringify(countStatuses(outcomes))}`,
          `  app2 marked down ${down.at - signalledAt} ms after SIGTERM, served ${servedWhileDraining.length} requests after it (${JSON.stringify(countBy(servedWhileDraining, (r) => String(r.status)))}), exited with ${exit.code} after ${exit.at - signalledAt} ms`,
          `  ${load.signIns.length} sign-ins, ${check.checked} checked afterwards`,
        ].join('\n  '),
      );

      expect(load.failures()).toEqual([]);
      expect(check.failed.map((f) => ({ kind: f.signIn.kind, status: f.status }))).toEqual([]);
      // It served what still came (the balancer had not noticed yet) ...
      expect(servedWhileDraining.length).toBeGreaterThan(0);
      // ... and haproxy never met its closed listener: no connection retried elsewhere
      // (with SHUTDOWN_DELAY_SECONDS=0 there are, until the checks notice).
      expect(
        countBy(
          logged.filter((r) => r.redispatched || r.retries > 0),
          (r) => `${r.method} ${r.path} retried from ${r.server}`,
        ),
      ).toEqual({});
      expect(down.at - signalledAt).toBeLessThan(DRAIN_DELAY_S * 1000);
      // It kept serving for the delay, then exited cleanly within delay + timeout.
      expect(exit.code).toBe(0);
      expect(exit.at - signalledAt).toBeGreaterThanOrEqual(DRAIN_DELAY_S * 1000 - 200);
      expect(exit.at - signalledAt).toBeLessThan((DRAIN_DELAY_S + DRAIN_TIMEOUT_S) * 1000 + 5000);
    }, 60_000);
  },
);
