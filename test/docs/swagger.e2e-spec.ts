import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

describe('Swagger', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  it('serves Swagger UI at /docs', async () => {
    const res = await ctx.http().get('/docs').redirects(1).expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
  });

  it('serves an OpenAPI 3 document at /docs-json with both security schemes', async () => {
    const res = await ctx.http().get('/docs-json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.components.securitySchemes).toEqual({
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      session: { type: 'apiKey', in: 'cookie', name: 'sid' },
    });
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api', '/api/health']));
  });

  it('is off when SWAGGER_ENABLED=false', async () => {
    const off = await startAppOnFreshDatabase({ SWAGGER_ENABLED: 'false' });
    await off.http().get('/docs-json').expect(404);
    await off.http().get('/docs').expect(404);
    await off.close();
  });
});
