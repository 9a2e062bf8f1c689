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
    };

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

    it('can still serve Swagger when asked to', () => {
      expect(loadConfig({ ...production, SWAGGER_ENABLED: 'true' }).swaggerEnabled).toBe(true);
    });
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

  it('parses TRUST_PROXY like Express does, and trusts nothing when unset', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
  });
});
