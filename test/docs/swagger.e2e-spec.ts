import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

interface OperationDoc {
  responses: Record<string, unknown>;
  requestBody?: unknown;
  parameters?: unknown[];
}

describe('Swagger', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  it('serves Swagger UI at /docs', async () => {
    const res = await ctx.http().get('/docs').redirects(1).expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
  });

  it('serves an OpenAPI 3 document at /docs-json with the three security schemes', async () => {
    const res = await ctx.http().get('/docs-json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.components.securitySchemes).toEqual({
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      session: { type: 'apiKey', in: 'cookie', name: 'sid' },
      apikey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    });
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api', '/api/health']));
  });

  it("states each route's security requirement and its 401/403 answers, from the decorators", async () => {
    const { body } = await ctx.http().get('/docs-json').expect(200);
    expect(body.security).toEqual([{ bearer: [] }, { session: [] }, { apikey: [] }]);
    const op = (path: string, method: string) => body.paths[path][method];

    expect(op('/api/auth/signup', 'post').security).toEqual([{}]);
    expect(op('/api/auth/signup', 'post').responses['401']).toBeUndefined();
    expect(op('/api/auth/me', 'get').security).toBeUndefined(); // both methods, from the document
    expect(op('/api/auth/me', 'get').responses['401']).toBeDefined();
    expect(op('/api/auth/csrf', 'get').security).toEqual([{ session: [] }]);
    expect(op('/api/auth/session', 'delete').security).toEqual([{ session: [] }]);
    expect(op('/api/roles', 'get').responses['403'].description).toBe('Needs role: admin');
    expect(op('/api/auth/token', 'post').responses['429']).toBeDefined();
    expect(op('/api/users/{id}', 'patch').responses['404']).toBeDefined();
    expect(op('/api/auth/signup', 'post').responses['409']).toBeDefined();
    // Every operation that takes input documents its 400, and every one documents its success.
    for (const [path, item] of Object.entries(body.paths as Record<string, Record<string, OperationDoc>>)) {
      for (const [method, operation] of Object.entries(item)) {
        const success = Object.keys(operation.responses).filter((code) => code.startsWith('2'));
        expect({ path, method, success: success.length > 0 }).toEqual({ path, method, success: true });
        if (operation.requestBody || operation.parameters?.length)
          expect({ path, method, has400: '400' in operation.responses }).toEqual({
            path,
            method,
            has400: true,
          });
      }
    }
    expect(op('/api/auth/token', 'post').requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CredentialsDto',
    );
  });

  it('is off when SWAGGER_ENABLED=false', async () => {
    const off = await startAppOnFreshDatabase({ SWAGGER_ENABLED: 'false' });
    await off.http().get('/docs-json').expect(404);
    await off.http().get('/docs').expect(404);
    await off.close();
  });
});
