import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsersService } from '../../src/users/users.service';
import { sessionLogin, signUp, tokenLogin } from '../support/auth-helpers';
import { PRODUCTION_ENV, startAppOnFreshDatabase, type TestContext } from '../support/test-app';

describe('security headers and transport', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase({ CORS_ORIGINS: 'https://app.example.com' })));
  afterAll(() => ctx.close());

  it('sends a CSP that refuses framing, plugins and foreign scripts, plus nosniff, and no X-Powered-By', async () => {
    const res = await ctx.http().get('/api').expect(200);
    const csp = res.headers['content-security-policy'];
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests'); // development, plain HTTP
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('marks every API response, auth ones above all, Cache-Control: no-store', async () => {
    const user = await signUp(ctx.http);
    const token = await ctx
      .http()
      .post('/api/auth/token')
      .send({ email: user.email, password: user.password })
      .expect(200);
    expect(token.headers['cache-control']).toBe('no-store');
    const me = await ctx
      .http()
      .get('/api/auth/me')
      .set('Authorization', `Bearer ${token.body.accessToken}`)
      .expect(200);
    expect(me.headers['cache-control']).toBe('no-store');
    // Nor an ETag: a conditional request must not confirm what a cached copy said.
    expect(me.headers.etag).toBeUndefined();
    const failed = await ctx
      .http()
      .post('/api/auth/session')
      .send({ email: user.email, password: 'wrong one' })
      .expect(401);
    expect(failed.headers['cache-control']).toBe('no-store');
  });

  it('marks every page Cache-Control: no-store, error pages too, so the back button after sign-out shows nothing', async () => {
    const user = await signUp(ctx.http);
    const { cookie } = await sessionLogin(ctx.http, user);
    const admin = await signUp(ctx.http);
    await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
    const adminLogin = await sessionLogin(ctx.http, admin);
    const pages = [
      { path: '/login', status: 200 },
      { path: '/signup', status: 200 },
      { path: '/profile', cookie, status: 200 },
      { path: '/sessions', cookie, status: 200 },
      { path: '/admin/users', cookie: adminLogin.cookie, status: 200 },
      { path: '/admin/users', cookie, status: 403 }, // the error page
      { path: '/profile', status: 303 }, // to the sign-in form
    ];
    for (const { path, cookie: sent, status } of pages) {
      let req = ctx.http().get(path);
      if (sent) req = req.set('Cookie', sent);
      const res = await req;
      expect({ path, status: res.status, cacheControl: res.headers['cache-control'] }).toEqual({
        path,
        status,
        cacheControl: 'no-store',
      });
    }
    const refused = await ctx.http().post('/login').type('form').send({ email: user.email }).expect(403);
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it('lets the stylesheet be cached: it holds nothing personal', async () => {
    const res = await ctx.http().get('/assets/style.css').expect(200);
    expect(res.headers['cache-control']).not.toBe('no-store');
    expect(res.headers.pragma).toBeUndefined();
  });

  describe('CORS', () => {
    it('allows a listed origin, with credentials', async () => {
      const res = await ctx
        .http()
        .options('/api/auth/me')
        .set('Origin', 'https://app.example.com')
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization, x-csrf-token');
      expect(res.status).toBeLessThan(300);
      expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-headers']).toMatch(/X-CSRF-Token/i);
    });

    it('gives any other origin no CORS headers at all', async () => {
      for (const origin of ['https://evil.example.com', 'null', 'https://app.example.com.evil.net']) {
        const res = await ctx.http().get('/api').set('Origin', origin).expect(200);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      }
    });

    it('is off entirely without CORS_ORIGINS', async () => {
      const plain = await startAppOnFreshDatabase();
      try {
        const res = await plain.http().get('/api').set('Origin', 'https://app.example.com').expect(200);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      } finally {
        await plain.close();
      }
    });
  });

  it('refuses bodies over 16 kB with 413 and the JSON error shape', async () => {
    const res = await ctx
      .http()
      .post('/api/auth/signup')
      .send({ email: 'big@example.com', password: 'x'.repeat(17 * 1024) })
      .expect(413);
    expect(res.body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'Request body is too large',
    });
  });

  /** A POST whose body comes in chunks, without Content-Length (supertest always sets one). */
  async function postChunked(path: string, chunks: string[]): Promise<{ status: number; body: unknown }> {
    const server: Server = ctx.app.getHttpServer();
    if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let data = '';
          res.on('data', (chunk: Buffer) => (data += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) as unknown }));
        },
      );
      // The server may answer (413) before the last chunk is written.
      req.on('error', (error) => (req.headersSent ? undefined : reject(error)));
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  }

  it('reads a chunked body (no Content-Length) and holds the 16 kB limit on it', async () => {
    // Read and validated: a wrong password is a 401, where an unread body would be a 400.
    const read = await postChunked('/api/auth/token', [
      '{"email":"chunked@example.com",',
      '"password":"wrong"}',
    ]);
    expect(read.status).toBe(401);
    const big = await postChunked('/api/auth/token', [
      '{"email":"chunked@example.com","password":"',
      ...Array.from({ length: 17 }, () => 'x'.repeat(1024)),
      '"}',
    ]);
    expect(big).toEqual({
      status: 413,
      body: { statusCode: 413, error: 'Payload Too Large', message: 'Request body is too large' },
    });
  });

  it('refuses TRACE with 405', async () => {
    const res = await ctx.http().trace('/api').expect(405);
    expect(res.headers.allow).not.toContain('TRACE');
  });

  it('in production: HSTS and upgrade-insecure-requests, and no Swagger unless asked for', async () => {
    const prod = await startAppOnFreshDatabase(PRODUCTION_ENV);
    try {
      const res = await prod.http().get('/api').expect(200);
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers['content-security-policy']).toContain('upgrade-insecure-requests');
      await prod.http().get('/docs').expect(404);
      await prod.http().get('/docs-json').expect(404);
    } finally {
      await prod.close();
    }
    const withDocs = await startAppOnFreshDatabase({ ...PRODUCTION_ENV, SWAGGER_ENABLED: 'true' });
    try {
      await withDocs.http().get('/docs-json').expect(200);
    } finally {
      await withDocs.close();
    }
  });

  it('sets no session cookie on bearer responses, and marks them no-store', async () => {
    const user = await signUp(ctx.http);
    const { accessToken } = await tokenLogin(ctx.http, user);
    const res = await ctx
      .http()
      .get(`/api/users/${user.id}`)
      .set('Authorization', `Bearer ${accessToken}`)
      .expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});
