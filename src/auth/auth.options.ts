import { availableParallelism } from 'node:os';
import { StartupError } from '../common/startup-error';
import { CAPTCHA_VERIFY_URLS } from '../config/captcha-providers';
import type { InvalidationOptions } from '../database/invalidation.options';
import type { MailOptions } from '../mail/mail.options';
import type { RedisOptions } from '../redis/redis.options';
import type { SessionsOptions } from '../sessions/sessions.options';
import type { UsersOptions } from '../users/users.options';

/**
 * `AuthModule.forRoot()`'s options, as a host app writes them. Only the secrets are
 * required; every other value has the service's default. Durations say their unit
 * in their name.
 */
export interface AuthModuleOptions {
  secrets: { session: string; jwt: string; passwordPepper: string };
  session?: {
    cookieName?: string;
    /** Secure cookies (HTTPS only); the service sets it, with a `__Host-` name, in production. */
    secureCookie?: boolean;
    idleTimeoutMs?: number;
    absoluteTimeoutMs?: number;
    /** Routes that get express-session (Nest `forRoutes` paths); default every route. */
    routes?: string[];
    /** Where sessions live (default `postgres`); `redis` needs `redis.url`. */
    store?: 'postgres' | 'redis';
  };
  /** A Redis shared by every instance: throttle counters, and sessions with `session.store: 'redis'`. */
  redis?: { url?: string; keyPrefix?: string };
  jwt?: {
    issuer?: string;
    audience?: string;
    accessTokenTtlSeconds?: number;
    loginTtlSeconds?: number;
    loginIdleTimeoutSeconds?: number;
    /** `ES256` (default): signing keys in the database, published at /.well-known/jwks.json; `HS256`: secrets.jwt. */
    algorithm?: 'ES256' | 'HS256';
    keyRotationDays?: number;
  };
  passwordMinLength?: number;
  bcryptCost?: number;
  bcryptConcurrency?: number;
  bcryptMaxQueue?: number;
  abuse?: {
    /** Requests per client IP per window on each sensitive route group. */
    rateLimit?: number;
    rateWindowMs?: number;
    /** Requests per client IP per window on every route, counted by each instance (default 3000 a minute); 0: none. */
    apiRateLimit?: number;
    apiRateWindowMs?: number;
    maxLoginFailures?: number;
    loginFailureWindowMs?: number;
    maxDailyLoginFailures?: number;
  };
  /** That account exists after start-up with the admin role. */
  admin?: { email: string; password: string; promoteExisting?: boolean };
  /** 0: no clean-up by this module (another process does it). */
  cleanupIntervalMs?: number;
  cacheMaxAgeMs?: number;
  invalidation?: { feedTimeoutMs?: number };
  /** The service's public origin: the start of every mailed link (default http://localhost:3000). */
  publicUrl?: string;
  /** How mails name the service. */
  serviceName?: string;
  /** Outgoing mail; without `smtpUrl` mails are written to the log. */
  mail?: {
    smtpUrl?: string;
    from?: string;
    maxAttempts?: number;
    retryBaseMs?: number;
    pollIntervalMs?: number;
  };
  account?: {
    /** `required`: an unverified user may sign in, but only reach what leads to verification. */
    emailVerification?: 'off' | 'optional' | 'required';
    passwordResetTtlMs?: number;
    emailVerificationTtlMs?: number;
    /** A sensitive action needs the password (or, later, another factor) proved within this long. */
    reauthMaxAgeMs?: number;
  };
  /** Checked at sign-up and forgot-password. */
  captcha?: {
    provider: 'turnstile' | 'hcaptcha' | 'recaptcha';
    secret: string;
    siteKey?: string;
    /** The provider's siteverify URL (default: the provider's own). */
    verifyUrl?: string;
  };
}

/** The options with every default filled in: what the auth module's providers read. */
export interface AuthOptions extends UsersOptions, SessionsOptions, MailOptions {
  readonly secrets: { readonly session: string; readonly jwt: string; readonly passwordPepper: string };
  readonly jwt: SessionsOptions['jwt'] & {
    readonly issuer: string;
    readonly audience: string;
    /** A token login (one refresh-token family) ends this long after sign-in. */
    readonly loginTtlSeconds: number;
    readonly algorithm: 'ES256' | 'HS256';
    readonly keyRotationDays: number;
  };
  readonly abuse: {
    readonly rateLimit: number;
    readonly rateWindowMs: number;
    readonly apiRateLimit: number;
    readonly apiRateWindowMs: number;
    readonly maxLoginFailures: number;
    readonly loginFailureWindowMs: number;
    readonly maxDailyLoginFailures: number;
  };
  readonly invalidation: InvalidationOptions;
  readonly redis: RedisOptions;
  readonly account: {
    readonly emailVerification: 'off' | 'optional' | 'required';
    readonly passwordResetTtlMs: number;
    readonly emailVerificationTtlMs: number;
    readonly reauthMaxAgeMs: number;
  };
  readonly captcha?: {
    readonly provider: 'turnstile' | 'hcaptcha' | 'recaptcha';
    readonly secret: string;
    readonly siteKey?: string;
    readonly verifyUrl: string;
  };
}

export const AUTH_OPTIONS = Symbol('AuthOptions');

const DAY_S = 24 * 3600;

/**
 * Fills in the defaults and checks every value; a bad one stops the start with one
 * line naming it (e.g. `AuthModule option session.idleTimeoutMs must be a whole
 * number from 1000 to 2592000000`).
 */
export function resolveAuthOptions(options: AuthModuleOptions): AuthOptions {
  const o = options ?? ({} as AuthModuleOptions);
  const text = (name: string, value: unknown, fallback?: string, maxLength = Infinity): string => {
    const result = value ?? fallback;
    if (typeof result !== 'string' || !result) throw invalid(name, 'a non-empty string');
    if (result.length > maxLength) throw invalid(name, `at most ${maxLength} characters`);
    return result;
  };
  const int = (name: string, value: unknown, fallback: number, min: number, max: number): number => {
    const result = value ?? fallback;
    if (!Number.isInteger(result) || (result as number) < min || (result as number) > max)
      throw invalid(name, `a whole number from ${min} to ${max}`);
    return result as number;
  };
  const flag = (name: string, value: unknown, fallback: boolean): boolean => {
    const result = value ?? fallback;
    if (typeof result !== 'boolean') throw invalid(name, 'true or false');
    return result;
  };
  const store = o.session?.store ?? 'postgres';
  if (store !== 'postgres' && store !== 'redis') throw invalid('session.store', 'postgres or redis');
  const redisUrl = o.redis?.url;
  if (redisUrl !== undefined && (typeof redisUrl !== 'string' || !/^rediss?:\/\/\S+$/.test(redisUrl)))
    throw invalid('redis.url', 'a redis:// or rediss:// URL');
  if (store === 'redis' && !redisUrl) throw invalid('redis.url', "set when session.store is 'redis'");
  const verification = o.account?.emailVerification ?? 'optional';
  if (!['off', 'optional', 'required'].includes(verification))
    throw invalid('account.emailVerification', 'off, optional or required');
  const publicUrl = o.publicUrl ?? 'http://localhost:3000';
  if (typeof publicUrl !== 'string' || !/^https?:\/\/[^/?#\s]+$/.test(publicUrl))
    throw invalid('publicUrl', 'an origin such as https://auth.example.com');
  const smtpUrl = o.mail?.smtpUrl;
  if (smtpUrl !== undefined && (typeof smtpUrl !== 'string' || !/^smtps?:\/\/\S+$/.test(smtpUrl)))
    throw invalid('mail.smtpUrl', 'an smtp:// or smtps:// URL');
  const captcha = o.captcha;
  if (captcha !== undefined && !(captcha.provider in CAPTCHA_VERIFY_URLS))
    throw invalid('captcha.provider', 'turnstile, hcaptcha or recaptcha');
  const serviceName = text('serviceName', o.serviceName, 'Nest Auth', 100);
  const algorithm = o.jwt?.algorithm ?? 'ES256';
  if (algorithm !== 'ES256' && algorithm !== 'HS256') throw invalid('jwt.algorithm', 'ES256 or HS256');
  // '/' is every route too, mounted with a plain `use()`: unlike '*path' it matches
  // without decoding the whole path into a parameter and re-basing req.url per request.
  const routes = o.session?.routes ?? ['/'];
  if (!Array.isArray(routes) || !routes.length || routes.some((route) => typeof route !== 'string' || !route))
    throw invalid('session.routes', 'a non-empty list of route paths');
  return {
    secrets: {
      session: text('secrets.session', o.secrets?.session),
      jwt: text('secrets.jwt', o.secrets?.jwt),
      passwordPepper: text('secrets.passwordPepper', o.secrets?.passwordPepper),
    },
    session: {
      cookieName: text('session.cookieName', o.session?.cookieName, 'sid'),
      secureCookie: flag('session.secureCookie', o.session?.secureCookie, false),
      idleTimeoutMs: int(
        'session.idleTimeoutMs',
        o.session?.idleTimeoutMs,
        1800_000,
        1000,
        30 * DAY_S * 1000,
      ),
      absoluteTimeoutMs: int(
        'session.absoluteTimeoutMs',
        o.session?.absoluteTimeoutMs,
        12 * 3600_000,
        1000,
        365 * DAY_S * 1000,
      ),
      routes,
      store,
    },
    redis: { url: redisUrl, keyPrefix: o.redis?.keyPrefix ?? 'nest-auth:' },
    jwt: {
      issuer: text('jwt.issuer', o.jwt?.issuer, 'nest-auth-service', 200),
      audience: text('jwt.audience', o.jwt?.audience, 'nest-auth-service', 200),
      accessTokenTtlSeconds: int('jwt.accessTokenTtlSeconds', o.jwt?.accessTokenTtlSeconds, 900, 1, DAY_S),
      loginTtlSeconds: int('jwt.loginTtlSeconds', o.jwt?.loginTtlSeconds, 30 * DAY_S, 1, 365 * DAY_S),
      loginIdleTimeoutSeconds: int(
        'jwt.loginIdleTimeoutSeconds',
        o.jwt?.loginIdleTimeoutSeconds,
        7 * DAY_S,
        1,
        365 * DAY_S,
      ),
      algorithm,
      keyRotationDays: int('jwt.keyRotationDays', o.jwt?.keyRotationDays, 30, 1, 365),
    },
    passwordMinLength: int('passwordMinLength', o.passwordMinLength, 8, 8, 128),
    bcryptCost: int('bcryptCost', o.bcryptCost, 12, 4, 31),
    bcryptConcurrency: int('bcryptConcurrency', o.bcryptConcurrency, availableParallelism(), 1, 1024),
    bcryptMaxQueue: int('bcryptMaxQueue', o.bcryptMaxQueue, 64, 0, 100_000),
    abuse: {
      rateLimit: int('abuse.rateLimit', o.abuse?.rateLimit, 20, 1, 100_000),
      rateWindowMs: int('abuse.rateWindowMs', o.abuse?.rateWindowMs, 60_000, 1000, DAY_S * 1000),
      apiRateLimit: int('abuse.apiRateLimit', o.abuse?.apiRateLimit, 3000, 0, 1_000_000_000),
      apiRateWindowMs: int('abuse.apiRateWindowMs', o.abuse?.apiRateWindowMs, 60_000, 1000, DAY_S * 1000),
      maxLoginFailures: int('abuse.maxLoginFailures', o.abuse?.maxLoginFailures, 10, 1, 1000),
      loginFailureWindowMs: int(
        'abuse.loginFailureWindowMs',
        o.abuse?.loginFailureWindowMs,
        900_000,
        1000,
        7 * DAY_S * 1000,
      ),
      maxDailyLoginFailures: int(
        'abuse.maxDailyLoginFailures',
        o.abuse?.maxDailyLoginFailures,
        100,
        1,
        100_000,
      ),
    },
    admin: o.admin
      ? {
          email: text('admin.email', o.admin.email),
          password: text('admin.password', o.admin.password),
          promoteExisting: flag('admin.promoteExisting', o.admin.promoteExisting, false),
        }
      : undefined,
    cleanupIntervalMs: int('cleanupIntervalMs', o.cleanupIntervalMs, 600_000, 0, 7 * DAY_S * 1000),
    cacheMaxAgeMs: int('cacheMaxAgeMs', o.cacheMaxAgeMs, 60_000, 1000, DAY_S * 1000),
    invalidation: {
      feedTimeoutMs: int('invalidation.feedTimeoutMs', o.invalidation?.feedTimeoutMs, 5000, 1000, 60_000),
    },
    publicUrl,
    serviceName,
    mail: {
      smtpUrl,
      from: text('mail.from', o.mail?.from, `"${serviceName}" <no-reply@localhost>`),
      maxAttempts: int('mail.maxAttempts', o.mail?.maxAttempts, 8, 1, 100),
      retryBaseMs: int('mail.retryBaseMs', o.mail?.retryBaseMs, 30_000, 10, 3600_000),
      pollIntervalMs: int('mail.pollIntervalMs', o.mail?.pollIntervalMs, 1000, 10, 600_000),
    },
    account: {
      emailVerification: verification,
      passwordResetTtlMs: int(
        'account.passwordResetTtlMs',
        o.account?.passwordResetTtlMs,
        1800_000,
        1000,
        DAY_S * 1000,
      ),
      emailVerificationTtlMs: int(
        'account.emailVerificationTtlMs',
        o.account?.emailVerificationTtlMs,
        DAY_S * 1000,
        1000,
        30 * DAY_S * 1000,
      ),
      reauthMaxAgeMs: int('account.reauthMaxAgeMs', o.account?.reauthMaxAgeMs, 300_000, 1000, DAY_S * 1000),
    },
    captcha: captcha
      ? {
          provider: captcha.provider,
          secret: text('captcha.secret', captcha.secret),
          siteKey: captcha.siteKey,
          verifyUrl: text('captcha.verifyUrl', captcha.verifyUrl, CAPTCHA_VERIFY_URLS[captcha.provider]),
        }
      : undefined,
  };
}

function invalid(name: string, expected: string): StartupError {
  return new StartupError(`AuthModule option ${name} must be ${expected}`);
}
