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
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
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

  it("lists the auth operations first in Swagger UI (its tag order is the document's `tags`)", async () => {
    const { body } = await ctx.http().get('/docs-json').expect(200);
    const tags = (body.tags as { name: string }[]).map((tag) => tag.name);
    expect(tags[0]).toBe('auth');
    // Every tag an operation uses is listed, so none falls to an unordered end.
    const used = new Set<string>();
    for (const item of Object.values(body.paths as Record<string, Record<string, { tags: string[] }>>))
      for (const operation of Object.values(item)) operation.tags.forEach((tag) => used.add(tag));
    expect(tags).toEqual(expect.arrayContaining([...used]));
  });

  it('describes the error body, 429 with Retry-After and the rate-limit headers where they are sent', async () => {
    const { body } = await ctx.http().get('/docs-json').expect(200);
    const op = (path: string, method: string) => body.paths[path][method];
    const errorBody = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } };
    expect(op('/api/auth/me', 'get').responses['401'].content).toEqual(errorBody);
    expect(op('/api/users', 'get').responses['500'].content).toEqual(errorBody);
    const throttled = op('/api/auth/token', 'post').responses['429'];
    expect(throttled.description).toContain('`login` budget');
    expect(throttled.headers['Retry-After']).toEqual({ $ref: '#/components/headers/Retry-After' });
    expect(op('/api', 'get').responses['200'].headers.RateLimit).toEqual({
      $ref: '#/components/headers/RateLimit',
    });
    // No I/O behind it: it cannot fail for want of a database.
    expect(op('/api', 'get').responses['503']).toBeUndefined();
    expect(op('/api/users', 'get').responses['503'].headers['Retry-After']).toBeDefined();
    // A 403 lists every reason it can have: the role, a stale sign-in, the CSRF token.
    const forbidden = op('/api/admin/signing-keys/rotate', 'post').responses['403'].description;
    expect(forbidden).toContain('Needs role: admin');
    expect(forbidden).toContain('reauthentication required');
    expect(forbidden).toContain('X-CSRF-Token');
    expect(body.components.securitySchemes.bearer.description).toContain('RFC8725');
  });

  it('lists the 403 for an unverified address only when EMAIL_VERIFICATION=required, never on the ways to verify', async () => {
    const required = await startAppOnFreshDatabase({ EMAIL_VERIFICATION: 'required' });
    try {
      const { body } = await required.http().get('/docs-json').expect(200);
      expect(body.paths['/api/sessions'].get.responses['403'].description).toContain('not verified');
      expect(
        body.paths['/api/auth/email/verification'].post.responses['403']?.description ?? '',
      ).not.toContain('not verified');
    } finally {
      await required.close();
    }
    const { body } = await ctx.http().get('/docs-json').expect(200);
    expect(body.paths['/api/sessions'].get.responses['403']).toBeUndefined();
  });

  it('is off when SWAGGER_ENABLED=false', async () => {
    const off = await startAppOnFreshDatabase({ SWAGGER_ENABLED: 'false' });
    await off.http().get('/docs-json').expect(404);
    await off.http().get('/docs').expect(404);
    await off.close();
  });
});
