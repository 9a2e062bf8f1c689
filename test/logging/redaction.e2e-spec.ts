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
});
