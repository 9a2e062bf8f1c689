import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { TcpProxy } from '../support/tcp-proxy';
import { signUp, sleep, tokenLogin } from '../support/auth-helpers';

describe('GET /api/health', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let ctx: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = TcpProxy.forUrl(database.url);
    await proxy.start();
    ctx = await startApp(proxy.route(database.url));
  });
  afterAll(async () => {
    await ctx.close();
    await proxy.stop();
    await database.drop();
  });

  it('is 200 with status "ok" while the database answers, without authentication', async () => {
    const res = await ctx.http().get('/api/health').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  });

  it('is 503 while the database is unreachable, and 200 again once it is back, without a restart', async () => {
    await proxy.stop();
    const down = await ctx.http().get('/api/health').expect(503);
    expect(down.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'Unhealthy: database',
    });
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|stack/i);

    await proxy.start();
    const up = await ctx.http().get('/api/health').expect(200);
    expect(up.body).toMatchObject({ status: 'ok' });
  });

  it('answers requests that need the database with 503 and Retry-After during an outage, never 500 or a false 401', async () => {
    const user = await signUp(ctx.http);
    const { accessToken } = await tokenLogin(ctx.http, user);
    await proxy.stop();
    try {
      await sleep(200); // let the instance notice its notification feed is gone
      const login = await ctx
        .http()
        .post('/api/auth/token')
        .send({ email: user.email, password: user.password });
      expect(login.status).toBe(503);
      expect(login.headers['retry-after']).toBe('5');
      expect(login.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'Service temporarily unavailable, try again shortly',
      });
      // With the feed down, a valid token cannot be checked for revocation: 503, not 401.
      const me = await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${accessToken}`);
      expect(me.status).toBe(503);
    } finally {
      await proxy.start();
    }
    const after = await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${accessToken}`);
    expect(after.status).toBe(200);
  });
});
