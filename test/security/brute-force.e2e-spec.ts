import { PASSWORD, signUp, sleep, uniqueEmail } from '../support/auth-helpers';
import { describeEachSessionStore, isolatedEnv } from '../support/session-stores';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

const LOCKED = 'Too many failed sign-in attempts for this account; try again later';

describe('per-account lockout', () => {
  let ctx: TestContext;
  beforeAll(
    async () =>
      (ctx = await startAppOnFreshDatabase({ LOGIN_MAX_FAILURES: '3', LOGIN_FAILURE_WINDOW_SECONDS: '3' })),
  );
  afterAll(() => ctx.close());

  const attempt = (path: 'session' | 'token', email: string, password: string) =>
    ctx.http().post(`/api/auth/${path}`).send({ email, password });

  it('locks an account after N failures, for both methods, right password included, until the window ends', async () => {
    const user = await signUp(ctx.http);
    for (let i = 0; i < 3; i++)
      await attempt(i % 2 ? 'session' : 'token', user.email, 'wrong password!').expect(401);

    const locked = await attempt('token', user.email, PASSWORD).expect(429);
    expect(locked.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: LOCKED });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(3);
    await attempt('session', user.email, PASSWORD).expect(429);
    await attempt('session', ` ${user.email.toUpperCase()} `, PASSWORD).expect(429);

    await sleep(3200);
    await attempt('token', user.email, PASSWORD).expect(200);
  });

  it('counts failures, not successes', async () => {
    const user = await signUp(ctx.http);
    for (let i = 0; i < 6; i++) await attempt('token', user.email, PASSWORD).expect(200);
    await attempt('token', user.email, 'wrong password!').expect(401);
    await attempt('token', user.email, 'wrong password!').expect(401);
    await attempt('session', user.email, PASSWORD).expect(200);
  });

  it('leaves other accounts alone', async () => {
    const victim = await signUp(ctx.http);
    const bystander = await signUp(ctx.http);
    for (let i = 0; i < 4; i++) await attempt('token', victim.email, 'wrong password!');
    await attempt('token', bystander.email, PASSWORD).expect(200);
  });

  it('locks an unknown email exactly like a real one, so the lock tells nothing about existence', async () => {
    const ghost = uniqueEmail('ghost');
    for (let i = 0; i < 3; i++) await attempt('token', ghost, 'wrong password!').expect(401);
    const res = await attempt('token', ghost, 'wrong password!').expect(429);
    expect(res.body.message).toBe(LOCKED);
  });

  it('cannot be raced: of a parallel burst of 40 wrong passwords, at most N are checked', async () => {
    const user = await signUp(ctx.http);
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => attempt('token', user.email, 'wrong password!')),
    );
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(37);
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
    await attempt('token', user.email, PASSWORD).expect(429);
  });
});

// The postgres case has no Redis: each instance counts in memory. The redis case counts in
// Redis (REDIS_URL), each test under a key prefix of its own so that no count carries over.
describeEachSessionStore('per-IP rate limits', (store) => {
  it('limits each sensitive route group per client IP, shared by /session and /token, with Retry-After', async () => {
    const ctx = await startAppOnFreshDatabase({
      ...isolatedEnv(store),
      AUTH_RATE_LIMIT: '4',
      AUTH_RATE_WINDOW_SECONDS: '60',
    });
    try {
      const user = await signUp(ctx.http);
      const login = (path: string, forwardedFor?: string) => {
        const req = ctx.http().post(`/api/auth/${path}`).send({ email: user.email, password: PASSWORD });
        return forwardedFor ? req.set('X-Forwarded-For', forwardedFor) : req;
      };
      await login('token').expect(200);
      await login('session').expect(200);
      await login('token').expect(200);
      await login('session').expect(200);
      const limited = await login('token').expect(429);
      expect(limited.body).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Too many requests from this client; try again later',
      });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      await login('session').expect(429);
      // A forged X-Forwarded-For is ignored without TRUST_PROXY.
      await login('token', '203.0.113.7').expect(429);
      // Other groups have their own budget; unlimited routes are untouched.
      await ctx
        .http()
        .post('/api/auth/signup')
        .send({ email: uniqueEmail(), password: PASSWORD })
        .expect(201);
      for (let i = 0; i < 10; i++) await ctx.http().get('/api').expect(200);
    } finally {
      await ctx.close();
    }
  });

  it('honours X-Forwarded-For only from a proxy trusted by TRUST_PROXY', async () => {
    const ctx = await startAppOnFreshDatabase({
      ...isolatedEnv(store),
      AUTH_RATE_LIMIT: '2',
      TRUST_PROXY: 'loopback',
    });
    try {
      const signup = (ip: string) =>
        ctx
          .http()
          .post('/api/auth/signup')
          .set('X-Forwarded-For', ip)
          .send({ email: uniqueEmail(), password: PASSWORD });
      await signup('198.51.100.1').expect(201);
      await signup('198.51.100.1').expect(201);
      await signup('198.51.100.1').expect(429);
      await signup('198.51.100.2').expect(201);
    } finally {
      await ctx.close();
    }
  });

  const shared = store.name === 'redis';
  it(
    shared
      ? 'two instances on one Redis share one budget per client IP'
      : 'two instances without Redis count each on its own',
    async () => {
      const database = await createTestDatabase();
      const env = { ...isolatedEnv(store), AUTH_RATE_LIMIT: '4', AUTH_RATE_WINDOW_SECONDS: '60' };
      const apps: TestApp[] = [];
      try {
        for (let i = 0; i < 2; i++) apps.push(await startApp(database.url, env));
        const [a, b] = apps;
        const user = await signUp(a.http);
        const login = (on: TestApp) =>
          on.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD });
        for (const on of [a, b, a, b]) await login(on).expect(200);
        // Four of four spent across both, or two of four on each.
        const statuses = [(await login(a)).status, (await login(b)).status];
        expect(statuses).toEqual(shared ? [429, 429] : [200, 200]);
      } finally {
        for (const app of apps) await app.close();
        await database.drop();
      }
    },
  );
});

describe('no user enumeration by timing', () => {
  it('spends about as long on an unknown email as on a wrong password (medians compared)', async () => {
    const ctx = await startAppOnFreshDatabase({ BCRYPT_COST: '10', LOGIN_MAX_FAILURES: '1000' });
    try {
      const user = await signUp(ctx.http);
      const time = async (email: string) => {
        const started = process.hrtime.bigint();
        await ctx.http().post('/api/auth/token').send({ email, password: 'wrong password!' }).expect(401);
        return Number(process.hrtime.bigint() - started) / 1e6;
      };
      await time(user.email); // warm-up, also creates the dummy hash
      await time('warm-up@example.com');
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 15; i++) {
        known.push(await time(user.email));
        unknown.push(await time(uniqueEmail('nobody')));
      }
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
      const ratio = median(unknown) / median(known);
      // bcrypt at cost 10 is tens of milliseconds: skipping it would make the ratio ~0.1.
      expect(ratio).toBeGreaterThan(0.6);
      expect(ratio).toBeLessThan(1.6);
    } finally {
      await ctx.close();
    }
  });
});

describe('password checks under a login flood (BCRYPT_CONCURRENCY, BCRYPT_MAX_QUEUE)', () => {
  it('refuses checks beyond the queue with 503 + Retry-After, and does not count them against the account', async () => {
    const ctx = await startAppOnFreshDatabase({
      BCRYPT_COST: '12',
      BCRYPT_CONCURRENCY: '1',
      BCRYPT_MAX_QUEUE: '1',
      LOGIN_MAX_FAILURES: '5',
    });
    try {
      const user = await signUp(ctx.http);
      const answers = await Promise.all(
        Array.from({ length: 5 }, () =>
          ctx.http().post('/api/auth/token').send({ email: user.email, password: 'wrong password!' }),
        ),
      );
      const statuses = answers.map((res) => res.status).sort();
      // One check runs, one waits for its turn; the other three are turned away at once.
      expect(statuses).toEqual([401, 401, 503, 503, 503]);
      const refused = answers.find((res) => res.status === 503)!;
      expect(refused.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'Too many password checks in progress; try again shortly',
      });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Only the two judged attempts count: three more failures lock, not one.
      for (let i = 0; i < 3; i++)
        await ctx
          .http()
          .post('/api/auth/token')
          .send({ email: user.email, password: 'wrong password!' })
          .expect(401);
      await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(429);
    } finally {
      await ctx.close();
    }
  });
});
