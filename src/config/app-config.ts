import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { EnvironmentVariables } from './environment';

export type NodeEnv = 'development' | 'production' | 'test';
export type TrustProxy = boolean | number | string;

/** Typed, validated configuration: read once at start-up and injected where needed. */
export abstract class AppConfig {
  abstract readonly env: NodeEnv;
  abstract readonly isProduction: boolean;
  abstract readonly port: number;
  abstract readonly logLevel: string;
  abstract readonly database: {
    /** External PostgreSQL; undefined means "start the embedded server". */
    readonly url?: string;
    readonly embeddedDir: string;
    /** EMBEDDED_POSTGRES_DIR was not set: as root, the data may move where the `postgres` user can reach it. */
    readonly embeddedDirIsDefault: boolean;
    readonly poolSize: number;
    /** A query unanswered this long fails (503 to the client) instead of hanging. */
    readonly queryTimeoutMs: number;
  };
  abstract readonly invalidation: {
    /** The feed is dead once it has not proven itself alive for this long: caches are bypassed. */
    readonly feedTimeoutMs: number;
  };
  /** No cached session, token login or user is trusted longer than this, notification or not. */
  abstract readonly cacheMaxAgeMs: number;
  /** Redis shared by every instance (throttle counters; sessions with SESSION_STORE=redis). */
  abstract readonly redis?: { readonly url: string; readonly keyPrefix: string };
  abstract readonly shutdown: {
    /** After SIGTERM, health answers 503 and requests are still served for this long, so balancers move on first. */
    readonly delayMs: number;
    /** Then requests in flight have this long to finish before the process exits regardless. */
    readonly timeoutMs: number;
  };
  abstract readonly secrets: {
    readonly session: string;
    readonly jwt: string;
    readonly passwordPepper: string;
    /** Names of the secrets that were generated because they were not configured. */
    readonly generated: readonly string[];
    /** Where generated secrets are kept; undefined: they live as long as the process. */
    readonly generatedIn?: string;
  };
  abstract readonly session: {
    /** Production adds the `__Host-` prefix: Secure, Path=/, no Domain. */
    readonly cookieName: string;
    readonly secureCookie: boolean;
    /** A session unused for this long is over. */
    readonly idleTimeoutMs: number;
    /** A session is over this long after sign-in, however active. */
    readonly absoluteTimeoutMs: number;
    /** Where cookie sessions live. */
    readonly store: 'postgres' | 'redis';
  };
  abstract readonly jwt: {
    readonly issuer: string;
    readonly audience: string;
    readonly accessTokenTtlSeconds: number;
    /** A token login (one refresh-token family) ends this long after sign-in. */
    readonly loginTtlSeconds: number;
    /** ...and once it has not been used (refreshed, or its access tokens used) for this long. */
    readonly loginIdleTimeoutSeconds: number;
    /** ES256: signing keys in the database, published as a JWKS; HS256: JWT_SECRET. */
    readonly algorithm: 'ES256' | 'HS256';
    /** A new ES256 signing key this often. */
    readonly keyRotationDays: number;
  };
  abstract readonly admin?: {
    readonly email: string;
    readonly password: string;
    /** Promote an account that already exists (else the start stops). */
    readonly promoteExisting: boolean;
  };
  abstract readonly trustProxy: TrustProxy;
  abstract readonly corsOrigins: readonly string[];
  abstract readonly bcryptCost: number;
  /** bcrypt hashes and compares running at once (the rest wait their turn). */
  abstract readonly bcryptConcurrency: number;
  /** Password checks allowed to wait for a turn; beyond that, 503. */
  abstract readonly bcryptMaxQueue: number;
  /** In characters (code points after NFKC normalisation). */
  abstract readonly passwordMinLength: number;
  abstract readonly swaggerEnabled: boolean;
  /** The service's public origin: every mailed link starts with it (never the request's Host). */
  abstract readonly publicUrl: string;
  /** How mails and pages name the service. */
  abstract readonly serviceName: string;
  abstract readonly mail: {
    /** Unset (outside production): mails are written to the log instead. */
    readonly smtpUrl?: string;
    readonly from: string;
    /** Delivery attempts before a mail is recorded as failed. */
    readonly maxAttempts: number;
    /** The wait after the first failed attempt; it doubles with each further one (capped at an hour). */
    readonly retryBaseMs: number;
  };
  abstract readonly account: {
    readonly emailVerification: 'off' | 'optional' | 'required';
    readonly passwordResetTtlMs: number;
    readonly emailVerificationTtlMs: number;
    /** A sensitive action needs a factor proved within this long. */
    readonly reauthMaxAgeMs: number;
  };
  /** Checked at sign-up and forgot-password; unset: no captcha. */
  abstract readonly captcha?: {
    readonly provider: 'turnstile' | 'hcaptcha' | 'recaptcha';
    readonly secret: string;
    readonly siteKey?: string;
    readonly verifyUrl?: string;
  };
  /** How often expired sign-ins are deleted; 0: never (another process does it). */
  abstract readonly cleanupIntervalMs: number;
  abstract readonly abuse: {
    /** Requests per client IP per window on each sensitive route group (login, signup, refresh, password). */
    readonly rateLimit: number;
    readonly rateWindowMs: number;
    /** Requests per client IP per window on every route, counted by each instance; 0: no such budget. */
    readonly apiRateLimit: number;
    readonly apiRateWindowMs: number;
    /** Failed logins on one account (either method) before it is locked until its window ends. */
    readonly maxLoginFailures: number;
    readonly loginFailureWindowMs: number;
    /** Failures on one account within a day before it stays locked until that day ends (or an admin unlocks it). */
    readonly maxDailyLoginFailures: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const MIN_SECRET_BYTES = 32;
const DEFAULT_SERVICE_NAME = 'Nest Auth';

export type SecretName = 'SESSION_SECRET' | 'JWT_SECRET' | 'PASSWORD_PEPPER';

/** Where development secrets come from when they are not configured. */
export interface DevSecretSource {
  get(name: SecretName): string;
  location?: string;
}

const randomDevSecrets: DevSecretSource = { get: () => randomBytes(48).toString('base64url') };

/**
 * Development secrets kept in a git-ignored file, so that sign-ins and, above all,
 * password hashes (peppered with PASSWORD_PEPPER) survive restarts.
 */
export function persistentDevSecrets(file: string): DevSecretSource {
  return {
    location: file,
    get(name) {
      const stored = existsSync(file)
        ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)
        : {};
      if (stored[name]) return stored[name];
      stored[name] = randomBytes(48).toString('base64url');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
      return stored[name];
    },
  };
}
const PLACEHOLDER = /change[-_ ]?me|placeholder|example|^secret$|^(.)\1*$/i;

/**
 * Validates the environment and builds the typed configuration.
 * Throws a ConfigError listing one line per bad variable; values are never echoed,
 * because some of them are secrets.
 */
export function loadConfig(
  source: NodeJS.ProcessEnv = process.env,
  devSecrets: DevSecretSource = randomDevSecrets,
): AppConfig {
  const raw = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value !== ''),
  );
  const env = plainToInstance(EnvironmentVariables, raw, { excludeExtraneousValues: false });
  // One line per variable: the first broken rule is enough to fix it.
  const problems = validateSync(env).map((error) => Object.values(error.constraints ?? {})[0]);

  const nodeEnv = (env.NODE_ENV ?? 'development') as NodeEnv;
  const isProduction = nodeEnv === 'production';
  const generated: string[] = [];
  const secret = (name: SecretName): string => {
    const value = env[name];
    if (isProduction) {
      if (!value) problems.push(`${name} is required when NODE_ENV=production`);
      else if (Buffer.byteLength(value) < MIN_SECRET_BYTES)
        problems.push(`${name} must be at least ${MIN_SECRET_BYTES} bytes long in production`);
      else if (PLACEHOLDER.test(value))
        problems.push(`${name} looks like a placeholder; generate one with: openssl rand -base64 48`);
    }
    if (value) return value;
    generated.push(name);
    return isProduction ? '' : devSecrets.get(name);
  };
  const sessionSecret = secret('SESSION_SECRET');
  const jwtSecret = secret('JWT_SECRET');
  const passwordPepper = secret('PASSWORD_PEPPER');
  const configured = [env.SESSION_SECRET, env.JWT_SECRET, env.PASSWORD_PEPPER].filter(Boolean);
  if (isProduction && new Set(configured).size !== configured.length)
    problems.push('SESSION_SECRET, JWT_SECRET and PASSWORD_PEPPER must all be different');

  if (Boolean(env.ADMIN_EMAIL) !== Boolean(env.ADMIN_PASSWORD))
    problems.push('ADMIN_EMAIL and ADMIN_PASSWORD must be set together');

  const corsOrigins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (!isOrigin(origin))
      problems.push(`CORS_ORIGINS entry "${origin}" must be an origin such as https://app.example.com`);
    else if (isProduction && !isSecureOrigin(origin))
      problems.push(
        `CORS_ORIGINS entry "${origin}" is plain http: in production only https:// origins (or localhost) may call with credentials`,
      );
  }
  // `true` trusts every X-Forwarded-For hop, so any client can choose its own address
  // (and with it its per-IP throttle budget).
  if (isProduction && env.TRUST_PROXY === 'true')
    problems.push(
      'TRUST_PROXY=true trusts any X-Forwarded-For a client sends: in production set the number of proxy hops (e.g. 1) or their addresses (e.g. loopback, 10.0.0.0/8)',
    );

  if (env.SESSION_STORE === 'redis' && !env.REDIS_URL) problems.push('SESSION_STORE=redis needs REDIS_URL');

  if (isProduction && !env.SMTP_URL)
    problems.push('SMTP_URL is required when NODE_ENV=production (password reset and verification mails)');
  if (isProduction && !env.PUBLIC_URL)
    problems.push('PUBLIC_URL is required when NODE_ENV=production (the origin of every mailed link)');
  else if (isProduction && env.PUBLIC_URL && !isSecureOrigin(env.PUBLIC_URL))
    problems.push('PUBLIC_URL must be https:// in production');
  if (env.CAPTCHA_PROVIDER && !env.CAPTCHA_SECRET) problems.push('CAPTCHA_PROVIDER needs CAPTCHA_SECRET');

  if (problems.length) throw new ConfigError(problems);

  return {
    env: nodeEnv,
    isProduction,
    port: env.PORT ?? 3000,
    logLevel: env.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    database: {
      url: env.DATABASE_URL,
      embeddedDir: resolve(env.EMBEDDED_POSTGRES_DIR ?? '.data/postgres'),
      embeddedDirIsDefault: env.EMBEDDED_POSTGRES_DIR === undefined,
      poolSize: env.DATABASE_POOL_SIZE ?? 10,
      queryTimeoutMs: (env.DATABASE_QUERY_TIMEOUT_SECONDS ?? 10) * 1000,
    },
    invalidation: { feedTimeoutMs: (env.INVALIDATION_FEED_TIMEOUT_SECONDS ?? 5) * 1000 },
    cacheMaxAgeMs: (env.CACHE_MAX_AGE_SECONDS ?? 60) * 1000,
    redis: env.REDIS_URL
      ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX ?? 'nest-auth:' }
      : undefined,
    shutdown: {
      delayMs: (env.SHUTDOWN_DELAY_SECONDS ?? 0) * 1000,
      timeoutMs: (env.SHUTDOWN_TIMEOUT_SECONDS ?? 10) * 1000,
    },
    secrets: {
      session: sessionSecret,
      jwt: jwtSecret,
      passwordPepper,
      generated,
      generatedIn: generated.length ? devSecrets.location : undefined,
    },
    passwordMinLength: env.PASSWORD_MIN_LENGTH ?? 8,
    session: {
      cookieName: `${isProduction ? '__Host-' : ''}${env.SESSION_COOKIE_NAME ?? 'sid'}`,
      secureCookie: isProduction,
      idleTimeoutMs: (env.SESSION_IDLE_TIMEOUT_SECONDS ?? 30 * 60) * 1000,
      absoluteTimeoutMs: (env.SESSION_ABSOLUTE_TIMEOUT_SECONDS ?? 12 * 3600) * 1000,
      store: (env.SESSION_STORE ?? 'postgres') as 'postgres' | 'redis',
    },
    jwt: {
      issuer: env.JWT_ISSUER ?? 'nest-auth-service',
      audience: env.JWT_AUDIENCE ?? 'nest-auth-service',
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS ?? 15 * 60,
      loginTtlSeconds: env.TOKEN_LOGIN_TTL_SECONDS ?? 30 * 24 * 3600,
      loginIdleTimeoutSeconds: env.TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS ?? 7 * 24 * 3600,
      algorithm: (env.JWT_ALGORITHM ?? 'ES256') as 'ES256' | 'HS256',
      keyRotationDays: env.JWT_KEY_ROTATION_DAYS ?? 30,
    },
    admin:
      env.ADMIN_EMAIL && env.ADMIN_PASSWORD
        ? {
            email: env.ADMIN_EMAIL,
            password: env.ADMIN_PASSWORD,
            promoteExisting: env.ADMIN_PROMOTE_EXISTING === 'true',
          }
        : undefined,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    corsOrigins,
    bcryptCost: env.BCRYPT_COST ?? 12,
    bcryptConcurrency: env.BCRYPT_CONCURRENCY ?? availableParallelism(),
    bcryptMaxQueue: env.BCRYPT_MAX_QUEUE ?? 64,
    swaggerEnabled: env.SWAGGER_ENABLED ? env.SWAGGER_ENABLED === 'true' : !isProduction,
    publicUrl: env.PUBLIC_URL ?? `http://localhost:${env.PORT ?? 3000}`,
    serviceName: env.SERVICE_NAME ?? DEFAULT_SERVICE_NAME,
    mail: {
      smtpUrl: env.SMTP_URL,
      from: env.MAIL_FROM ?? `"${env.SERVICE_NAME ?? DEFAULT_SERVICE_NAME}" <no-reply@localhost>`,
      maxAttempts: env.MAIL_MAX_ATTEMPTS ?? 8,
      retryBaseMs: (env.MAIL_RETRY_BASE_SECONDS ?? 30) * 1000,
    },
    account: {
      emailVerification: (env.EMAIL_VERIFICATION ?? 'optional') as 'off' | 'optional' | 'required',
      passwordResetTtlMs: (env.PASSWORD_RESET_TTL_MINUTES ?? 30) * 60_000,
      emailVerificationTtlMs: (env.EMAIL_VERIFICATION_TTL_HOURS ?? 24) * 3600_000,
      reauthMaxAgeMs: (env.REAUTH_MAX_AGE_SECONDS ?? 300) * 1000,
    },
    captcha:
      env.CAPTCHA_PROVIDER && env.CAPTCHA_SECRET
        ? {
            provider: env.CAPTCHA_PROVIDER as 'turnstile' | 'hcaptcha' | 'recaptcha',
            secret: env.CAPTCHA_SECRET,
            siteKey: env.CAPTCHA_SITE_KEY,
            verifyUrl: env.CAPTCHA_VERIFY_URL,
          }
        : undefined,
    cleanupIntervalMs: (env.CLEANUP_INTERVAL_SECONDS ?? 600) * 1000,
    abuse: {
      rateLimit: env.AUTH_RATE_LIMIT ?? 20,
      rateWindowMs: (env.AUTH_RATE_WINDOW_SECONDS ?? 60) * 1000,
      apiRateLimit: env.API_RATE_LIMIT ?? 3000,
      apiRateWindowMs: (env.API_RATE_WINDOW_SECONDS ?? 60) * 1000,
      maxLoginFailures: env.LOGIN_MAX_FAILURES ?? 10,
      loginFailureWindowMs: (env.LOGIN_FAILURE_WINDOW_SECONDS ?? 15 * 60) * 1000,
      maxDailyLoginFailures: env.LOGIN_MAX_DAILY_FAILURES ?? 100,
    },
  };
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

/** http:// is acceptable only for the machine itself (a developer's front end). */
function isSecureOrigin(origin: string): boolean {
  const { protocol, hostname } = new URL(origin);
  return protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
}

/** Express "trust proxy": unset or "false" trusts nothing, so X-Forwarded-For is ignored. */
function parseTrustProxy(value: string | undefined): TrustProxy {
  if (!value || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/** Reads `.env` when there is one; variables already in the environment win. */
export function loadEnvFile(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
