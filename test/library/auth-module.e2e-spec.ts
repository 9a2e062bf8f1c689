import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { AuthenticationGuard, AuthModule, authEntities, Public } from '../../src';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { PASSWORD, uniqueEmail } from '../support/auth-helpers';
import { TEST_ENV } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

@Controller('host')
class HostController {
  @Public()
  @Get('open')
  open(): string {
    return 'open';
  }

  @Get('closed')
  closed(): string {
    return 'closed';
  }
}

const SECRETS = {
  session: TEST_ENV.SESSION_SECRET,
  jwt: TEST_ENV.JWT_SECRET,
  passwordPepper: TEST_ENV.PASSWORD_PEPPER,
};

/* AuthModule built on its own with Test.createTestingModule: no service shell around it. */
describe('AuthModule.forRoot on its own', () => {
  let database: TestDatabase;
  let app: INestApplication | undefined;
  beforeAll(async () => (database = await createTestDatabase()));
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(() => database?.drop());

  async function start(auth: ReturnType<typeof AuthModule.forRoot>): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        // No retries: a start that fails on a bad option must not leave TypeORM reconnecting behind it.
        TypeOrmModule.forRoot({
          ...dataSourceOptions(database.url, 2),
          entities: authEntities,
          retryAttempts: 0,
        }),
        auth,
      ],
      controllers: [HostController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  it('serves sign-up and token sign-in, and guards every route but @Public ones (global guards)', async () => {
    const started = await start(
      AuthModule.forRoot({ secrets: SECRETS, bcryptCost: 4, cleanupIntervalMs: 0 }),
    );
    const http = () => request(started.getHttpServer());
    const email = uniqueEmail('module');
    expect((await http().post('/api/auth/signup').send({ email, password: PASSWORD })).status).toBe(201);
    const token = await http().post('/api/auth/token').send({ email, password: PASSWORD });
    expect(token.status).toBe(200);
    expect((await http().get('/host/open')).status).toBe(200);
    expect((await http().get('/host/closed')).status).toBe(401);
    const closed = await http().get('/host/closed').set('Authorization', `Bearer ${token.body.accessToken}`);
    expect(closed.status).toBe(200);
  });

  it("with globalGuards: false installs nothing on the host's routes; the guards are there for @UseGuards", async () => {
    const started = await start(
      AuthModule.forRoot({ secrets: SECRETS, bcryptCost: 4, cleanupIntervalMs: 0, globalGuards: false }),
    );
    expect((await request(started.getHttpServer()).get('/host/closed')).status).toBe(200);
    expect(started.get(AuthenticationGuard)).toBeInstanceOf(AuthenticationGuard);
  });

  it('forRootAsync takes its options from a factory', async () => {
    const started = await start(
      AuthModule.forRootAsync({
        useFactory: () => ({ secrets: SECRETS, bcryptCost: 4, cleanupIntervalMs: 0 }),
      }),
    );
    expect((await request(started.getHttpServer()).get('/host/closed')).status).toBe(401);
  });

  it.each([
    [{ secrets: { ...SECRETS, jwt: '' } }, 'AuthModule option secrets.jwt must be a non-empty string'],
    [{ secrets: SECRETS, bcryptCost: 3 }, 'AuthModule option bcryptCost must be a whole number from 4 to 31'],
    [
      { secrets: SECRETS, session: { idleTimeoutMs: 1.5 } },
      'AuthModule option session.idleTimeoutMs must be a whole number from 1000 to 2592000000',
    ],
    // Access tokens and otpauth URIs carry these: the API document states bounds that rest on them.
    [
      { secrets: SECRETS, jwt: { issuer: 'i'.repeat(201) } },
      'AuthModule option jwt.issuer must be at most 200 characters',
    ],
    [
      { secrets: SECRETS, serviceName: 'n'.repeat(101) },
      'AuthModule option serviceName must be at most 100 characters',
    ],
  ])('a bad option stops the start with one line naming it: %j', async (options, message) => {
    await expect(start(AuthModule.forRoot(options))).rejects.toThrow(message);
  });
});
