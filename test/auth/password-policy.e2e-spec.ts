import * as bcrypt from 'bcrypt';
import { DataSource } from 'typeorm';
import { uniqueEmail } from '../support/auth-helpers';
import { startApp, startAppOnFreshDatabase, type TestContext } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

const signup = (ctx: TestContext, password: string, email = uniqueEmail()) =>
  ctx.http().post('/api/auth/signup').send({ email, password });
const login = (ctx: TestContext, email: string, password: string) =>
  ctx.http().post('/api/auth/token').send({ email, password });
const BREACHED = 'password is one of the most common breached passwords; choose another';

describe('password policy', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  it('refuses passwords shorter than the minimum (default 8 characters), counting characters not bytes', async () => {
    const res = await signup(ctx, 'Zq3vR8w').expect(400);
    expect(res.body.message).toEqual(['password must be at least 8 characters long']);
    await signup(ctx, '€ü漢字🔑ßøZ').expect(201); // 8 characters, 20 bytes
  });

  it('needs no composition rules: a long lower-case passphrase is fine', async () => {
    await signup(ctx, 'purple monkey dishwasher').expect(201);
  });

  it('accepts 64 characters and more, and any Unicode', async () => {
    await signup(ctx, 'Ünïcödé pässwörd with spaces, emoji 🔐 and 中文 '.padEnd(64, 'x')).expect(201);
    await signup(ctx, 'a long passphrase '.repeat(40)).expect(201); // 720 characters
  });

  it.each([['password1234'], ['qwerty123456'], ['password1'], ['12345678'], ['P@ssw0rd'], ['iloveyou']])(
    'refuses the common breached password %j, saying why',
    async (password) => {
      const res = await signup(ctx, password).expect(400);
      expect(res.body.message).toEqual([BREACHED]);
    },
  );

  it.each([
    ['upper case', 'PASSWORD1234'],
    ['full-width characters (NFKC)', 'ｑｗｅｒｔｙ１２３４５６'],
  ])('refuses a listed password written in %s', async (_variant, password) => {
    const res = await signup(ctx, password).expect(400);
    expect(res.body.message).toEqual([BREACHED]);
  });

  it('accepts a strong password that contains a listed one', async () => {
    await signup(ctx, 'password1234 was my old password').expect(201);
  });

  it.each([['iloveyouiloveyou'], ['abcdefghijklmnop'], ['zzzzzzzzzzzzzzzzz']])(
    'refuses the easily guessed password %j, though not on the list, with a reason',
    async (password) => {
      const res = await signup(ctx, password).expect(400);
      expect(res.body.message).toEqual([
        expect.stringMatching(/^password is too common or too easy to guess: \S/),
      ]);
    },
  );

  it("refuses the account's own email as its password", async () => {
    const email = uniqueEmail('wilhelmina.fortescue');
    const res = await signup(ctx, email, email).expect(400);
    expect(res.body.message[0]).toMatch(/^password is too common or too easy to guess/);
  });

  it('never truncates: two passwords that differ only after byte 72 are different passwords', async () => {
    const prefix = '€'.repeat(24); // 72 bytes of UTF-8
    const email = uniqueEmail();
    await signup(ctx, `${prefix}first tail`, email).expect(201);
    await login(ctx, email, `${prefix}first tail`).expect(200);
    await login(ctx, email, `${prefix}other tail`).expect(401);
    await login(ctx, email, prefix).expect(401);
  });

  it('normalises Unicode the same way at sign-up and login (NFKC)', async () => {
    const email = uniqueEmail();
    const composed = 'Ångström café ﬁne'; // U+00C5, U+00E9, U+FB01 ligature
    const decomposed = 'A\u030Angstro\u0308m cafe\u0301 fine';
    await signup(ctx, composed, email).expect(201);
    await login(ctx, email, decomposed).expect(200);
  });

  it('peppers the hash: the stored bcrypt hash does not verify the bare password', async () => {
    const email = uniqueEmail();
    await signup(ctx, 'correct horse battery', email).expect(201);
    const [{ password_hash: hash }] = await ctx.app
      .get(DataSource)
      .query<{ password_hash: string }[]>('SELECT password_hash FROM users WHERE email = $1', [email]);
    expect(hash).toMatch(/^\$2b\$04\$/);
    expect(await bcrypt.compare('correct horse battery', hash)).toBe(false);
  });

  it('applies the same rules to a password change', async () => {
    const email = uniqueEmail();
    await signup(ctx, 'correct horse battery', email).expect(201);
    const { accessToken } = (await login(ctx, email, 'correct horse battery').expect(200)).body;
    const res = await ctx
      .http()
      .post('/api/auth/password')
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ currentPassword: 'correct horse battery', newPassword: 'Password1234' })
      .expect(400);
    expect(res.body.message).toEqual([
      'newPassword is one of the most common breached passwords; choose another',
    ]);
  });
});

describe('PASSWORD_MIN_LENGTH', () => {
  it('raises the minimum', async () => {
    const ctx = await startAppOnFreshDatabase({ PASSWORD_MIN_LENGTH: '12' });
    try {
      const res = await signup(ctx, 'purple monk').expect(400);
      expect(res.body.message).toEqual(['password must be at least 12 characters long']);
      await signup(ctx, 'purple monkey').expect(201);
    } finally {
      await ctx.close();
    }
  });
});

describe('rehash on login', () => {
  it('re-hashes at the new BCRYPT_COST on the next successful login, and not on a failed one', async () => {
    const database = await createTestDatabase();
    const email = uniqueEmail();
    const hashOf = async (app: TestContext | Awaited<ReturnType<typeof startApp>>) =>
      (
        await app.app
          .get(DataSource)
          .query<{ password_hash: string }[]>('SELECT password_hash FROM users WHERE email = $1', [email])
      )[0].password_hash;
    try {
      const before = await startApp(database.url, { BCRYPT_COST: '4' });
      await before
        .http()
        .post('/api/auth/signup')
        .send({ email, password: 'correct horse battery' })
        .expect(201);
      expect(await hashOf(before)).toMatch(/^\$2b\$04\$/);
      await before.close();

      const after = await startApp(database.url, { BCRYPT_COST: '5' });
      await after.http().post('/api/auth/token').send({ email, password: 'wrong password!' }).expect(401);
      expect(await hashOf(after)).toMatch(/^\$2b\$04\$/);
      await after
        .http()
        .post('/api/auth/token')
        .send({ email, password: 'correct horse battery' })
        .expect(200);
      expect(await hashOf(after)).toMatch(/^\$2b\$05\$/);
      await after
        .http()
        .post('/api/auth/token')
        .send({ email, password: 'correct horse battery' })
        .expect(200);
      await after.close();
    } finally {
      await database.drop();
    }
  });
});
