import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';
import { PASSWORD, uniqueEmail } from '../support/auth-helpers';

describe('POST /api/auth/signup', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  it('creates a user with the role "user" and a normalised email, and returns no secret', async () => {
    const email = uniqueEmail('Mixed');
    const res = await ctx
      .http()
      .post('/api/auth/signup')
      .send({ email: `  ${email.toUpperCase()} `, password: PASSWORD, name: ' Ada ' })
      .expect(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email: email.toLowerCase(),
      emailVerified: false,
      mfa: { totp: false, passkeys: false },
      name: 'Ada',
      roles: ['user'],
      disabled: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(JSON.stringify(res.body)).not.toContain(PASSWORD);
  });

  it('refuses a taken email in any case or spacing with 409', async () => {
    const email = uniqueEmail();
    await ctx.http().post('/api/auth/signup').send({ email, password: PASSWORD }).expect(201);
    const res = await ctx
      .http()
      .post('/api/auth/signup')
      .send({ email: ` ${email.toUpperCase()}`, password: PASSWORD })
      .expect(409);
    expect(res.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: 'An account with this email already exists',
    });
  });

  it.each([
    ['roles', { roles: ['admin'] }],
    ['id', { id: '00000000-0000-4000-8000-000000000000' }],
    ['disabled', { disabled: true }],
    ['passwordHash', { passwordHash: '$2b$04$abc' }],
    ['createdAt', { createdAt: '2000-01-01T00:00:00.000Z' }],
  ])('rejects the unknown property %s with 400 and creates nothing', async (field, extra) => {
    const email = uniqueEmail();
    const res = await ctx
      .http()
      .post('/api/auth/signup')
      .send({ email, password: PASSWORD, ...extra })
      .expect(400);
    expect(res.body.message).toContain(`property ${field} should not exist`);
    await ctx.http().post('/api/auth/session').send({ email, password: PASSWORD }).expect(401);
  });

  it('rejects __proto__ and constructor smuggling with 400', async () => {
    const body = `{"email":"${uniqueEmail()}","password":"${PASSWORD}","__proto__":{"roles":["admin"]}}`;
    await ctx.http().post('/api/auth/signup').set('Content-Type', 'application/json').send(body).expect(400);
    const constructor = {
      email: uniqueEmail(),
      password: PASSWORD,
      constructor: { prototype: { roles: ['admin'] } },
    };
    await ctx.http().post('/api/auth/signup').send(constructor).expect(400);
  });

  it('lists every failing field at once', async () => {
    const res = await ctx
      .http()
      .post('/api/auth/signup')
      .send({ email: 'not-an-email', password: 12345678, name: 'x'.repeat(101) })
      .expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.body.message).toEqual(
      expect.arrayContaining([
        'email must be an email address',
        'password must be a string',
        'name must be shorter than or equal to 100 characters',
      ]),
    );
  });

  describe('names every failing field, the password rules included', () => {
    const lines = async (body: { email: string; password: string }): Promise<string[]> => {
      const res = await ctx.http().post('/api/auth/signup').send(body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(Array.isArray(res.body.message)).toBe(true);
      // Nothing was created.
      await ctx.http().post('/api/auth/session').send(body).expect(401);
      return res.body.message as string[];
    };
    const about = (messages: string[], field: string) =>
      messages.filter((line) => new RegExp(`^${field}\\b`).test(line));

    it('a malformed email and a short password: one line for each, the minimum length named', async () => {
      const messages = await lines({ email: 'not-an-email', password: 'short' });
      expect(about(messages, 'email')).toHaveLength(1);
      expect(about(messages, 'password')).toEqual([expect.stringMatching(/\b8\b/)]);
      expect(messages).toHaveLength(2);
    });

    it('a malformed email and a common password: one line for each', async () => {
      const messages = await lines({ email: 'not-an-email', password: 'password' });
      expect(about(messages, 'email')).toHaveLength(1);
      expect(about(messages, 'password')).toEqual([expect.stringMatching(/common|guess/)]);
      expect(messages).toHaveLength(2);
    });

    it('a good email and a short password: the password only', async () => {
      const messages = await lines({ email: uniqueEmail(), password: 'short' });
      expect(messages).toEqual([expect.stringMatching(/^password\b.*\b8\b/)]);
    });
  });

  it.each([
    ['an object as email', { email: { $ne: '' }, password: PASSWORD }],
    ['an array as password', { email: 'a@example.com', password: [PASSWORD] }],
    ['a number as name', { email: 'b@example.com', password: PASSWORD, name: 42 }],
    ['a missing password', { email: 'c@example.com' }],
    ['an empty body', {}],
  ])('answers %s with 400', async (_case, body) => {
    const res = await ctx.http().post('/api/auth/signup').send(body).expect(400);
    expect(res.body.error).toBe('Bad Request');
  });

  it('refuses NUL characters anywhere in a body or query string with 400 (PostgreSQL text cannot hold them)', async () => {
    const res = await ctx
      .http()
      .post('/api/auth/signup')
      .send({ email: uniqueEmail(), password: PASSWORD, name: 'a\u0000b' })
      .expect(400);
    expect(res.body.message).toEqual(['strings must not contain NUL characters']);
    await ctx
      .http()
      .post('/api/auth/token')
      .send({ email: 'a\u0000@example.com', password: PASSWORD })
      .expect(400);
  });

  it('refuses absurdly nested bodies with 400 instead of overflowing the stack', async () => {
    const deep = '['.repeat(2000) + ']'.repeat(2000);
    const res = await ctx
      .http()
      .post('/api/auth/token/revoke')
      .set('Content-Type', 'application/json')
      .send(`{"refreshToken":"x","extra":${deep}}`)
      .expect(400);
    expect(res.body.message).toEqual(['nesting deeper than 16 levels is not accepted']);
  });

  it('answers malformed JSON with 400, not 500', async () => {
    const res = await ctx
      .http()
      .post('/api/auth/signup')
      .set('Content-Type', 'application/json')
      .send('{"email": "a@example.com", "password": ')
      .expect(400);
    expect(res.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Malformed JSON in request body',
    });
  });
});
