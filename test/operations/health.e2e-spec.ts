import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { TcpProxy } from '../support/tcp-proxy';

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
});
