import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { HostAppModule } from '../../examples/host-app/src/host-app.module';
import { UsersService } from '../../src';
import { PASSWORD, sessionCookie, uniqueEmail } from '../support/auth-helpers';
import { TEST_ENV } from '../support/test-app';
import { ADMIN_URL_VAR, databaseUrl, withAdminClient } from '../support/test-database';

/*
 * examples/host-app: a Nest app of its own with AuthModule.forRootAsync, its own
 * TypeORM connection that runs the library's migrations on an empty database, and
 * its own controllers guarded by the library's decorators. Driven over HTTP by both
 * methods, as its users would.
 */
describe('a host app using the package entry (examples/host-app)', () => {
  const name = `auth_host_${randomBytes(6).toString('hex')}`;
  let app: INestApplication;
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
    app = await NestFactory.create(
      HostAppModule.forRoot({
        databaseUrl: databaseUrl(process.env[ADMIN_URL_VAR]!, name),
        sessionSecret: TEST_ENV.SESSION_SECRET,
        jwtSecret: TEST_ENV.JWT_SECRET,
        passwordPepper: TEST_ENV.PASSWORD_PEPPER,
      }),
      { logger: false, abortOnError: false },
    );
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  });

  async function signUpAndLogIn() {
    const email = uniqueEmail('host');
    const signup = await http().post('/api/auth/signup').send({ email, password: PASSWORD });
    expect(signup.status).toBe(201);
    const session = await http().post('/api/auth/session').send({ email, password: PASSWORD });
    expect(session.status).toBe(200);
    const token = await http().post('/api/auth/token').send({ email, password: PASSWORD });
    expect(token.status).toBe(200);
    return {
      id: signup.body.id as string,
      email,
      cookie: sessionCookie(session.headers['set-cookie']),
      csrfToken: session.body.csrfToken as string,
      accessToken: token.body.accessToken as string,
      refreshToken: token.body.refreshToken as string,
    };
  }

  it("runs the library's migrations on its own connection, in its own schema, then signs up and signs in by both methods", async () => {
    const user = await signUpAndLogIn();
    const tables = await app
      .get(DataSource)
      .query<{ schemaname: string; tablename: string }[]>(
        `SELECT schemaname, tablename FROM pg_tables WHERE tablename IN ('users', 'cookie_sessions', 'user_roles', 'login_attempts') ORDER BY 2`,
      );
    expect(tables).toEqual([
      { schemaname: 'host_auth', tablename: 'cookie_sessions' },
      { schemaname: 'host_auth', tablename: 'login_attempts' },
      { schemaname: 'host_auth', tablename: 'user_roles' },
      { schemaname: 'host_auth', tablename: 'users' },
    ]);
    const [{ n }] = await app
      .get(DataSource)
      .query<{ n: number }[]>('SELECT count(*)::int AS n FROM host_auth.users WHERE email = $1', [
        user.email,
      ]);
    expect(n).toBe(1);
    const byCookie = await http().get('/api/auth/me').set('Cookie', user.cookie);
    expect(byCookie.body).toMatchObject({ email: user.email, authMethod: 'session' });
    const byToken = await http().get('/api/auth/me').set('Authorization', `Bearer ${user.accessToken}`);
    expect(byToken.body).toMatchObject({ email: user.email, authMethod: 'jwt' });
  });

  it("guards the host's own routes as declared: @Public, @Roles('admin'), @Auth('session')", async () => {
    const user = await signUpAndLogIn();
    expect((await http().get('/hello')).body).toEqual({ hello: 'world' });
    expect((await http().get('/reports')).status).toBe(401);
    expect((await http().get('/reports').set('Authorization', `Bearer ${user.accessToken}`)).status).toBe(
      403,
    );
    expect((await http().get('/account')).status).toBe(401);
    expect((await http().get('/account').set('Authorization', `Bearer ${user.accessToken}`)).status).toBe(
      401,
    );
    expect((await http().get('/account').set('Cookie', user.cookie)).body).toEqual({
      email: user.email,
      method: 'session',
    });

    await app.get(UsersService).grantRole(user.id, 'admin');
    const report = await http().get('/reports').set('Authorization', `Bearer ${user.accessToken}`);
    expect(report.body).toEqual({ for: user.email });
    expect((await http().get('/reports').set('Cookie', user.cookie)).status).toBe(200);
  });

  it('revokes: after logout-all neither the cookie, the access token nor the refresh token works', async () => {
    const user = await signUpAndLogIn();
    const out = await http()
      .post('/api/auth/logout-all')
      .set('Cookie', user.cookie)
      .set('X-CSRF-Token', user.csrfToken);
    expect(out.status).toBe(204);
    expect((await http().get('/account').set('Cookie', user.cookie)).status).toBe(401);
    expect((await http().get('/api/auth/me').set('Authorization', `Bearer ${user.accessToken}`)).status).toBe(
      401,
    );
    expect(
      (await http().post('/api/auth/token/refresh').send({ refreshToken: user.refreshToken })).status,
    ).toBe(401);
  });
});
