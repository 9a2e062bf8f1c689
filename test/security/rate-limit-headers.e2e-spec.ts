import { PASSWORD, signUp } from '../support/auth-helpers';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';

/** `"name";r=<left>;t=<seconds>` items of a RateLimit header, by name. */
function items(header: string | undefined): Record<string, { r: number; t: number }> {
  const out: Record<string, { r: number; t: number }> = {};
  for (const item of (header ?? '').split(',').filter(Boolean)) {
    const match = /^\s*"([^"]+)";r=(\d+);t=(\d+)\s*$/.exec(item);
    if (!match) throw new Error(`not a RateLimit item: ${item}`);
    out[match[1]] = { r: Number(match[2]), t: Number(match[3]) };
  }
  return out;
}

describe('the general per-client budget (API_RATE_LIMIT) and the RateLimit headers', () => {
  const LIMIT = 6;
  let ctx: TestContext;
  beforeAll(
    async () =>
      (ctx = await startAppOnFreshDatabase({
        API_RATE_LIMIT: String(LIMIT),
        API_RATE_WINDOW_SECONDS: '60',
        AUTH_RATE_LIMIT: '20',
        TRUST_PROXY: 'loopback',
        CORS_ORIGINS: 'https://app.example.com',
      })),
  );
  afterAll(() => ctx.close());

  // Each test is its own client: the budget is per IP (X-Forwarded-For, from a trusted proxy).
  let client = 0;
  const nextClient = () => `203.0.113.${++client}`;

  it('says the policy and what is left on every answer, then refuses with 429 and Retry-After', async () => {
    const ip = nextClient();
    for (let i = 1; i <= LIMIT; i++) {
      const res = await ctx.http().get('/api').set('X-Forwarded-For', ip).expect(200);
      expect(res.headers['ratelimit-policy']).toBe(`"api";q=${LIMIT};w=60`);
      const { api } = items(res.headers['ratelimit']);
      expect(api.r).toBe(LIMIT - i);
      expect(api.t).toBeGreaterThanOrEqual(1);
      expect(api.t).toBeLessThanOrEqual(60);
    }
    const refused = await ctx.http().get('/api').set('X-Forwarded-For', ip).expect(429);
    expect(refused.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'Too many requests from this client; try again later',
    });
    expect(items(refused.headers['ratelimit']).api.r).toBe(0);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Every route shares the budget: a client over it is refused everywhere, before any other check.
    await ctx.http().get('/api/auth/me').set('X-Forwarded-For', ip).expect(429);
    await ctx.http().post('/api/auth/token').set('X-Forwarded-For', ip).send({}).expect(429);
  });

  it('counts each client on its own', async () => {
    const noisy = nextClient();
    for (let i = 0; i <= LIMIT; i++) await ctx.http().get('/api/health').set('X-Forwarded-For', noisy);
    await ctx.http().get('/api/health').set('X-Forwarded-For', noisy).expect(429);
    const quiet = await ctx.http().get('/api/health').set('X-Forwarded-For', nextClient()).expect(200);
    expect(items(quiet.headers['ratelimit']).api.r).toBe(LIMIT - 1);
  });

  it('counts an IPv6 client by its /64, and an IPv4 client the same whether written mapped or not', async () => {
    for (let i = 0; i < LIMIT; i++)
      await ctx
        .http()
        .get('/api')
        .set('X-Forwarded-For', `2001:db8:0:7::${i + 1}`);
    await ctx.http().get('/api').set('X-Forwarded-For', '2001:db8:0:7:ffff::9').expect(429);
    await ctx.http().get('/api').set('X-Forwarded-For', '2001:db8:0:8::1').expect(200);

    const ip = nextClient();
    for (let i = 0; i < LIMIT / 2; i++) await ctx.http().get('/api').set('X-Forwarded-For', ip);
    const mapped = await ctx.http().get('/api').set('X-Forwarded-For', `::ffff:${ip}`).expect(200);
    expect(items(mapped.headers['ratelimit']).api.r).toBe(LIMIT / 2 - 1);
  });

  it('sends the headers on refusals too (401, 400), and both budgets on a route with its own', async () => {
    const ip = nextClient();
    const anonymous = await ctx.http().get('/api/auth/me').set('X-Forwarded-For', ip).expect(401);
    expect(items(anonymous.headers['ratelimit']).api.r).toBe(LIMIT - 1);

    const invalid = await ctx
      .http()
      .post('/api/auth/token')
      .set('X-Forwarded-For', ip)
      .send({ email: 'ada@example.com' })
      .expect(400);
    expect(invalid.headers['ratelimit-policy']).toBe(`"api";q=${LIMIT};w=60, "login";q=20;w=60`);
    expect(items(invalid.headers['ratelimit'])).toEqual({
      api: { r: LIMIT - 2, t: expect.any(Number) },
      login: { r: 19, t: expect.any(Number) },
    });
  });

  it('lets a browser app on an allowed origin read them (CORS exposes them)', async () => {
    const res = await ctx
      .http()
      .get('/api')
      .set('X-Forwarded-For', nextClient())
      .set('Origin', 'https://app.example.com')
      .expect(200);
    const exposed = String(res.headers['access-control-expose-headers']).split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy', 'Retry-After']));
  });

  it('answers a spent login budget with its own item at 0 and Retry-After', async () => {
    const limited = await startApp(ctx.database.url, {
      API_RATE_LIMIT: '1000',
      AUTH_RATE_LIMIT: '2',
      TRUST_PROXY: 'loopback',
    });
    try {
      const user = await signUp(limited.http);
      const ip = nextClient();
      const login = () =>
        limited
          .http()
          .post('/api/auth/token')
          .set('X-Forwarded-For', ip)
          .send({ email: user.email, password: PASSWORD });
      await login().expect(200);
      await login().expect(200);
      const refused = await login().expect(429);
      expect(items(refused.headers['ratelimit'])).toEqual({
        api: { r: 997, t: expect.any(Number) },
        login: { r: 0, t: expect.any(Number) },
      });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });
});

describe('API_RATE_LIMIT=0 (the budget left to a proxy in front)', () => {
  let app: TestApp;
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    app = await startApp(ctx.database.url, { API_RATE_LIMIT: '0', AUTH_RATE_LIMIT: '20' });
  });
  afterAll(async () => {
    await app.close();
    await ctx.close();
  });

  it('sends no general budget, and keeps the login budget', async () => {
    const plain = await app.http().get('/api').expect(200);
    expect(plain.headers['ratelimit']).toBeUndefined();
    expect(plain.headers['ratelimit-policy']).toBeUndefined();
    const user = await signUp(app.http);
    const login = await app
      .http()
      .post('/api/auth/token')
      .send({ email: user.email, password: PASSWORD })
      .expect(200);
    expect(login.headers['ratelimit-policy']).toBe('"login";q=20;w=60');
    expect(items(login.headers['ratelimit'])).toEqual({ login: { r: 19, t: expect.any(Number) } });
  });

  it('leaves the document without RateLimit headers on routes with no budget', async () => {
    const { body } = await app.http().get('/docs-json').expect(200);
    const ok = body.paths['/api'].get.responses['200'];
    expect(ok.headers.RateLimit).toBeUndefined();
    expect(body.paths['/api'].get.responses['429']).toBeUndefined();
    expect(body.paths['/api/auth/token'].post.responses['200'].headers.RateLimit).toBeDefined();
  });
});
