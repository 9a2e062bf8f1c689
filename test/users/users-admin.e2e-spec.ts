import { UsersService } from '../../src/users/users.service';
import { sessionLogin, signUp, tokenLogin, uniqueEmail, type SignedUp } from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

describe('/api/users (admin)', () => {
  let ctx: TestContext;
  let admin: SignedUp;
  let adminBearer: string;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    admin = await signUp(ctx.http);
    await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
    adminBearer = `Bearer ${(await tokenLogin(ctx.http, admin)).accessToken}`;
  });
  afterAll(() => ctx.close());

  const asAdmin = {
    get: (path: string) => ctx.http().get(path).set('Authorization', adminBearer),
    patch: (path: string) => ctx.http().patch(path).set('Authorization', adminBearer),
    put: (path: string) => ctx.http().put(path).set('Authorization', adminBearer),
    delete: (path: string) => ctx.http().delete(path).set('Authorization', adminBearer),
  };

  describe('GET /api/users', () => {
    it('pages through users with total, page and limit', async () => {
      const tag = `pager${Date.now()}`;
      for (let i = 0; i < 5; i++) await signUp(ctx.http, uniqueEmail(tag));
      const first = await asAdmin.get(`/api/users?q=${tag}&limit=2&page=1`).expect(200);
      expect(first.body).toMatchObject({ total: 5, page: 1, limit: 2 });
      expect(first.body.items).toHaveLength(2);
      const third = await asAdmin.get(`/api/users?q=${tag}&limit=2&page=3`).expect(200);
      expect(third.body.items).toHaveLength(1);
      const ids = new Set([...first.body.items, ...third.body.items].map((user: { id: string }) => user.id));
      expect(ids.size).toBe(3);
      for (const item of first.body.items)
        expect(Object.keys(item).sort()).toEqual([
          'createdAt',
          'disabled',
          'email',
          'emailVerified',
          'id',
          'mfa',
          'name',
          'roles',
        ]);
    });

    it('searches email and name case-insensitively, with % and _ taken literally', async () => {
      const user = await signUp(ctx.http);
      await asAdmin.patch(`/api/users/${user.id}`).send({ name: 'Grace 100%_Hopper' }).expect(200);
      expect(
        (await asAdmin.get('/api/users?q=100%25_hop').expect(200)).body.items.map(
          (u: { id: string }) => u.id,
        ),
      ).toEqual([user.id]);
      expect((await asAdmin.get('/api/users?q=GRACE').expect(200)).body.total).toBeGreaterThanOrEqual(1);
      expect(
        (await asAdmin.get('/api/users?q=%25').expect(200)).body.items.map((u: { id: string }) => u.id),
      ).toEqual([user.id]);
    });

    it.each([
      ['limit above 100', 'limit=101'],
      ['limit 0', 'limit=0'],
      ['page 0', 'page=0'],
      ['a non-numeric page', 'page=abc'],
      ['an unknown parameter', 'sort=email'],
    ])('refuses %s with 400', async (_case, query) => {
      await asAdmin.get(`/api/users?${query}`).expect(400);
    });

    it('allows exactly 100 per page', async () => {
      expect((await asAdmin.get('/api/users?limit=100').expect(200)).body.limit).toBe(100);
    });
  });

  describe('GET /api/users/:id', () => {
    it('lets an admin read anyone and a user only themself', async () => {
      const user = await signUp(ctx.http);
      const other = await signUp(ctx.http);
      const bearer = `Bearer ${(await tokenLogin(ctx.http, user)).accessToken}`;
      await ctx.http().get(`/api/users/${user.id}`).set('Authorization', bearer).expect(200);
      await ctx.http().get(`/api/users/${other.id}`).set('Authorization', bearer).expect(403);
      expect((await asAdmin.get(`/api/users/${other.id}`).expect(200)).body.email).toBe(other.email);
    });

    it('answers a malformed id with 400 and an unknown one with 404', async () => {
      await asAdmin.get('/api/users/123').expect(400);
      await asAdmin.get('/api/users/4b9e2c55-8a5f-4d6f-9d5c-2a4e6f1a2b3c').expect(404);
    });
  });

  describe('PATCH', () => {
    it('PATCH /api/users/me changes only the caller’s name, by either method', async () => {
      const user = await signUp(ctx.http);
      const { cookie, csrfToken } = await sessionLogin(ctx.http, user);
      // Asked before the change too: the answer /me made then must not be served after it.
      expect((await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(200)).body.name).toBeNull();
      const res = await ctx
        .http()
        .patch('/api/users/me')
        .set('Cookie', cookie)
        .set('X-CSRF-Token', csrfToken)
        .send({ name: '  New Name ' })
        .expect(200);
      expect(res.body).toMatchObject({ id: user.id, name: 'New Name' });
      const me = await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(200);
      expect(me.body.name).toBe('New Name');
    });

    it('PATCH /api/users/me refuses anything but a name (no self-promotion)', async () => {
      const user = await signUp(ctx.http);
      const bearer = `Bearer ${(await tokenLogin(ctx.http, user)).accessToken}`;
      for (const body of [
        { name: 'x', roles: ['admin'] },
        { name: 'x', disabled: false },
        { name: 'x', email: 'a@b.co' },
        {},
      ])
        await ctx.http().patch('/api/users/me').set('Authorization', bearer).send(body).expect(400);
      expect((await ctx.http().get('/api/auth/me').set('Authorization', bearer)).body.roles).toEqual([
        'user',
      ]);
    });

    it('PATCH /api/users/:id disables a user: refused at once on every sign-in and at login; enabling restores login', async () => {
      const user = await signUp(ctx.http);
      const token = await tokenLogin(ctx.http, user);
      const session = await sessionLogin(ctx.http, user);
      const res = await asAdmin.patch(`/api/users/${user.id}`).send({ disabled: true }).expect(200);
      expect(res.body.disabled).toBe(true);
      await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token.accessToken}`).expect(401);
      await ctx.http().get('/api/auth/me').set('Cookie', session.cookie).expect(401);
      await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: token.refreshToken }).expect(401);
      await ctx
        .http()
        .post('/api/auth/token')
        .send({ email: user.email, password: user.password })
        .expect(401);

      await asAdmin.patch(`/api/users/${user.id}`).send({ disabled: false }).expect(200);
      await ctx
        .http()
        .post('/api/auth/token')
        .send({ email: user.email, password: user.password })
        .expect(200);
      // Sign-ins revoked by the disable stay revoked.
      await ctx.http().get('/api/auth/me').set('Cookie', session.cookie).expect(401);
    });

    it('refuses non-boolean disabled and unknown fields with 400', async () => {
      const user = await signUp(ctx.http);
      await asAdmin.patch(`/api/users/${user.id}`).send({ disabled: 'yes' }).expect(400);
      await asAdmin
        .patch(`/api/users/${user.id}`)
        .send({ roles: ['admin'] })
        .expect(400);
      await asAdmin.patch(`/api/users/${user.id}`).send({ passwordHash: 'x' }).expect(400);
    });

    it('refuses null for a field that may only be left out, naming it, and changes nothing', async () => {
      const user = await signUp(ctx.http);
      for (const body of [{ disabled: null }, { name: null }]) {
        const res = await asAdmin.patch(`/api/users/${user.id}`).send(body).expect(400);
        expect(JSON.stringify(res.body.message)).toContain(Object.keys(body)[0]);
      }
      const after = await asAdmin.get(`/api/users/${user.id}`).expect(200);
      expect(after.body).toMatchObject({ disabled: false, name: null });
    });
  });

  describe('DELETE /api/users/:id', () => {
    it('deletes the account: its sign-ins end at once, login is refused, a second delete is 404', async () => {
      const user = await signUp(ctx.http);
      const token = await tokenLogin(ctx.http, user);
      const session = await sessionLogin(ctx.http, user);
      await asAdmin.delete(`/api/users/${user.id}`).expect(204);
      await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token.accessToken}`).expect(401);
      await ctx.http().get('/api/auth/me').set('Cookie', session.cookie).expect(401);
      await ctx
        .http()
        .post('/api/auth/token')
        .send({ email: user.email, password: user.password })
        .expect(401);
      await asAdmin.delete(`/api/users/${user.id}`).expect(404);
      // The email is free again.
      await ctx
        .http()
        .post('/api/auth/signup')
        .send({ email: user.email, password: user.password })
        .expect(201);
    });
  });

  describe('sessions of a user', () => {
    it('GET /api/users/:id/sessions lists them and DELETE ends them all', async () => {
      const user = await signUp(ctx.http);
      const token = await tokenLogin(ctx.http, user);
      const session = await sessionLogin(ctx.http, user);
      const list = await asAdmin.get(`/api/users/${user.id}/sessions`).expect(200);
      expect(list.body.map((item: { method: string }) => item.method).sort()).toEqual(['jwt', 'session']);
      expect(list.body.every((item: { current: boolean }) => item.current === false)).toBe(true);

      await asAdmin.delete(`/api/users/${user.id}/sessions`).expect(204);
      await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token.accessToken}`).expect(401);
      await ctx.http().get('/api/auth/me').set('Cookie', session.cookie).expect(401);
      expect((await asAdmin.get(`/api/users/${user.id}/sessions`).expect(200)).body).toEqual([]);
      await asAdmin.get('/api/users/4b9e2c55-8a5f-4d6f-9d5c-2a4e6f1a2b3c/sessions').expect(404);
    });
  });
});

describe('roles', () => {
  let ctx: TestContext;
  let adminBearer: string;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    const admin = await signUp(ctx.http);
    await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
    adminBearer = `Bearer ${(await tokenLogin(ctx.http, admin)).accessToken}`;
  });
  afterAll(() => ctx.close());

  it('POST /api/roles creates a role, listed by GET /api/roles; a taken name is 409', async () => {
    const res = await ctx
      .http()
      .post('/api/roles')
      .set('Authorization', adminBearer)
      .send({ name: 'auditor', description: 'Reads the audit log' })
      .expect(201);
    expect(res.body).toEqual({ name: 'auditor', description: 'Reads the audit log' });
    const list = await ctx.http().get('/api/roles').set('Authorization', adminBearer).expect(200);
    expect(list.body.map((role: { name: string }) => role.name)).toEqual(['admin', 'auditor', 'user']);
    await ctx
      .http()
      .post('/api/roles')
      .set('Authorization', adminBearer)
      .send({ name: 'auditor' })
      .expect(409);
  });

  it('refuses a null description with 400 (it may be left out, not null)', async () => {
    const res = await ctx
      .http()
      .post('/api/roles')
      .set('Authorization', adminBearer)
      .send({ name: 'nulldesc', description: null })
      .expect(400);
    expect(JSON.stringify(res.body.message)).toContain('description must be a string');
    const list = await ctx.http().get('/api/roles').set('Authorization', adminBearer).expect(200);
    expect(list.body.map((role: { name: string }) => role.name)).not.toContain('nulldesc');
  });

  it.each([['Admin'], ['has space'], [''], ['x'.repeat(33)], ['1starts-with-digit']])(
    'refuses the role name %j with 400',
    async (name) => {
      await ctx.http().post('/api/roles').set('Authorization', adminBearer).send({ name }).expect(400);
    },
  );

  it('PUT /api/users/:id/roles replaces the roles, always keeps user, and applies to existing sign-ins at once', async () => {
    const user = await signUp(ctx.http);
    const token = await tokenLogin(ctx.http, user);
    const bearer = `Bearer ${token.accessToken}`;
    await ctx.http().get('/api/roles').set('Authorization', bearer).expect(403);

    const res = await ctx
      .http()
      .put(`/api/users/${user.id}/roles`)
      .set('Authorization', adminBearer)
      .send({ roles: ['admin'] })
      .expect(200);
    expect(res.body.roles).toEqual(['admin', 'user']);
    await ctx.http().get('/api/roles').set('Authorization', bearer).expect(200);

    await ctx
      .http()
      .put(`/api/users/${user.id}/roles`)
      .set('Authorization', adminBearer)
      .send({ roles: [] })
      .expect(200);
    await ctx.http().get('/api/roles').set('Authorization', bearer).expect(403);
    expect((await ctx.http().get('/api/auth/me').set('Authorization', bearer)).body.roles).toEqual(['user']);
  });

  it('refuses unknown role names with 400, naming them, and changes nothing', async () => {
    const user = await signUp(ctx.http);
    const res = await ctx
      .http()
      .put(`/api/users/${user.id}/roles`)
      .set('Authorization', adminBearer)
      .send({ roles: ['admin', 'wizard', 'root'] })
      .expect(400);
    expect(res.body.message).toEqual(['unknown roles: wizard, root']);
    expect(
      (await ctx.http().get(`/api/users/${user.id}`).set('Authorization', adminBearer)).body.roles,
    ).toEqual(['user']);
    await ctx
      .http()
      .put(`/api/users/${user.id}/roles`)
      .set('Authorization', adminBearer)
      .send({ roles: 'admin' })
      .expect(400);
  });

  it('refuses a 33rd role: `user` is always kept, and counts against the 32', async () => {
    const user = await signUp(ctx.http);
    const names = Array.from({ length: 32 }, (_, i) => `bound-${i}`);
    for (const name of names)
      await ctx.http().post('/api/roles').set('Authorization', adminBearer).send({ name }).expect(201);
    const res = await ctx
      .http()
      .put(`/api/users/${user.id}/roles`)
      .set('Authorization', adminBearer)
      .send({ roles: names })
      .expect(400);
    expect(res.body.message).toEqual(['at most 32 roles, `user` included']);
    const fits = await ctx
      .http()
      .put(`/api/users/${user.id}/roles`)
      .set('Authorization', adminBearer)
      .send({ roles: ['user', ...names.slice(1)] })
      .expect(200);
    expect(fits.body.roles).toHaveLength(32);
  });
});

describe('the last admin', () => {
  it('cannot be demoted, disabled or deleted (409), but can once another admin exists', async () => {
    const ctx = await startAppOnFreshDatabase();
    try {
      const admin = await signUp(ctx.http);
      await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
      const bearer = `Bearer ${(await tokenLogin(ctx.http, admin)).accessToken}`;
      const message = 'This is the last enabled admin: make another admin first';

      const demote = await ctx
        .http()
        .put(`/api/users/${admin.id}/roles`)
        .set('Authorization', bearer)
        .send({ roles: [] })
        .expect(409);
      expect(demote.body).toEqual({ statusCode: 409, error: 'Conflict', message });
      await ctx
        .http()
        .patch(`/api/users/${admin.id}`)
        .set('Authorization', bearer)
        .send({ disabled: true })
        .expect(409);
      await ctx.http().delete(`/api/users/${admin.id}`).set('Authorization', bearer).expect(409);
      await ctx.http().get('/api/roles').set('Authorization', bearer).expect(200);

      const second = await signUp(ctx.http);
      await ctx
        .http()
        .put(`/api/users/${second.id}/roles`)
        .set('Authorization', bearer)
        .send({ roles: ['admin'] })
        .expect(200);
      await ctx
        .http()
        .put(`/api/users/${admin.id}/roles`)
        .set('Authorization', bearer)
        .send({ roles: [] })
        .expect(200);
      await ctx.http().get('/api/roles').set('Authorization', bearer).expect(403);
    } finally {
      await ctx.close();
    }
  });

  it('survives two admins demoting each other at the same moment: one wins, the other is refused', async () => {
    const ctx = await startAppOnFreshDatabase();
    try {
      const a = await signUp(ctx.http);
      const b = await signUp(ctx.http);
      for (const user of [a, b]) await ctx.app.get(UsersService).grantRole(user.id, 'admin');
      const bearerA = `Bearer ${(await tokenLogin(ctx.http, a)).accessToken}`;
      const bearerB = `Bearer ${(await tokenLogin(ctx.http, b)).accessToken}`;
      const results = await Promise.all([
        ctx.http().put(`/api/users/${b.id}/roles`).set('Authorization', bearerA).send({ roles: [] }),
        ctx.http().put(`/api/users/${a.id}/roles`).set('Authorization', bearerB).send({ roles: [] }),
      ]);
      // The loser gets 409 (the last-admin rule) if its request was authorised before the
      // winner committed, or 403 if it came after: it is no longer an admin then.
      const [winner, loser] = [...results].sort((x, y) => x.status - y.status).map((res) => res.status);
      expect({ winner, loserRefused: loser === 403 || loser === 409 }).toEqual({
        winner: 200,
        loserRefused: true,
      });
      const page = await ctx
        .http()
        .get('/api/users?limit=100')
        .set('Authorization', results[0].status === 200 ? bearerA : bearerB)
        .expect(200);
      const admins = page.body.items.filter((user: { roles: string[] }) => user.roles.includes('admin'));
      expect(admins).toHaveLength(1);
    } finally {
      await ctx.close();
    }
  });
});
