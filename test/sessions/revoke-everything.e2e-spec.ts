import { Client, type Notification } from 'pg';
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
  type SignedUp,
  type TokenLogin,
} from '../support/auth-helpers';
import { outcome } from '../support/eventually';
import { describeEachSessionStore, SessionStorage } from '../support/session-stores';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * "Revoke everything" (password change, logout-all, an admin's revoke-all, disable)
 * leaves no sign-in behind, including one created by a login that read the user
 * before the change and finishes after it. The logins race the change for real:
 * bcrypt at cost 10 keeps each of them in flight for tens of milliseconds, during
 * which the change commits.
 */

const NEW_PASSWORD = 'a different passphrase';
const LOGINS = 20;
/** Below BCRYPT_MAX_QUEUE (64), so that no login is turned away with 503. */
const MAX_LOGINS = 40;
const ENV = {
  BCRYPT_COST: '10',
  // 20 logins of one account at once are 20 attempts being checked: not a brute force.
  LOGIN_MAX_FAILURES: '1000',
};

type SignIn = { kind: 'token'; tokens: TokenLogin } | { kind: 'session'; cookie: string };

interface LoginResult {
  kind: SignIn['kind'];
  /** ms after the round began */
  sentAt: number;
  answeredAt: number;
  res: Response;
}

interface Round {
  logins: LoginResult[];
  action: { sentAt: number; answeredAt: number; res: Response };
}

/** When each request of a round leaves, in ms after the round begins. */
interface Schedule {
  actionAtMs: number;
  loginAtMs: (index: number) => number;
  /** Go on sending logins (up to MAX_LOGINS) until the action has answered. */
  untilAnswered?: boolean;
}

describeEachSessionStore('revoking everything wins against logins in flight', (store) => {
  let ctx: TestContext;
  let admin: TokenLogin;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({ ...ENV, ...store.env });
    const root = await signUp(ctx.http);
    await ctx.app.get(UsersService).grantRole(root.id, 'admin');
    admin = await tokenLogin(ctx.http, root);
  });
  afterAll(() => ctx?.close());

  const bearer = (token: string) => ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token}`);
  const byAdmin = (test: Test) => test.set('Authorization', `Bearer ${admin.accessToken}`);

  /** A fresh user and a token login of theirs (the caller), with how long that login took. */
  async function userWithCaller(): Promise<{ user: SignedUp; caller: TokenLogin; loginMs: number }> {
    const user = await signUp(ctx.http);
    const started = Date.now();
    const caller = await tokenLogin(ctx.http, user);
    return { user, caller, loginMs: Date.now() - started };
  }

  /**
   * Logins with `password` (token and cookie in turn) and `action`, each sent on its
   * schedule: 20 logins, or more while the action is unanswered when the schedule says so.
   */
  async function race(
    user: SignedUp,
    password: string,
    action: () => Test,
    schedule: Schedule,
  ): Promise<Round> {
    const start = Date.now();
    const since = () => Date.now() - start;
    let answered = false;
    const sent = (async () => {
      await sleep(schedule.actionAtMs);
      const sentAt = since();
      const res = await action();
      answered = true;
      return { sentAt, answeredAt: since(), res };
    })();
    const login = async (kind: SignIn['kind']): Promise<LoginResult> => {
      const sentAt = since();
      const res = await ctx.http().post(`/api/auth/${kind}`).send({ email: user.email, password });
      return { kind, sentAt, answeredAt: since(), res };
    };
    const logins: Promise<LoginResult>[] = [];
    for (
      let index = 0;
      index < MAX_LOGINS && (index < LOGINS || (schedule.untilAnswered && !answered));
      index++
    ) {
      const wait = schedule.loginAtMs(index) - since();
      if (wait > 0) await sleep(wait);
      logins.push(login(index % 2 === 0 ? 'token' : 'session'));
    }
    return { logins: await Promise.all(logins), action: await sent };
  }

  /** Each login was judged (200 or 401, never an error). */
  function expectJudged({ logins }: Round) {
    const unexpected = logins.filter(({ res }) => res.status !== 200 && res.status !== 401);
    expect(unexpected.map(({ res }) => outcome(res))).toEqual([]);
  }

  /** The round did race: some logins were sent before the action answered and answered after it. */
  function raced({ logins, action }: Round): boolean {
    return logins.some((login) => login.sentAt < action.answeredAt && login.answeredAt > action.answeredAt);
  }

  /** Each login was judged, and the round did race. */
  function expectJudgedWhileInFlight(round: Round) {
    expectJudged(round);
    expect(raced(round)).toBe(true);
  }

  function signInsOf({ logins }: Round): SignIn[] {
    return logins
      .filter(({ res }) => res.status === 200)
      .map(({ kind, res }) =>
        kind === 'token'
          ? { kind, tokens: res.body as TokenLogin }
          : { kind, cookie: sessionCookie(res.headers['set-cookie']) },
      );
  }

  /** No cookie session of the user is left in the store (checked before any request could destroy one on use). */
  async function expectNoSessionStored(user: SignedUp) {
    // A login that read the user after the change rightly keeps its session (expectNoneWorks
    // says whether any did); what must not be left is one made from the old credentials.
    const [{ version }] = await ctx.app
      .get(DataSource)
      .query<{ version: number }[]>('SELECT credential_version AS version FROM users WHERE id = $1', [
        user.id,
      ]);
    const stored = await new SessionStorage(ctx.app, store.name).all();
    expect(
      stored.filter((record) => record.userId === user.id && record.credentialVersion < version),
    ).toEqual([]);
  }

  /** Every sign-in is refused: access token and cookie on /me, refresh token on refresh. */
  async function expectNoneWorks(signIns: SignIn[]) {
    const working: Record<string, number>[] = [];
    for (const [index, signIn] of signIns.entries()) {
      if (signIn.kind === 'session') {
        const me = await ctx.http().get('/api/auth/me').set('Cookie', signIn.cookie);
        if (me.status !== 401) working.push({ index, cookie: me.status });
        continue;
      }
      const me = await bearer(signIn.tokens.accessToken);
      const refresh = await ctx
        .http()
        .post('/api/auth/token/refresh')
        .send({ refreshToken: signIn.tokens.refreshToken });
      if (me.status !== 401 || refresh.status !== 401)
        working.push({ index, accessToken: me.status, refreshToken: refresh.status });
    }
    expect({ of: signIns.length, working }).toEqual({ of: signIns.length, working: [] });
  }

  it('a password change by bearer leaves none of the racing logins with the old password working', async () => {
    // Logins follow the change a fraction of a login apart. How many overlap it depends
    // on how busy the machine is (bcrypt turns are first come, first served, so logins
    // sent too fast all queue ahead of the change's hash and finish before it): rounds
    // with several spacings are played until three have raced, and every round's
    // sign-ins must be dead all the same.
    const spacings = [0.1, 0.25, 0.4, 0.6];
    let raceCount = 0;
    for (let attempt = 0; attempt < 12 && raceCount < 3; attempt++) {
      const spacing = spacings[attempt % spacings.length];
      const { user, caller, loginMs } = await userWithCaller();
      const round = await race(
        user,
        PASSWORD,
        () =>
          ctx
            .http()
            .post('/api/auth/password')
            .set('Authorization', `Bearer ${caller.accessToken}`)
            .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
        { actionAtMs: 0, loginAtMs: (index) => loginMs * index * spacing, untilAnswered: true },
      );
      expect(outcome(round.action.res)).toEqual({ status: 204, body: {} });
      expectJudged(round);
      if (raced(round)) raceCount++;

      await expectNoSessionStored(user);
      await expectNoneWorks(signInsOf(round));
      // The caller's own login stays (the contract), and the new password signs in.
      expect(outcome(await bearer(caller.accessToken))).toMatchObject({ status: 200, body: { id: user.id } });
      await tokenLogin(ctx.http, { email: user.email, password: NEW_PASSWORD });
    }
    expect(raceCount).toBe(3);
  }, 240_000);

  interface Everything {
    name: string;
    act: (user: SignedUp, caller: TokenLogin) => Test;
    status: number;
    /** What must happen before the sign-ins are checked (a disabled user is enabled again). */
    after?: (user: SignedUp) => Promise<void>;
  }

  const everything: Everything[] = [
    {
      name: 'logout-all by the user',
      act: (_, caller) =>
        ctx.http().post('/api/auth/logout-all').set('Authorization', `Bearer ${caller.accessToken}`),
      status: 204,
    },
    {
      name: "an admin's revoke-all",
      act: (user) => byAdmin(ctx.http().delete(`/api/users/${user.id}/sessions`)),
      status: 204,
    },
    {
      name: 'disabling the user',
      act: (user) => byAdmin(ctx.http().patch(`/api/users/${user.id}`)).send({ disabled: true }),
      status: 200,
      // Re-enabling must not bring back a sign-in that raced the disable.
      after: async (user) => {
        const enable = await byAdmin(ctx.http().patch(`/api/users/${user.id}`)).send({ disabled: false });
        expect(outcome(enable)).toMatchObject({ status: 200, body: { disabled: false } });
      },
    },
  ];

  it.each(everything)(
    '$name leaves none of 20 logins in flight working, the caller included; a later login works',
    async ({ act, status, after }) => {
      const { user, caller, loginMs } = await userWithCaller();
      // All 20 read the user at once, long before the action; most of them are still
      // waiting for their bcrypt turn when it commits, and create their sign-in after it.
      // (A login that read the user after the action would rightly work: none does here.)
      const round = await race(user, PASSWORD, () => act(user, caller), {
        actionAtMs: Math.max(300, loginMs * 2),
        loginAtMs: () => 0,
      });
      expect(round.action.res.status).toBe(status);
      expectJudgedWhileInFlight(round);
      await expectNoSessionStored(user);
      await after?.(user);

      await expectNoneWorks([{ kind: 'token', tokens: caller }, ...signInsOf(round)]);
      const later = await tokenLogin(ctx.http, user);
      expect(outcome(await bearer(later.accessToken))).toMatchObject({ status: 200, body: { id: user.id } });
    },
    120_000,
  );

  it('a user with 70,000 token logins logs out everywhere: every one revoked, with a handful of notifications', async () => {
    const user = await signUp(ctx.http);
    const dataSource = ctx.app.get(DataSource);
    const caller = await tokenLogin(ctx.http, user);
    const session = await sessionLogin(ctx.http, user);
    // After the sign-ins: a sign-in ends whatever is beyond the user's 100 live ones.
    await dataSource.query(
      `INSERT INTO token_logins (user_id, expires_at)
       SELECT $1, now() + interval '30 days' FROM generate_series(1, 70000)`,
      [user.id],
    );
    expect((await bearer(caller.accessToken)).status).toBe(200);

    const listener = new Client({ connectionString: ctx.database.url });
    await listener.connect();
    const notifications: Notification[] = [];
    try {
      listener.on('notification', (message) => notifications.push(message));
      await listener.query('LISTEN auth_invalidation');

      const res = await ctx
        .http()
        .post('/api/auth/logout-all')
        .set('Authorization', `Bearer ${caller.accessToken}`);
      expect(outcome(res)).toEqual({ status: 204, body: {} });
      await sleep(500);
    } finally {
      await listener.end();
    }
    // One per user (or per kind of sign-in), not one per sign-in; at least one, or other instances never hear.
    expect(notifications.length).toBeGreaterThanOrEqual(1);
    expect(notifications.length).toBeLessThanOrEqual(3);

    const [{ live }] = await dataSource.query<{ live: number }[]>(
      'SELECT count(*)::int AS live FROM token_logins WHERE user_id = $1 AND revoked_at IS NULL',
      [user.id],
    );
    expect(live).toBe(0);
    expect((await bearer(caller.accessToken)).status).toBe(401);
    const refresh = await ctx
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: caller.refreshToken });
    expect(refresh.status).toBe(401);
    expect((await ctx.http().get('/api/auth/me').set('Cookie', session.cookie)).status).toBe(401);
  }, 120_000);
});
