import pkg from '../../package.json';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

describe('GET /api', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  it('answers with the service name and version, without authentication', async () => {
    const res = await ctx.http().get('/api').expect(200);
    expect(res.body).toEqual({ name: pkg.name, version: pkg.version });
  });

  it('answers unknown routes with the JSON error shape', async () => {
    const res = await ctx.http().get('/api/nope').expect(404);
    expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: expect.any(String) });
  });
});
