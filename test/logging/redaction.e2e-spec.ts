import { PassThrough } from 'node:stream';
import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const SECRETS = {
  bearer: 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWJlYXJlcg.c2lnbmF0dXJl',
  cookie: 's%3Asecret-session-id.signature',
  csrf: 'secret-csrf-token-value',
  apiKey: 'nak_secret-api-key-value',
  queryToken: 'secret-query-token',
  queryPassword: 'secret-query-password',
};

describe('request logs', () => {
  let database: TestDatabase;
  let ctx: TestApp;
  let output = '';

  beforeAll(async () => {
    database = await createTestDatabase();
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    ctx = await startApp(database.url, { LOG_LEVEL: 'info' }, stream);
  });
  afterAll(async () => {
    await ctx.close();
    await database.drop();
  });

  interface LogLine {
    level?: number;
    msg?: string;
    req?: { id: string; method: string; url: string; headers?: unknown };
    res?: { statusCode: number };
  }

  function logLines(): LogLine[] {
    return output
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogLine);
  }

  it('are JSON lines with a request id, echoed in X-Request-Id', async () => {
    const res = await ctx.http().get('/api').expect(200);
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = logLines().find((entry) => entry.req?.id === id);
    expect(line).toMatchObject({
      msg: 'request completed',
      req: { method: 'GET', url: '/api' },
      res: { statusCode: 200 },
    });
  });

  it("keep a well-formed caller's X-Request-Id and replace a hostile one", async () => {
    const kept = await ctx.http().get('/api').set('X-Request-Id', 'trace-123').expect(200);
    expect(kept.headers['x-request-id']).toBe('trace-123');
    const replaced = await ctx
      .http()
      .get('/api')
      .set('X-Request-Id', `<script>${'x'.repeat(80)}`)
      .expect(200);
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never contain credentials from headers, cookies or the query string', async () => {
    await ctx
      .http()
      .post(`/api/whatever?token=${SECRETS.queryToken}&password=${SECRETS.queryPassword}&page=2`)
      .set('Authorization', `Bearer ${SECRETS.bearer}`)
      .set('Cookie', `sid=${SECRETS.cookie}`)
      .set('X-CSRF-Token', SECRETS.csrf)
      .set('X-API-Key', SECRETS.apiKey)
      .set('User-Agent', 'log-test/1.0')
      .send({ password: 'body-password-secret' })
      .expect(404);
    const line = logLines().find((entry) => entry.req?.url.startsWith('/api/whatever'));
    expect(line).toBeDefined();
    // The request's own facts, and of its headers only the user agent.
    expect(line!.req).toEqual({
      id: expect.any(String),
      method: 'POST',
      url: expect.any(String),
      remoteAddress: expect.any(String),
      userAgent: 'log-test/1.0',
    });
    expect(line).toMatchObject({ res: { statusCode: 404 }, responseTime: expect.any(Number) });
    expect(line!.req!.url).toBe('/api/whatever?token=%5BRedacted%5D&password=%5BRedacted%5D&page=2');
    for (const secret of [...Object.values(SECRETS), 'body-password-secret'])
      expect(output).not.toContain(secret);
  });

  it('are written at info for a success and at warn for a refusal, with the time taken', async () => {
    const ok = await ctx.http().get('/api').expect(200);
    const refused = await ctx.http().get('/api/auth/me').expect(401);
    const lines = logLines();
    const okLine = lines.find((entry) => entry.req?.id === ok.headers['x-request-id']);
    const refusedLine = lines.find((entry) => entry.req?.id === refused.headers['x-request-id']);
    // pino's levels: 30 info, 40 warn.
    expect(okLine).toMatchObject({ level: 30, msg: 'request completed', responseTime: expect.any(Number) });
    expect(refusedLine).toMatchObject({ level: 40, msg: 'request completed', res: { statusCode: 401 } });
  });

  it('log a refusal by the layers ahead of the routes too (TRACE), with its id', async () => {
    const res = await ctx.http().trace('/api').expect(405);
    const line = logLines().find((entry) => entry.req?.id === res.headers['x-request-id']);
    expect(line).toMatchObject({ level: 40, req: { method: 'TRACE' }, res: { statusCode: 405 } });
  });
});
