import { mkdtempSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, persistentDevSecrets } from './app-config';

const STRONG = 'q8Zr2vN5xK1pL7mW3tY9bC4hF6jD0sGa'; // 32 bytes
const STRONG_2 = 'Pz4Lk8Rt2Wq6Yx0Mn3Bv7Cj5Hg1Fd9Sa';
const STRONG_3 = 'Wm2Xc7Vb4Nq9Lr1Kt6Jy3Hp8Gd5Fs0Za';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 3000,
      bcryptCost: 12,
      bcryptConcurrency: availableParallelism(),
      bcryptMaxQueue: 64,
      swaggerEnabled: true,
      trustProxy: false,
      corsOrigins: [],
      admin: undefined,
      session: { cookieName: 'sid' },
    });
    expect(config.database.url).toBeUndefined();
  });

  it('applies the defaults of the timeouts, caches and limits', () => {
    const config = loadConfig({});
    expect(config.invalidation.feedTimeoutMs).toBe(5_000);
    expect(config.cacheMaxAgeMs).toBe(60_000);
    expect(config.database.queryTimeoutMs).toBe(10_000);
    expect(config.abuse.maxDailyLoginFailures).toBe(100);
    expect(config.jwt.loginIdleTimeoutSeconds).toBe(7 * 24 * 3600);
  });

  it('reads the timeouts, caches and limits, at both ends of their ranges', () => {
    const low = loadConfig({
      INVALIDATION_FEED_TIMEOUT_SECONDS: '1',
      CACHE_MAX_AGE_SECONDS: '1',
      DATABASE_QUERY_TIMEOUT_SECONDS: '1',
      LOGIN_MAX_DAILY_FAILURES: '1',
      TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS: '1',
    });
    expect(low.invalidation.feedTimeoutMs).toBe(1_000);
    expect(low.cacheMaxAgeMs).toBe(1_000);
    expect(low.database.queryTimeoutMs).toBe(1_000);
    expect(low.abuse.maxDailyLoginFailures).toBe(1);
    expect(low.jwt.loginIdleTimeoutSeconds).toBe(1);
    const high = loadConfig({
      INVALIDATION_FEED_TIMEOUT_SECONDS: '60',
      CACHE_MAX_AGE_SECONDS: '86400',
      DATABASE_QUERY_TIMEOUT_SECONDS: '600',
      LOGIN_MAX_DAILY_FAILURES: '100000',
      TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS: '31536000',
    });
    expect(high.invalidation.feedTimeoutMs).toBe(60_000);
    expect(high.cacheMaxAgeMs).toBe(86_400_000);
    expect(high.database.queryTimeoutMs).toBe(600_000);
    expect(high.abuse.maxDailyLoginFailures).toBe(100_000);
    expect(high.jwt.loginIdleTimeoutSeconds).toBe(31_536_000);
  });

  it('promotes an existing admin account only when ADMIN_PROMOTE_EXISTING=true', () => {
    const admin = { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'bootstrap password' };
    expect(loadConfig(admin).admin?.promoteExisting).toBe(false);
    expect(loadConfig({ ...admin, ADMIN_PROMOTE_EXISTING: 'false' }).admin?.promoteExisting).toBe(false);
    expect(loadConfig({ ...admin, ADMIN_PROMOTE_EXISTING: 'true' }).admin?.promoteExisting).toBe(true);
  });

  it('generates distinct development secrets and says which ones', () => {
    const config = loadConfig({});
    expect(config.secrets.generated).toEqual(['SESSION_SECRET', 'JWT_SECRET', 'PASSWORD_PEPPER']);
    expect(config.secrets.generatedIn).toBeUndefined();
    expect(config.secrets.session).toHaveLength(64);
    expect(config.secrets.session).not.toEqual(config.secrets.jwt);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ BCRYPT_COST: 'abc' }, 'BCRYPT_COST'],
    [{ BCRYPT_COST: '3' }, 'BCRYPT_COST'],
    [{ NODE_ENV: 'prod' }, 'NODE_ENV'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL'],
    [{ DATABASE_POOL_SIZE: '1' }, 'DATABASE_POOL_SIZE'],
    [{ SWAGGER_ENABLED: 'yes please' }, 'SWAGGER_ENABLED'],
    [{ CORS_ORIGINS: 'https://ok.example, https://bad.example/path' }, 'CORS_ORIGINS'],
    [{ ADMIN_EMAIL: 'admin@example.com' }, 'ADMIN_PASSWORD'],
    [{ ADMIN_EMAIL: 'not-an-email', ADMIN_PASSWORD: 'long enough' }, 'ADMIN_EMAIL'],
    [{ SESSION_COOKIE_NAME: 'bad name;' }, 'SESSION_COOKIE_NAME'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ PASSWORD_MIN_LENGTH: '6' }, 'PASSWORD_MIN_LENGTH'],
    [{ INVALIDATION_FEED_TIMEOUT_SECONDS: '0' }, 'INVALIDATION_FEED_TIMEOUT_SECONDS'],
    [{ INVALIDATION_FEED_TIMEOUT_SECONDS: '61' }, 'INVALIDATION_FEED_TIMEOUT_SECONDS'],
    [{ INVALIDATION_FEED_TIMEOUT_SECONDS: 'five' }, 'INVALIDATION_FEED_TIMEOUT_SECONDS'],
    [{ CACHE_MAX_AGE_SECONDS: '0' }, 'CACHE_MAX_AGE_SECONDS'],
    [{ CACHE_MAX_AGE_SECONDS: '86401' }, 'CACHE_MAX_AGE_SECONDS'],
    [{ CACHE_MAX_AGE_SECONDS: '1.5' }, 'CACHE_MAX_AGE_SECONDS'],
    [{ DATABASE_QUERY_TIMEOUT_SECONDS: '0' }, 'DATABASE_QUERY_TIMEOUT_SECONDS'],
    [{ DATABASE_QUERY_TIMEOUT_SECONDS: '601' }, 'DATABASE_QUERY_TIMEOUT_SECONDS'],
    [{ DATABASE_QUERY_TIMEOUT_SECONDS: '10s' }, 'DATABASE_QUERY_TIMEOUT_SECONDS'],
    [{ LOGIN_MAX_DAILY_FAILURES: '0' }, 'LOGIN_MAX_DAILY_FAILURES'],
    [{ LOGIN_MAX_DAILY_FAILURES: '100001' }, 'LOGIN_MAX_DAILY_FAILURES'],
    [{ LOGIN_MAX_DAILY_FAILURES: '-1' }, 'LOGIN_MAX_DAILY_FAILURES'],
    [{ TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS: '0' }, 'TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS'],
    [{ TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS: '31536001' }, 'TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS'],
    [{ TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS: 'a week' }, 'TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS'],
    [{ ADMIN_PROMOTE_EXISTING: 'yes' }, 'ADMIN_PROMOTE_EXISTING'],
    [{ ADMIN_PROMOTE_EXISTING: '1' }, 'ADMIN_PROMOTE_EXISTING'],
  ])('rejects %j with one line naming the variable', (env, name) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(name);
  });

  it('never echoes a secret value in its messages', () => {
    const problems = problemsOf({ NODE_ENV: 'production', SESSION_SECRET: 'hunter2', JWT_SECRET: STRONG });
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  describe('in production', () => {
    const production = {
      NODE_ENV: 'production',
      SESSION_SECRET: STRONG,
      JWT_SECRET: STRONG_2,
      PASSWORD_PEPPER: STRONG_3,
      SMTP_URL: 'smtps://mailer:pw@smtp.example.com:465',
      PUBLIC_URL: 'https://auth.example.com',
    };

    it('stops the start with one line when SMTP_URL is missing (mail would only go to the log)', () => {
      const problems = problemsOf({ ...production, SMTP_URL: '' });
      expect(problems).toEqual([
        'SMTP_URL is required when NODE_ENV=production (password reset and verification mails)',
      ]);
    });

    it('needs an https:// PUBLIC_URL, the origin of every mailed link', () => {
      expect(problemsOf({ ...production, PUBLIC_URL: '' })).toEqual([
        'PUBLIC_URL is required when NODE_ENV=production (the origin of every mailed link)',
      ]);
      expect(problemsOf({ ...production, PUBLIC_URL: 'http://auth.example.com' })).toEqual([
        'PUBLIC_URL must be https:// in production',
      ]);
      expect(problemsOf({ ...production, PUBLIC_URL: 'https://auth.example.com/app' })[0]).toContain(
        'PUBLIC_URL must be an origin',
      );
    });

    it('starts with strong, distinct secrets and turns on the production defaults', () => {
      const config = loadConfig(production);
      expect(config.isProduction).toBe(true);
      expect(config.swaggerEnabled).toBe(false);
      expect(config.session.cookieName).toBe('__Host-sid');
      expect(config.secrets.generated).toEqual([]);
    });

    it.each([
      ['missing', { SESSION_SECRET: '' }, /SESSION_SECRET is required/],
      ['short', { JWT_SECRET: 'x'.repeat(10) + 'y'.repeat(21) }, /JWT_SECRET must be at least 32 bytes/],
      ['a placeholder', { SESSION_SECRET: 'change-me-change-me-change-me-change-me' }, /placeholder/],
      ['one repeated character', { JWT_SECRET: 'a'.repeat(40) }, /placeholder/],
      ['the same for two purposes', { JWT_SECRET: STRONG }, /must all be different/],
      ['missing pepper', { PASSWORD_PEPPER: '' }, /PASSWORD_PEPPER is required/],
    ])('refuses a %s secret', (_case, override, message) => {
      expect(problemsOf({ ...production, ...override }).join('\n')).toMatch(message);
    });

    it('refuses TRUST_PROXY=true, which trusts whatever X-Forwarded-For a client sends', () => {
      const problems = problemsOf({ ...production, TRUST_PROXY: 'true' });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('TRUST_PROXY');
    });

    it.each(['1', 'loopback', '10.0.0.0/8', 'false'])(
      'accepts TRUST_PROXY=%s (hops or addresses)',
      (value) => {
        expect(problemsOf({ ...production, TRUST_PROXY: value })).toEqual([]);
      },
    );

    it.each(['http://app.example.com', 'https://ok.example.com, http://app.example.com'])(
      'refuses a plain-http origin that is not this machine in CORS_ORIGINS=%p',
      (value) => {
        const problems = problemsOf({ ...production, CORS_ORIGINS: value });
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain('CORS_ORIGINS');
      },
    );

    it.each([
      'http://localhost:5173',
      'http://127.0.0.1:8080',
      'http://[::1]:3000',
      'https://app.example.com',
      'https://app.example.com, http://localhost:5173',
    ])('accepts CORS_ORIGINS=%p (https, or http on this machine)', (value) => {
      expect(problemsOf({ ...production, CORS_ORIGINS: value })).toEqual([]);
    });

    it('can still serve Swagger when asked to', () => {
      expect(loadConfig({ ...production, SWAGGER_ENABLED: 'true' }).swaggerEnabled).toBe(true);
    });
  });

  it('reads the mail, recovery, re-authentication and captcha settings, with their defaults', () => {
    const defaults = loadConfig({ PORT: '4000' });
    expect(defaults.publicUrl).toBe('http://localhost:4000');
    expect(defaults.mail).toEqual({
      smtpUrl: undefined,
      from: '"Nest Auth" <no-reply@localhost>',
      maxAttempts: 8,
      retryBaseMs: 30_000,
    });
    expect(defaults.account).toEqual({
      emailVerification: 'optional',
      passwordResetTtlMs: 1_800_000,
      emailVerificationTtlMs: 86_400_000,
      reauthMaxAgeMs: 300_000,
    });
    expect(defaults.captcha).toBeUndefined();
    expect(defaults.jwt).toMatchObject({ algorithm: 'ES256', keyRotationDays: 30 });
    expect(loadConfig({ JWT_ALGORITHM: 'HS256', JWT_KEY_ROTATION_DAYS: '7' }).jwt).toMatchObject({
      algorithm: 'HS256',
      keyRotationDays: 7,
    });
    const set = loadConfig({
      PUBLIC_URL: 'https://id.example.org',
      SERVICE_NAME: 'Example ID',
      EMAIL_VERIFICATION: 'required',
      PASSWORD_RESET_TTL_MINUTES: '10',
      REAUTH_MAX_AGE_SECONDS: '1',
      CAPTCHA_PROVIDER: 'hcaptcha',
      CAPTCHA_SECRET: 's',
    });
    expect(set).toMatchObject({
      publicUrl: 'https://id.example.org',
      serviceName: 'Example ID',
      mail: { from: '"Example ID" <no-reply@localhost>' },
      account: { emailVerification: 'required', passwordResetTtlMs: 600_000, reauthMaxAgeMs: 1000 },
      captcha: { provider: 'hcaptcha', secret: 's' },
    });
  });

  it.each([
    [{ EMAIL_VERIFICATION: 'sometimes' }, 'EMAIL_VERIFICATION must be off, optional or required'],
    [{ SMTP_URL: 'http://mail.example.com' }, 'SMTP_URL must be an smtp:// or smtps:// URL'],
    [{ CAPTCHA_PROVIDER: 'turnstile' }, 'CAPTCHA_PROVIDER needs CAPTCHA_SECRET'],
    [{ CAPTCHA_PROVIDER: 'friendly' }, 'CAPTCHA_PROVIDER must be turnstile, hcaptcha or recaptcha'],
    [{ REAUTH_MAX_AGE_SECONDS: '0' }, 'REAUTH_MAX_AGE_SECONDS must be a whole number from 1 to 86400'],
    [{ JWT_ALGORITHM: 'RS256' }, 'JWT_ALGORITHM must be ES256 or HS256'],
    [{ JWT_KEY_ROTATION_DAYS: '0' }, 'JWT_KEY_ROTATION_DAYS must be a whole number from 1 to 365'],
  ])('refuses %p with one line', (env, message) => {
    expect(problemsOf(env as Record<string, string>)).toContain(message);
  });

  it('keeps generated development secrets in a file, so they survive restarts', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dev-secrets-')), 'nested', 'dev-secrets.json');
    const first = loadConfig({}, persistentDevSecrets(file));
    const second = loadConfig({}, persistentDevSecrets(file));
    expect(second.secrets.passwordPepper).toBe(first.secrets.passwordPepper);
    expect(second.secrets.session).toBe(first.secrets.session);
    expect(first.secrets.generatedIn).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('accepts TRUST_PROXY=true and plain-http origins outside production', () => {
    for (const NODE_ENV of ['development', 'test']) {
      const config = loadConfig({ NODE_ENV, TRUST_PROXY: 'true', CORS_ORIGINS: 'http://app.example.com' });
      expect(config.trustProxy).toBe(true);
      expect(config.corsOrigins).toEqual(['http://app.example.com']);
    }
  });

  it('parses TRUST_PROXY like Express does, and trusts nothing when unset', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
  });
});
