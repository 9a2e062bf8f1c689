import type { Response, Test } from 'supertest';
import { DataSource } from 'typeorm';
import { UsersService } from '../../src/users/users.service';
import {
  PASSWORD,
  sessionCookie,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  type CookieLogin,
  type TokenLogin,
} from '../support/auth-helpers';
import { describeFailure, eventually, outcome } from '../support/eventually';
import { TcpProxy } from '../support/tcp-proxy';
import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/*
 * An instance must not trust its caches on the word of an invalidation feed that
 * has gone silent. B reaches PostgreSQL through a proxy that freezes (no byte
 * passes, no socket closes, as behind a NAT that dropped its flows); a sign-out and
 * a demotion made on A meanwhile never reach B as notifications, so only B noticing
 * the silent feed (INVALIDATION_FEED_TIMEOUT_SECONDS) keeps it from answering 200
 * from memory. CACHE_MAX_AGE_SECONDS is the backstop when a notification is lost
 * while the feed looks healthy.
 */

const FEED_TIMEOUT_S = 2;
const QUERY_TIMEOUT_S = 2;
/** Timers are not exact: a request sent this much after the bound may still find the feed trusted. */
const TIMER_SLACK_MS = 500;
/** B may serve from memory until the feed has been silent this long, never after. */
const TRUST_BOUND_MS = FEED_TIMEOUT_S * 1000 + TIMER_SLACK_MS;
/** Bound + query timeout + margin: by then B answers from what it can (not) read. */
const POLL_FOR_MS = 8000;
/** Longer than a query timeout, so that a 503 has time to arrive; shorter than "hanging". */
const REQUEST_TIMEOUT_MS = QUERY_TIMEOUT_S * 1000 + 3000;
const REFUSALS = [401, 403, 503];

interface Answer {
  /** When the request was sent, in ms after the freeze. */
  at: number;
  /** The HTTP status, or how the request failed without one ("timeout"). */
  status: number | string;
}

/** Sends `send` again and again until `until`, recording when each request left and what came back. */
async function pollUntil(send: () => Test, frozenAt: number, until: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  while (Date.now() < until) {
    const at = Date.now() - frozenAt;
    try {
      const res = await send().timeout(REQUEST_TIMEOUT_MS);
      answers.push({ at, status: res.status });
    } catch (error) {
      answers.push({ at, status: describeFailure(error) });
    }
    await sleep(50);
  }
  return answers;
}

/** Runs of one status, "200 × 41 from 3 to 2105 ms", so that a failure reads at a glance. */
function summarise(answers: Answer[]): string[] {
  const runs: { status: number | string; count: number; from: number; to: number }[] = [];
  for (const { at, status } of answers) {
    const run = runs.at(-1);
    if (run?.status === status) {
      run.count++;
      run.to = at;
    } else runs.push({ status, count: 1, from: at, to: at });
  }
  return runs.map(({ status, count, from, to }) => `${status} × ${count} sent from ${from} to ${to} ms`);
}

/** No 200 once the bound has passed, and the last answer is one of `finals`. */
function expectRefusedWithinBound(answers: Answer[], finals = REFUSALS) {
  const trustedTooLong = answers.filter((answer) => answer.at >= TRUST_BOUND_MS && answer.status === 200);
  const last = answers.at(-1)?.status;
  const report = { answers: summarise(answers), last, expectedLastOneOf: finals };
  expect({
    ...report,
    trustedTooLong: trustedTooLong.length,
    lastIsExpected: finals.includes(last as number),
  }).toEqual({ ...report, trustedTooLong: 0, lastIsExpected: true });
}

function expectUnauthorized(res: Response) {
  expect(outcome(res)).toEqual({
    status: 401,
    body: { statusCode: 401, error: 'Unauthorized', message: expect.any(String) },
  });
}

const bearer = (on: TestApp, token: string, path = '/api/auth/me') =>
  on.http().get(path).set('Authorization', `Bearer ${token}`);
const cookie = (on: TestApp, value: string, path = '/api/auth/me') =>
  on.http().get(path).set('Cookie', value);

async function expectOk(res: PromiseLike<Response>) {
  expect(outcome(await res)).toMatchObject({ status: 200 });
}

describe('an instance whose invalidation feed goes silent', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startApp(database.url);
  });
  // A B of its own per test, so that one left frozen by a failure does not fail the next.
  beforeEach(async () => {
    proxy = TcpProxy.forUrl(database.url);
    await proxy.start();
    b = await startApp(proxy.route(database.url), {
      INVALIDATION_FEED_TIMEOUT_SECONDS: String(FEED_TIMEOUT_S),
      DATABASE_QUERY_TIMEOUT_SECONDS: String(QUERY_TIMEOUT_S),
      // Far longer than the test: only noticing the silent feed can save B.
      CACHE_MAX_AGE_SECONDS: '3600',
    });
  });
  afterEach(async () => {
    // First, so that B's connections end instead of waiting on a frozen path.
    await proxy?.stop();
    await b?.close();
  });
  afterAll(async () => {
    await a?.close();
    await database?.drop();
  });

  /** A member's cookie session and an admin's (X's) bearer login, each used on B, and another admin. */
  async function signInsUsedOnB() {
    const users = a.app.get(UsersService);
    const root = await signUp(a.http);
    await users.grantRole(root.id, 'admin');
    const x = await signUp(a.http);
    await users.grantRole(x.id, 'admin');
    const rootToken = await tokenLogin(a.http, root);
    const xToken: TokenLogin = await tokenLogin(a.http, x);
    const member = await signUp(a.http);
    const session: CookieLogin = await sessionLogin(a.http, member);
    // So that B holds the session, the login and both users in memory.
    await expectOk(cookie(b, session.cookie));
    await expectOk(bearer(b, xToken.accessToken, '/api/roles'));
    return { rootToken, x, xToken, member, session };
  }

  /**
   * With B's link frozen from `frozenAt`: the member signs out and X is demoted on A,
   * then B is asked for both until the poll ends.
   */
  async function signOutAndDemoteOnA(
    { rootToken, x, xToken, session }: Awaited<ReturnType<typeof signInsUsedOnB>>,
    frozenAt: number,
  ) {
    const signOut = await a
      .http()
      .delete('/api/auth/session')
      .set('Cookie', session.cookie)
      .set('X-CSRF-Token', session.csrfToken);
    expect(outcome(signOut)).toEqual({ status: 204, body: {} });
    const demote = await a
      .http()
      .put(`/api/users/${x.id}/roles`)
      .set('Authorization', `Bearer ${rootToken.accessToken}`)
      .send({ roles: ['user'] });
    expect(outcome(demote)).toMatchObject({ status: 200, body: { id: x.id } });
    expect((await cookie(a, session.cookie)).status).toBe(401);
    expect((await bearer(a, xToken.accessToken, '/api/roles')).status).toBe(403);

    const until = frozenAt + POLL_FOR_MS;
    const [sessionAnswers, adminAnswers] = await Promise.all([
      pollUntil(() => cookie(b, session.cookie), frozenAt, until),
      pollUntil(() => bearer(b, xToken.accessToken, '/api/roles'), frozenAt, until),
    ]);
    return { sessionAnswers, adminAnswers };
  }

  async function expectFreshLoginOnB(member: { id: string; email: string }) {
    const fresh = await b.http().post('/api/auth/session').send({ email: member.email, password: PASSWORD });
    expect(outcome(fresh)).toMatchObject({ status: 200, body: { csrfToken: expect.any(String) } });
    const freshCookie = sessionCookie(fresh.headers['set-cookie']);
    expect(outcome(await cookie(b, freshCookie))).toMatchObject({ status: 200, body: { id: member.id } });
  }

  it('path gone dark: B refuses a session revoked and an admin demoted on A within the bound, never 200; recovers once the path is back', async () => {
    const signIns = await signInsUsedOnB();
    const { x, xToken, member, session } = signIns;

    const frozenAt = Date.now();
    proxy.freeze();
    const { sessionAnswers, adminAnswers } = await signOutAndDemoteOnA(signIns, frozenAt);
    expectRefusedWithinBound(sessionAnswers);
    // GET /api/roles reads the database, so a dark path alone makes it a 503: the
    // next test is the one where the demotion shows.
    expectRefusedWithinBound(adminAnswers);

    proxy.thaw();
    const within = 10_000;
    expectUnauthorized(
      (await eventually(() => cookie(b, session.cookie).timeout(REQUEST_TIMEOUT_MS), 401, within)).res,
    );
    await eventually(
      () => bearer(b, xToken.accessToken, '/api/roles').timeout(REQUEST_TIMEOUT_MS),
      403,
      within,
    );
    // Demoted, not signed out: X's login still works where no admin is needed.
    expect(outcome(await bearer(b, xToken.accessToken))).toMatchObject({ status: 200, body: { id: x.id } });
    await expectFreshLoginOnB(member);
  }, 60_000);

  it('open connections dropped (a NAT that lost its flows; new ones work): B answers 401 and 403 within the bound, never 200', async () => {
    const signIns = await signInsUsedOnB();

    const frozenAt = Date.now();
    proxy.freeze({ newConnections: 'forward' });
    const { sessionAnswers, adminAnswers } = await signOutAndDemoteOnA(signIns, frozenAt);
    // B can reach the database over new connections: it must answer from there.
    expectRefusedWithinBound(sessionAnswers, [401]);
    expectRefusedWithinBound(adminAnswers, [403]);
    await expectFreshLoginOnB(signIns.member);
  }, 60_000);
});

describe('the maximum age of a cached entry', () => {
  let database: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await startApp(database.url, { CACHE_MAX_AGE_SECONDS: '1' });
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('a user disabled without a notification (a lost one) is refused on every sign-in within ~3 s', async () => {
    const user = await signUp(app.http);
    const tokens = await tokenLogin(app.http, user);
    const session = await sessionLogin(app.http, user);
    await expectOk(bearer(app, tokens.accessToken));
    await expectOk(cookie(app, session.cookie));

    // Plain SQL: no NOTIFY, so no cache hears of it.
    await app.app.get(DataSource).query('UPDATE users SET disabled = true WHERE id = $1', [user.id]);

    const [byToken, bySession] = await Promise.all([
      eventually(() => bearer(app, tokens.accessToken), 401, 3000),
      eventually(() => cookie(app, session.cookie), 401, 3000),
    ]);
    expectUnauthorized(byToken.res);
    expectUnauthorized(bySession.res);
  });
});
