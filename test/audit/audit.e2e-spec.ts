import { DataSource } from 'typeorm';
import { UsersService } from '../../src/users/users.service';
import { PASSWORD, sessionLogin, signUp, tokenLogin, type SignedUp } from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

interface AuditItem {
  id: string;
  type: string;
  userId: string | null;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown> | null;
  createdAt: string;
}

describe('audit log', () => {
  let ctx: TestContext;
  let admin: SignedUp;
  let adminBearer: string;
  const secrets: string[] = [PASSWORD];

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({ LOGIN_MAX_FAILURES: '2' });
    admin = await signUp(ctx.http);
    await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
    const login = await tokenLogin(ctx.http, admin);
    adminBearer = `Bearer ${login.accessToken}`;
    secrets.push(login.accessToken, login.refreshToken);
  });
  afterAll(() => ctx.close());

  const eventsOf = async (userId: string, type?: string): Promise<AuditItem[]> =>
    (
      await ctx
        .http()
        .get(`/api/audit?userId=${userId}${type ? `&type=${type}` : ''}&limit=100`)
        .set('Authorization', adminBearer)
        .expect(200)
    ).body.items as AuditItem[];

  it('records the life of an account, with who, from where and when, newest first', async () => {
    const user = await signUp(ctx.http);
    const session = await ctx
      .http()
      .post('/api/auth/session')
      .set('User-Agent', 'AuditTest/1.0')
      .send({ email: user.email, password: PASSWORD })
      .expect(200);
    const cookie = (session.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
    secrets.push(cookie.split('=')[1], session.body.csrfToken);
    const token = await tokenLogin(ctx.http, user);
    secrets.push(token.accessToken, token.refreshToken);
    const refreshed = await ctx
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: token.refreshToken })
      .expect(200);
    secrets.push(refreshed.body.accessToken, refreshed.body.refreshToken);
    await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: token.refreshToken }).expect(401); // reuse
    const newPassword = 'a freshly chosen passphrase';
    secrets.push(newPassword);
    await ctx
      .http()
      .post('/api/auth/password')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', session.body.csrfToken)
      .send({ currentPassword: PASSWORD, newPassword })
      .expect(204);

    const events = await eventsOf(user.id);
    expect(events.map((event) => event.type).reverse()).toEqual([
      'signup',
      'login.succeeded',
      'login.succeeded',
      'token.refreshed',
      'token.reuse_detected',
      'password.changed',
    ]);
    const sessionLogin = events.find((event) => event.details?.method === 'session')!;
    expect(sessionLogin).toMatchObject({
      userId: user.id,
      actorId: null,
      ip: expect.stringMatching(/127\.0\.0\.1/),
      userAgent: 'AuditTest/1.0',
      createdAt: expect.stringMatching(/Z$/),
    });
  });

  it('records failed logins and the lock they cause, without the password tried', async () => {
    const user = await signUp(ctx.http);
    const tried = 'the wrong password 42';
    secrets.push(tried);
    for (let i = 0; i < 2; i++)
      await ctx.http().post('/api/auth/token').send({ email: user.email, password: tried }).expect(401);
    await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(429);
    const page = await ctx
      .http()
      .get('/api/audit?type=login.failed&limit=100')
      .set('Authorization', adminBearer)
      .expect(200);
    const failures = (page.body.items as AuditItem[]).filter((event) => event.details?.email === user.email);
    expect(failures).toHaveLength(2);
    const locked = await ctx
      .http()
      .get('/api/audit?type=account.locked')
      .set('Authorization', adminBearer)
      .expect(200);
    expect((locked.body.items as AuditItem[]).some((event) => event.details?.email === user.email)).toBe(
      true,
    );
  });

  it('records sign-outs, revocations and what admins do, naming the admin', async () => {
    const user = await signUp(ctx.http);
    const { cookie, csrfToken } = await sessionLogin(ctx.http, user);
    const token = await tokenLogin(ctx.http, user);
    await ctx.http().post('/api/auth/token/revoke').send({ refreshToken: token.refreshToken }).expect(204);
    await ctx
      .http()
      .delete('/api/auth/session')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', csrfToken)
      .expect(204);
    await ctx
      .http()
      .put(`/api/users/${user.id}/roles`)
      .set('Authorization', adminBearer)
      .send({ roles: ['admin'] })
      .expect(200);
    await ctx
      .http()
      .patch(`/api/users/${user.id}`)
      .set('Authorization', adminBearer)
      .send({ disabled: true })
      .expect(200);
    await ctx.http().delete(`/api/users/${user.id}/sessions`).set('Authorization', adminBearer).expect(204);
    await ctx.http().delete(`/api/users/${user.id}`).set('Authorization', adminBearer).expect(204);

    const events = (await eventsOf(user.id)).reverse();
    expect(events.map((event) => event.type)).toEqual([
      'signup',
      'login.succeeded',
      'login.succeeded',
      'logout',
      'logout',
      'roles.changed',
      'user.disabled',
      'signins.revoked_all',
      'user.deleted',
    ]);
    expect(events.find((event) => event.type === 'roles.changed')).toMatchObject({
      actorId: admin.id,
      details: { roles: ['admin', 'user'] },
    });
    expect(events.find((event) => event.type === 'user.deleted')!.actorId).toBe(admin.id);
  });

  it('never stores a secret', async () => {
    const rows = await ctx.app.get(DataSource).query('SELECT * FROM audit_events');
    const dump = JSON.stringify(rows);
    expect(rows.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(dump).not.toContain(secret);
  });

  describe('GET /api/audit', () => {
    it('is for admins only', async () => {
      const user = await signUp(ctx.http);
      const { accessToken } = await tokenLogin(ctx.http, user);
      await ctx.http().get('/api/audit').set('Authorization', `Bearer ${accessToken}`).expect(403);
      await ctx.http().get('/api/audit').expect(401);
    });

    it('pages and filters by user and type', async () => {
      const first = await ctx
        .http()
        .get('/api/audit?limit=2&page=1')
        .set('Authorization', adminBearer)
        .expect(200);
      const second = await ctx
        .http()
        .get('/api/audit?limit=2&page=2')
        .set('Authorization', adminBearer)
        .expect(200);
      expect(first.body).toMatchObject({ page: 1, limit: 2, total: expect.any(Number) });
      expect(first.body.items).toHaveLength(2);
      expect(first.body.items[1].id).not.toBe(second.body.items[0].id);
      const signups = await ctx
        .http()
        .get('/api/audit?type=signup&limit=100')
        .set('Authorization', adminBearer)
        .expect(200);
      expect((signups.body.items as AuditItem[]).every((event) => event.type === 'signup')).toBe(true);
    });

    it.each([['type=nonsense'], ['userId=42'], ['limit=500'], ['page=-1']])(
      'refuses %s with 400',
      async (query) => {
        await ctx.http().get(`/api/audit?${query}`).set('Authorization', adminBearer).expect(400);
      },
    );

    it('is documented in Swagger', async () => {
      const doc = await ctx.http().get('/docs-json').expect(200);
      expect(doc.body.paths['/api/audit'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(
        ['limit', 'page', 'type', 'userId'],
      );
    });
  });
});
