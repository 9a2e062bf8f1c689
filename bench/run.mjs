// npm run bench: builds, starts the service on its own PostgreSQL (or DATABASE_URL,
// which must point to an empty database), and measures each auth path against the
// service's own ceiling (GET /api). The paths are measured interleaved, round after
// round, so that a noisy machine affects every row alike; figures are medians of
// the rounds, and each ratio is the median of the per-round ratios. Prints a
// markdown table (progress goes to stderr).
//
// BENCH_ROUNDS (default 5), BENCH_SECONDS per run (default 5), BENCH_SESSIONS
// (default 1000000) and BCRYPT_COST (default 12) change the run. BENCH_CPU_PROF=<dir>
// writes a CPU profile of each instance there (node --cpu-prof) when it exits, and
// runs.jsonl: each measured run's instance and span on the profiles' clock.
//
// With `redis-server` on the PATH, the bench also starts a Redis of its own and a
// second instance of the service on it (REDIS_URL, SESSION_STORE=redis) beside the
// first, on the same database: its cookie /me and its login (rate limit counted in
// Redis) are measured in the same rounds, and the round trips a cookie /me costs
// once its session is in memory are counted on both stores.
//
// The credential rows: `GET /api/auth/me` by an ES256 bearer token (the default
// JWT_ALGORITHM) and by API key (X-API-Key) on the first instance, and by an HS256
// bearer token on an instance started with JWT_ALGORITHM=HS256 (on a database of its
// own in the same PostgreSQL, so that its background queries stay out of the
// round-trip counts), measured in the same rounds in turn; both are compared with the
// HS256 row (target: within 10%).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, chmodSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');
const bcrypt = require('bcrypt');
const { JwtService } = require('@nestjs/jwt');
const { Client } = require('pg');
const { createClient } = require('redis');
const { DataSource } = require('typeorm');
const { SMTPServer } = require('smtp-server');
const { EmbeddedPostgres, freePort } = require('../dist/src/database/embedded-postgres.js');
const { dataSourceOptions } = require('../dist/src/database/data-source-options.js');
const { loadConfig } = require('../dist/src/config/app-config.js');
const { SignInCleanup } = require('../dist/src/sessions/sign-in-cleanup.js');
const { CookieSessionsRepository } = require('../dist/src/sessions/cookie-sessions.repository.js');
const { TokenLoginsRepository } = require('../dist/src/sessions/token-logins.repository.js');
const { authEntities } = require('../dist/src/auth/auth.entities.js');
const { resolveAuthOptions } = require('../dist/src/auth/auth.options.js');
const { authModuleOptions } = require('../dist/src/app.module.js');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const STORED_SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1_000_000);
const BCRYPT_COST = Number(process.env.BCRYPT_COST ?? 12);
const CONNECTIONS = 50;
const SAMPLE = 1000; // signed-in sessions: the small table's size, and as many more in the large one
const FLOOD = 16; // concurrent logins in the flood
const SESSIONS_PER_OWNER = 50; // seeded signed-in sessions per user (at most 100 live sign-ins a user)
const PACED_RATE = 500; // req/s of /me while its latency is measured
const CORES = availableParallelism();
const PASSWORD = 'correct horse battery staple';
const REDIS_KEY_PREFIX = 'nest-auth:';
/**
 * A backend that reported its statistics less than a second ago reports the next
 * ones once it has been idle for 10 s (PGSTAT_IDLE_INTERVAL): pg_stat_database is
 * read this long after the last run that may have used PostgreSQL.
 */
const PG_STATS_LAG_MS = 11_000;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const pct = (ratio) => `${Math.round(ratio * 100)}%`;
const log = (...parts) => console.error('[bench]', ...parts);

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Preloaded into each instance of the service: on SIGUSR2 it writes its memory after a forced GC. */
const MEMORY_PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
const mb = (bytes) => Math.round(bytes / 2 ** 20);

/**
 * The service's memory once it is idle: resident, and the live heap after two
 * forced full GCs (bench/memory-probe.js, asked by SIGUSR2), with the peaks
 * since the previous call (resident and V8's old space, sampled every 100 ms
 * without a GC) and the process's peak resident (VmHWM) since it started.
 */
async function liveMemory(service) {
  await settle(service);
  const lines = () =>
    statSync(service.memoryFile, { throwIfNoEntry: false })
      ? readFileSync(service.memoryFile, 'utf8').trim().split('\n')
      : [];
  const before = lines().length;
  process.kill(service.pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const all = lines();
    if (all.length > before) {
      const m = JSON.parse(all[before]);
      return {
        rss: mb(m.memoryUsage.rss),
        heapUsed: mb(m.memoryUsage.heapUsed),
        heapTotal: mb(m.memoryUsage.heapTotal),
        hwm: mb(m.status.VmHWM),
        threads: m.status.Threads,
        peakRss: mb(m.peakSinceLast.rss),
        peakOldSpace: mb(m.peakSinceLast.oldSpace),
      };
    }
  }
  throw new Error(`the memory probe of ${service.logFile} did not answer`);
}
const memoryText = (m) =>
  `${m.rss} MB resident, live heap ${m.heapUsed} MB (after a forced GC; V8 heap ${m.heapTotal} MB, ${m.threads} threads); ` +
  `peak before it ${m.peakRss} MB resident, V8 old space ${m.peakOldSpace} MB`;

async function startDatabase() {
  if (process.env.DATABASE_URL) {
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    const [{ tables }] = (
      await client.query(`SELECT count(*)::int AS tables FROM pg_tables WHERE schemaname = 'public'`)
    ).rows;
    await client.end();
    if (tables > 0)
      throw new Error(
        `DATABASE_URL must point to an empty database: the benchmark writes ${STORED_SESSIONS} sessions into it`,
      );
    return { url: process.env.DATABASE_URL, stop: async () => undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'auth-bench-'));
  chmodSync(dir, 0o755);
  const server = await EmbeddedPostgres.start({ dir });
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A Redis of the bench's own on a free loopback port, without persistence. Every
 * command is kept in its slow log (threshold 0), which names the client that sent
 * it: that counts the service's round trips exactly, without the commands its
 * scripts run inside Redis, the bench's own ones, or the connection's PINGs.
 * Undefined (with the reason logged) when there is no redis-server.
 */
async function startRedis() {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) {
    const reason =
      found.error?.code === 'ENOENT' ? 'redis-server is not on the PATH' : 'redis-server --version failed';
    return { skipped: `${reason} (apt-get install redis-server)` };
  }
  const dir = mkdtempSync(join(tmpdir(), 'auth-bench-redis-'));
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      ...['--slowlog-log-slower-than', '0', '--slowlog-max-len', '1000000'],
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let client;
  for (let i = 0; !client; i++) {
    const attempt = createClient({ url, socket: { reconnectStrategy: false } });
    attempt.on('error', () => undefined);
    try {
      await attempt.connect();
      client = attempt;
    } catch (error) {
      if (i >= 50 || child.exitCode !== null) {
        await stop();
        throw new Error(`redis-server did not start: ${error.message}`, { cause: error });
      }
      await sleep(100);
    }
  }
  const own = /addr=(\S+)/.exec(await client.sendCommand(['CLIENT', 'INFO']))[1];
  const version = /redis_version:(\S+)/.exec(await client.info('server'))[1];
  return {
    url,
    version,
    client,
    /** Starts counting. */
    reset: () => client.sendCommand(['SLOWLOG', 'RESET']),
    /** Commands the services sent since `reset`, by name; PINGs apart. */
    roundTrips: async () => {
      const counts = {};
      let pings = 0;
      for (const [, , , argv, addr] of await client.sendCommand(['SLOWLOG', 'GET', '-1'])) {
        // '?:0' is a script's own command, run inside Redis.
        if (addr === own || addr === '?:0') continue;
        const name = String(argv[0]).toLowerCase();
        if (name === 'ping') pings++;
        else counts[name] = (counts[name] ?? 0) + 1;
      }
      return { total: Object.values(counts).reduce((a, b) => a + b, 0), counts, pings };
    },
    stop: async () => {
      await client.close().catch(() => client.destroy());
      await stop();
    },
  };
}

/**
 * An SMTP server of the bench's own on a free loopback port, for SMTP_URL (required
 * in production): it accepts every mail (the signup's verification mail) and keeps
 * none, so that no mail waits in the outbox, retried, while the bench measures.
 */
async function startMailSink() {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData: (stream, _session, callback) => {
      stream.on('end', () => callback());
      stream.resume();
    },
  });
  const port = await freePort();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { url: `smtp://127.0.0.1:${port}`, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/** Where the instances write their request logs: files, one JSON line per request, as in production. */
const LOG_DIR = mkdtempSync(join(tmpdir(), 'auth-bench-logs-'));
const logBytes = () => services.reduce((sum, { logFile }) => sum + (logFile ? statSync(logFile).size : 0), 0);

async function startService(env, name) {
  const logFile = join(LOG_DIR, `${name}.log`);
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  const memoryFile = join(LOG_DIR, `${name}.memory.jsonl`);
  const child = spawn(
    process.execPath,
    ['--require', MEMORY_PROBE, '--expose-gc', ...profile, 'dist/src/main.js'],
    {
      env: { ...process.env, ...env, BENCH_MEMORY_FILE: memoryFile },
      stdio: ['ignore', openSync(logFile, 'a'), 'inherit'],
    },
  );
  const base = `http://127.0.0.1:${env.PORT}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('the service exited during start-up');
    const ok = await fetch(`${base}/api/health`)
      .then((res) => res.ok)
      .catch(() => false);
    if (ok) return { child, base, pid: child.pid, logFile, memoryFile };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error('the service did not become healthy');
}

/**
 * One of bench/recipes/*.js (what a user would run instead of this service: a bare
 * NestJS route, the NestJS docs' JWT and session recipes) on a port of its own.
 */
async function startRecipe(file, env) {
  const port = await freePort();
  const child = spawn(process.execPath, [join('bench', 'recipes', file)], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => chunk.toString().includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) during start-up`)));
  });
  return { child, base: `http://127.0.0.1:${port}`, pid: child.pid };
}

/** One autocannon run; `onResponse(status)` sees every response. */
function load(options, onResponse) {
  let instance;
  const done = new Promise((resolve, reject) => {
    instance = autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
  if (onResponse) instance.on('response', (_client, status) => onResponse(status));
  return { done, stop: () => instance.stop() };
}

/**
 * Waits until the service is idle (under 8% of a core for 250 ms): logins of a
 * flood still queued for bcrypt, or a write that trails a run, must not be
 * charged to the next run.
 */
async function settle(service) {
  for (let i = 0; i < 80; i++) {
    const before = cpuSeconds(service.pid);
    await sleep(250);
    if (cpuSeconds(service.pid) - before <= 0.02) return;
  }
}

/** The running instances of the service: each run starts once all of them are idle. */
const services = [];
// Stopped from outside (Ctrl-C, SIGTERM): the instances stop, the run fails at its
// next request, and its clean-up stops Redis and PostgreSQL as after any failure.
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    log(`${signal}: stopping`);
    for (const { child } of services) child.kill('SIGTERM');
  });
async function settleAll() {
  for (const service of services) await settle(service);
}

/**
 * A run whose every answer must be 2xx: its rate, latency and the service's CPU
 * per request. It starts once the service is idle, unless `busy` says the load
 * beside it is part of the measurement.
 */
async function measure(label, service, options, busy = false) {
  if (!busy) await settleAll();
  const before = cpuSeconds(service.pid);
  const from = process.hrtime.bigint();
  const result = await load(options).done;
  const cpu = cpuSeconds(service.pid) - before;
  if (process.env.BENCH_CPU_PROF) {
    // In µs of the monotonic clock, as the profiles' timestamps are.
    const span = {
      label,
      pid: service.pid,
      from: Number(from / 1000n),
      to: Number(process.hrtime.bigint() / 1000n),
    };
    appendFileSync(join(process.env.BENCH_CPU_PROF, 'runs.jsonl'), `${JSON.stringify(span)}\n`);
  }
  const ok = result['2xx'];
  if (result.non2xx || result.errors || result.timeouts || !ok)
    throw new Error(`${label}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${ok} 2xx`);
  const figures = {
    requests: ok,
    rate: ok / result.duration,
    cpuUs: (cpu * 1e6) / ok,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
  log(
    label.padEnd(28),
    `${Math.round(figures.rate)} req/s`,
    `${Math.round(figures.cpuUs)} µs CPU/req`,
    `p50 ${figures.p50} ms p99 ${figures.p99} ms`,
  );
  return figures;
}

/**
 * Logins per second in the steady state: counted between the first and the last
 * completed login, so that neither the ramp-up (nothing completes during the
 * first hash) nor the logins still in flight at the end count against it.
 */
async function loginRate(service, body, label = 'login') {
  await settleAll();
  const completed = [];
  let failed = 0;
  const run = load(
    { url: `${service.base}/api/auth/token`, connections: CORES * 4, duration: SECONDS * 2, ...body },
    (status) => (status === 200 ? completed.push(performance.now()) : failed++),
  );
  const result = await run.done;
  if (failed || completed.length < 3)
    throw new Error(`${label}: ${failed} failures, ${completed.length} logins`);
  const rate = ((completed.length - 1) * 1000) / (completed.at(-1) - completed[0]);
  log(label.padEnd(28), `${rate.toFixed(2)} logins/s`);
  return { rate, sent: result.requests.sent };
}

/** One bcrypt compare at the configured cost, timed here (median of 3), while the service idles. */
async function hashMs(hash) {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await bcrypt.compare('x'.repeat(44), hash);
    times.push(performance.now() - started);
  }
  return median(times);
}

/** Compares per second with one compare per core in flight, for ~2 s: what the cores really give. */
async function parallelHashRate(hash) {
  const until = performance.now() + 2000;
  let count = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CORES }, async () => {
      while (performance.now() < until) {
        await bcrypt.compare('x'.repeat(44), hash);
        count++;
      }
    }),
  );
  return (count * 1000) / (performance.now() - started);
}

const json = (body, headers = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** A session id the bench seeds with SQL, and the cookie express-session accepts for it. */
const seededId = (n) => `bench-session-${n}`;
function seededCookie(name, secret, n) {
  const id = seededId(n);
  const signature = createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
  return `${name}=${encodeURIComponent(`s:${id}.${signature}`)}`;
}

async function main() {
  const database = await startDatabase();
  const mailSink = await startMailSink();
  const secrets = {
    SESSION_SECRET: randomBytes(48).toString('base64url'),
    JWT_SECRET: randomBytes(48).toString('base64url'),
    PASSWORD_PEPPER: randomBytes(48).toString('base64url'),
  };
  const env = {
    NODE_ENV: 'production',
    PORT: String(await freePort()),
    DATABASE_URL: database.url,
    ...secrets,
    BCRYPT_COST: String(BCRYPT_COST),
    // The bench is one client IP hammering one account: neither limit is under test here.
    AUTH_RATE_LIMIT: '100000',
    AUTH_RATE_WINDOW_SECONDS: '1',
    // The general per-IP budget stays on (its counting and headers are part of every
    // request's cost), set high enough that the one bench client never reaches it.
    API_RATE_LIMIT: '1000000000',
    LOGIN_MAX_FAILURES: '1000',
    LOG_LEVEL: 'info',
    // The bench runs the clean-up itself, to time it.
    CLEANUP_INTERVAL_SECONDS: '0',
    // The benchmark client is plain HTTP behind a pretend TLS proxy: the Secure cookie is accepted.
    TRUST_PROXY: 'loopback',
    // This instance keeps sessions and rate-limit counters in PostgreSQL and in memory.
    REDIS_URL: '',
    SESSION_STORE: 'postgres',
    // Required in production since mails are sent: the bench's own SMTP sink, and the
    // origin mailed links would point to (no link is followed here).
    SMTP_URL: mailSink.url,
    PUBLIC_URL: 'https://localhost',
  };
  // A service that does not start (a configuration error, say) leaves no database or sink behind.
  const service = await startService(env, 'postgres-store').catch(async (error) => {
    await mailSink.stop();
    await database.stop();
    throw error;
  });
  services.push(service);
  const { base } = service;
  const db = new Client({ connectionString: database.url });
  await db.connect();
  let cleanupSource;
  let redis;
  let redisService;
  let redisSkipped;
  let hsService;
  /** Databases made for one instance or recipe, dropped at the end. */
  const drops = [];
  /**
   * A database of its own in the same PostgreSQL (CREATE DATABASE), so that its
   * traffic (and its autovacuum) stays out of the round trips counted on the main
   * one; the main database when the role may not create one.
   */
  const ownDatabase = async (name) => {
    const databaseName = `bench_${name}_${process.pid}`;
    try {
      await db.query(`CREATE DATABASE ${databaseName}`);
    } catch (error) {
      log(`${name} shares the database (CREATE DATABASE failed: ${error.message})`);
      return database.url;
    }
    drops.push(async () => {
      const admin = new Client({ connectionString: database.url });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).finally(() => admin.end());
    });
    const url = new URL(database.url);
    url.pathname = `/${databaseName}`;
    return url.toString();
  };
  try {
    // The second instance: the same service, database and secrets, with Redis.
    const ownRedis = await startRedis();
    redisSkipped = ownRedis.skipped;
    if (redisSkipped) log(`the Redis rows are skipped: ${redisSkipped}`);
    else {
      redis = ownRedis;
      redisService = await startService(
        {
          ...env,
          PORT: String(await freePort()),
          REDIS_URL: redis.url,
          REDIS_KEY_PREFIX,
          SESSION_STORE: 'redis',
        },
        'redis-store',
      );
      services.push(redisService);
    }

    // The HS256 instance: the same service with JWT_ALGORITHM=HS256, on its own
    // database (CREATE DATABASE), or on the same one if the role may not create one.
    const hsDatabaseUrl = await ownDatabase('hs256');
    hsService = await startService(
      { ...env, PORT: String(await freePort()), DATABASE_URL: hsDatabaseUrl, JWT_ALGORITHM: 'HS256' },
      'hs256',
    );
    services.push(hsService);

    const email = `bench-${Date.now()}@example.com`;
    const credentials = json({ email, password: PASSWORD });
    if (!(await fetch(`${base}/api/auth/signup`, credentials)).ok) throw new Error('signup failed');
    // The measured logins (their rate, the flood) are another user's: each makes a sign-in,
    // and at 100 live sign-ins a user's new one ends the least recently used, which would
    // sooner or later be the token or the sessions the /me runs are using.
    const loginCredentials = json({ email: `bench-logins-${Date.now()}@example.com`, password: PASSWORD });
    if (!(await fetch(`${base}/api/auth/signup`, loginCredentials)).ok) throw new Error('signup failed');
    // On its own database the HS256 instance needs the account too.
    if (hsDatabaseUrl !== database.url && !(await fetch(`${hsService.base}/api/auth/signup`, credentials)).ok)
      throw new Error('signup on the HS256 instance failed');
    /** A fresh access token of `service`'s, with its header's `alg`. */
    const accessToken = async (service) => {
      const res = await fetch(`${service.base}/api/auth/token`, credentials);
      if (!res.ok) throw new Error(`token login on ${service.base}: ${res.status}`);
      const { accessToken: jwt } = await res.json();
      return { jwt, alg: JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).alg };
    };
    const token = await accessToken(service);
    const hsToken = await accessToken(hsService);
    if (token.alg !== 'ES256' || hsToken.alg !== 'HS256')
      throw new Error(`expected ES256 and HS256 tokens, got ${token.alg} and ${hsToken.alg}`);
    // An API key of the same user (POST /api/keys right after a token login: recent authentication).
    const created = await fetch(
      `${base}/api/keys`,
      json({ name: 'bench' }, { authorization: `Bearer ${token.jwt}` }),
    );
    if (created.status !== 201) throw new Error(`POST /api/keys: ${created.status} ${await created.text()}`);
    const { key: apiKey } = await created.json();

    // What a user would pick instead, answering the JSON our /me answers.
    const meJson = JSON.stringify(
      await (
        await fetch(`${base}/api/auth/me`, { headers: { authorization: `Bearer ${token.jwt}` } })
      ).json(),
    );
    const recipeSecret = randomBytes(32).toString('base64url');
    const recipes = {
      bare: await startRecipe('bare-nest.js', { BENCH_ME_JSON: meJson }),
      jwt: await startRecipe('jwt-recipe.js', { BENCH_ME_JSON: meJson, BENCH_JWT_SECRET: recipeSecret }),
      session: await startRecipe('session-recipe.js', {
        BENCH_ME_JSON: meJson,
        // Its sessions are touched on every request: on a database of their own.
        DATABASE_URL: await ownDatabase('session_recipe'),
        BENCH_EMAIL: email,
        BENCH_PASSWORD: PASSWORD,
        BENCH_SESSION_SECRET: recipeSecret,
      }),
    };
    services.push(...Object.values(recipes));
    // The docs' JWT recipe signs at its own login; the token is made here (the login is not measured).
    const recipeToken = new JwtService({ secret: recipeSecret }).sign(
      { sub: JSON.parse(meJson).id },
      { expiresIn: '2h' },
    );
    const recipeLogin = await fetch(`${recipes.session.base}/api/auth/session`, credentials);
    if (!recipeLogin.ok) throw new Error(`the session recipe's login: ${recipeLogin.status}`);
    const recipeCookie = recipeLogin.headers.get('set-cookie').split(';')[0];
    const recipeRuns = {
      bare: { url: `${recipes.bare.base}/api/auth/me` },
      jwtRecipe: {
        url: `${recipes.jwt.base}/api/auth/me`,
        headers: { authorization: `Bearer ${recipeToken}` },
      },
      sessionRecipe: { url: `${recipes.session.base}/api/auth/me`, headers: { cookie: recipeCookie } },
    };
    const session = await fetch(
      `${base}/api/auth/session`,
      json({ email, password: PASSWORD }, { 'x-forwarded-proto': 'https' }),
    );
    const cookieName = session.headers.get('set-cookie').split('=')[0];

    // Real signed-in sessions, seeded with SQL: copies of the one just made, each
    // with its own id. The cookie runs cycle through SAMPLE of them.
    const [{ user_id: userId, data }] = (
      await db.query(`SELECT user_id, data FROM cookie_sessions WHERE user_id IS NOT NULL LIMIT 1`)
    ).rows;
    // The seeded sessions belong to copies of this user, SESSIONS_PER_OWNER each: a user
    // has at most 100 live sign-ins, and this user's own logins (a token each round, the
    // login flood) would otherwise end the seeded sessions as the least recently used.
    const owners = (
      await db.query(
        `INSERT INTO users
         SELECT (jsonb_populate_record(NULL::users, to_jsonb(u) || jsonb_build_object(
                  'id', gen_random_uuid(), 'email', 'bench-owner-' || g || '@example.com'))).*
         FROM users u, generate_series(1, $2::int) g WHERE u.id = $1
         RETURNING id`,
        [userId, (2 * SAMPLE) / SESSIONS_PER_OWNER],
      )
    ).rows.map((row) => row.id);
    await db.query(`INSERT INTO user_roles (user_id, role_name) SELECT unnest($1::uuid[]), 'user'`, [owners]);
    // Sessions `from`..`to`; signed in when `ownersOf` is given: the g-th of them is
    // ownersOf[(g - from) / SESSIONS_PER_OWNER]'s.
    const seed = (from, to, ownersOf) =>
      db.query(
        `INSERT INTO cookie_sessions (id_hash, user_id, data, absolute_expires_at)
         SELECT encode(sha256(('bench-session-' || g)::bytea), 'hex'), owner,
                CASE WHEN owner IS NULL THEN '{"cookie":{}}'::jsonb
                     ELSE jsonb_set($4::jsonb, '{userId}', to_jsonb(owner::text)) END,
                now() + interval '1 day'
         FROM generate_series($1::int, $2::int) g,
              LATERAL (SELECT ($3::uuid[])[(g - $1) / $5 + 1] AS owner) o`,
        [from, to, ownersOf ?? [], data, SESSIONS_PER_OWNER],
      );
    // Each connection cycles through its own share of the sessions.
    // A checkpoint (when the role may ask for one), then a pause for the writes to settle.
    const quiesce = async () => {
      await db.query('CHECKPOINT').catch(() => undefined);
      await sleep(3000);
    };
    const cookieRun = (numbers, to = base) => {
      const requests = numbers.map((n) => ({
        method: 'GET',
        path: '/api/auth/me',
        headers: {
          cookie: seededCookie(cookieName, secrets.SESSION_SECRET, n),
          'x-forwarded-proto': 'https',
        },
      }));
      const share = Math.ceil(requests.length / CONNECTIONS);
      let next = 0;
      return {
        url: to,
        requests,
        setupClient: (client) => {
          const start = (next++ % CONNECTIONS) * share;
          client.setRequests(requests.slice(start, start + share));
        },
      };
    };
    // Sessions not in the service's memory: dropped through the service's own
    // invalidation channel (as another instance's change would), then each read
    // exactly once, so every request goes to PostgreSQL. Their last use is first set
    // to now (as that instance would have recorded it), so each is a read without the
    // once-a-minute write, however long ago the previous run was.
    const coldRun = async (label, numbers) => {
      await db.query(
        `UPDATE cookie_sessions SET last_used_at = now()
         WHERE id_hash IN (SELECT encode(sha256(('bench-session-' || g)::bytea), 'hex') FROM unnest($1::int[]) g)`,
        [numbers],
      );
      await db.query(
        `SELECT pg_notify('auth_invalidation', json_build_object('kind', 'session', 'key',
           encode(sha256(('bench-session-' || g)::bytea), 'hex'))::text)
         FROM unnest($1::int[]) g`,
        [numbers],
      );
      await sleep(500);
      return measure(label, service, { ...cookieRun(numbers), amount: numbers.length });
    };
    const small = Array.from({ length: SAMPLE }, (_, i) => i + 1);
    // Half of each set for the warm runs, half for the runs that drop them from memory.
    const halves = (set) => [set.slice(0, SAMPLE / 2), set.slice(SAMPLE / 2)];
    const [warmSmall, coldSmall] = halves(small);
    await seed(1, SAMPLE, owners.slice(0, SAMPLE / SESSIONS_PER_OWNER));
    if (redis) {
      // The same in Redis, for the Redis-store instance: copies of a session it made
      // itself, under the same ids (so the same cookies), each with its own public id.
      const signedIn = await fetch(
        `${redisService.base}/api/auth/session`,
        json({ email, password: PASSWORD }, { 'x-forwarded-proto': 'https' }),
      );
      if (!signedIn.ok) throw new Error(`session sign-in on the Redis-store instance: ${signedIn.status}`);
      const [original] = await redis.client.zRange(`${REDIS_KEY_PREFIX}user-sessions:${userId}`, 0, -1);
      const fields = await redis.client.hGetAll(`${REDIS_KEY_PREFIX}session:${original}`);
      const expiresAt = await redis.client.sendCommand([
        'PEXPIRETIME',
        `${REDIS_KEY_PREFIX}session:${original}`,
      ]);
      const copies = redis.client.multi();
      // Owned as in PostgreSQL (the same owners), so that the user's own logins end none of them.
      for (const [i, n] of warmSmall.entries()) {
        const owner = owners[Math.floor(i / SESSIONS_PER_OWNER)];
        const hash = createHash('sha256').update(seededId(n)).digest('hex');
        const key = `${REDIS_KEY_PREFIX}session:${hash}`;
        const ownedData = JSON.stringify({ ...JSON.parse(fields.data), userId: owner });
        copies.hSet(key, { ...fields, userId: owner, data: ownedData, publicId: randomUUID() });
        copies.pExpireAt(key, expiresAt);
        copies.zAdd(`${REDIS_KEY_PREFIX}user-sessions:${owner}`, {
          score: Number(fields.absoluteExpiresAt),
          value: hash,
        });
      }
      await copies.exec();
    }

    // Access tokens live 15 minutes and the rounds take longer: each round takes new ones.
    const me = (to, headers) => ({ url: `${to.base}/api/auth/me`, headers });
    const bearerRun = (to, jwt) => me(to, { authorization: `Bearer ${jwt}` });
    let bearer = bearerRun(service, token.jwt);
    let bearerHs = bearerRun(hsService, hsToken.jwt);
    const byKey = me(service, { 'x-api-key': apiKey });
    const flood = {
      url: `${base}/api/auth/token`,
      connections: FLOOD,
      duration: SECONDS * 2 + 2,
      ...loginCredentials,
    };
    const referenceHash = await bcrypt.hash('x'.repeat(44), BCRYPT_COST);

    // Warm-up (JIT, connection pools, the 1,000 sessions read once), not measured.
    // The Redis-store instance is warmed up alike.
    const warmUps = (to) => [
      { url: `${to}/api` },
      { ...bearer, url: `${to}/api/auth/me` },
      cookieRun(warmSmall, to),
    ];
    for (const options of [
      ...warmUps(base),
      byKey,
      ...(redis ? warmUps(redisService.base) : []),
      { url: `${hsService.base}/api` },
      bearerHs,
      ...Object.values(recipeRuns),
    ])
      await load({ ...options, duration: 2 }).done;

    // Round trips to PostgreSQL: its transaction count (pg_stat_database) across a
    // run, read once every backend has reported, less the bench's own read. Nothing
    // else uses PostgreSQL between the two reads (the invalidation feeds' heartbeats
    // do not show in the count): runs that do not use it cover part of the wait.
    let pgBusyAt = performance.now();
    const pgUsed = () => (pgBusyAt = performance.now());
    const pgCount = async () => {
      const wait = pgBusyAt + PG_STATS_LAG_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const [{ n }] = (
        await db.query(
          `SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`,
        )
      ).rows;
      return Number(n);
    };
    /**
     * Cookie /me on `target`'s sessions in memory, with the PostgreSQL transactions
     * and (given Redis) the Redis commands it caused. First, unmeasured but counted,
     * every session is asked for once: its read once its copy in memory is 60 s old
     * and its once-a-minute touch fall there (in the bench every session is due each
     * round, where traffic spreads them over a minute); then a 2 s run brings back an
     * instance that sat idle (V8 shrinks an idle heap) to how it serves under steady
     * traffic. So the measured run is the same whatever the round did before it.
     */
    const cookieCounted = async (label, target) => {
      await settleAll();
      const before = await pgCount();
      await redis?.reset();
      let passed = 0;
      for (const extra of [{ amount: warmSmall.length }, { duration: 2 }]) {
        const pass = await load({ ...cookieRun(warmSmall, target.base), ...extra }).done;
        if (pass.non2xx || pass.errors) throw new Error(`${label}: the runs before it failed`);
        passed += pass['2xx'];
      }
      const passTrips = await redis?.roundTrips();
      const figures = await measure(label, target, cookieRun(warmSmall, target.base));
      const redisTrips = await redis?.roundTrips();
      if (redisTrips) redisTrips.measured = redisTrips.total - passTrips.total;
      pgUsed();
      const requests = passed + figures.requests;
      return { figures, requests, redisTrips, pgAfter: async () => (await pgCount()) - before - 1 };
    };

    const rounds = [];
    for (let round = 1; round <= ROUNDS; round++) {
      log(`round ${round} of ${ROUNDS}`);
      const r = {};
      r.baseline = await measure('GET /api', service, { url: `${base}/api` });
      // The floor and the docs' recipes, in turn (the session recipe reads PostgreSQL).
      const recipeKeys = ['bare', 'jwtRecipe', 'sessionRecipe'];
      for (let i = 0; i < recipeKeys.length; i++) {
        const key = recipeKeys[(i + round - 1) % recipeKeys.length];
        const target = { bare: recipes.bare, jwtRecipe: recipes.jwt, sessionRecipe: recipes.session }[key];
        r[key] = await measure(`${key} /me`, target, recipeRuns[key]);
      }
      pgUsed();
      // The stores' cookie runs take turns at going first, so that whatever a place in
      // the round costs, both pay it alike. After each, runs that leave PostgreSQL
      // alone while its count settles.
      const stores = [
        { key: 'cookie', label: 'GET /api/auth/me (cookie)', target: service },
        ...(redis
          ? [{ key: 'redisCookie', label: 'cookie /me, SESSION_STORE=redis', target: redisService }]
          : []),
      ];
      if (round % 2 === 0) stores.reverse();
      for (const [place, { key, label, target }] of stores.entries()) {
        const counted = await cookieCounted(label, target);
        r[key] = counted.figures;
        r[`${key}Requests`] = counted.requests;
        r[`${key}Trips`] = counted.redisTrips;
        if (place === 0) {
          r.hashMs = await hashMs(referenceHash);
          r.parallelHashes = await parallelHashRate(referenceHash);
        } else {
          // The Redis-store instance's own ceiling.
          r.redisBaseline = await measure('GET /api, Redis-store instance', redisService, {
            url: `${redisService.base}/api`,
          });
        }
        r[`${key}Pg`] = await counted.pgAfter();
      }
      let roundTrips = `PostgreSQL store ${r.cookiePg} PostgreSQL transactions`;
      if (redis) {
        const { total, counts, pings } = r.redisCookieTrips;
        roundTrips +=
          `; Redis store ${total} Redis commands ${JSON.stringify(counts)} (+${pings} PINGs;` +
          ` ${r.redisCookieTrips.measured} in the measured run),` +
          ` ${r.redisCookiePg} PostgreSQL transactions; Redis/PostgreSQL store ` +
          `${(r.redisCookie.rate / r.cookie.rate).toFixed(2)} (${stores[0].key === 'cookie' ? 'PostgreSQL' : 'Redis'} first)`;
      }
      log(`round trips of cookie /me: ${roundTrips}`);
      // The credential rows, in turn (each round starts with the next one), then the
      // HS256 instance's own ceiling.
      [bearer, bearerHs] = await Promise.all(
        [service, hsService].map(async (to) => bearerRun(to, (await accessToken(to)).jwt)),
      );
      const credentialRuns = [
        { key: 'bearerHs', label: 'GET /api/auth/me (bearer HS256)', target: hsService, options: bearerHs },
        { key: 'bearer', label: 'GET /api/auth/me (bearer ES256)', target: service, options: bearer },
        { key: 'apiKey', label: 'GET /api/auth/me (API key)', target: service, options: byKey },
      ];
      for (let i = 0; i < credentialRuns.length; i++) {
        const { key, label, target, options } = credentialRuns[(i + round - 1) % credentialRuns.length];
        r[key] = await measure(label, target, options);
      }
      r.hsBaseline = await measure('GET /api, HS256 instance', hsService, { url: `${hsService.base}/api` });
      log(
        `ES256 / HS256 bearer ${pct(r.bearer.rate / r.baseline.rate / (r.bearerHs.rate / r.hsBaseline.rate))},`,
        `API key / HS256 bearer ${pct(r.apiKey.rate / r.baseline.rate / (r.bearerHs.rate / r.hsBaseline.rate))}`,
        "(each against its instance's GET /api)",
      );
      const paced = { ...bearer, connections: 10, overallRate: PACED_RATE, duration: SECONDS * 2 };
      r.cold = await coldRun(`cookie /me, not in memory`, coldSmall);
      r.login = (await loginRate(service, loginCredentials)).rate;
      if (redis) {
        await settleAll();
        await redis.reset();
        const { rate, sent } = await loginRate(redisService, loginCredentials, 'login, Redis throttler');
        r.redisLogin = rate;
        r.redisLoginTrips = (await redis.roundTrips()).total / sent;
      }
      r.quiet = await measure(`/me at ${PACED_RATE} req/s, quiet`, service, paced);
      // The flood starts first and outlasts the paced run, so all of it is under load.
      const flooding = load(flood);
      await sleep(1000);
      r.loud = await measure(`/me at ${PACED_RATE} req/s, ${FLOOD} logins`, service, paced, true);
      await flooding.done;
      await settleAll();
      pgUsed();
      rounds.push(r);
    }
    const mid = (pick) => median(rounds.map(pick));
    const memoryAfterRounds = await liveMemory(service);

    // Cookie /me with 1,000 and with STORED_SESSIONS stored sessions. The large
    // table adds anonymous sessions and, spread among them, SAMPLE more signed-in
    // ones: the runs at 1M use those, so they start as cold as the runs at 1k did.
    log(`seeding ${STORED_SESSIONS - SAMPLE} more sessions`);
    let started = performance.now();
    const step = Math.floor((STORED_SESSIONS - SAMPLE) / SAMPLE);
    const large = Array.from({ length: SAMPLE }, (_, i) => SAMPLE + (i + 1) * step);
    const [warmLarge, coldLarge] = halves(large);
    let from = SAMPLE + 1;
    for (const [i, n] of large.entries()) {
      if (n > from) await seed(from, n - 1);
      await seed(n, n, [owners[SAMPLE / SESSIONS_PER_OWNER + Math.floor(i / SESSIONS_PER_OWNER)]]);
      from = n + 1;
    }
    if (from <= STORED_SESSIONS) await seed(from, STORED_SESSIONS);
    // Vacuumed and checkpointed now, so that neither autovacuum nor the flushing of
    // a million new rows runs beside the measurements.
    await db.query('VACUUM ANALYZE cookie_sessions');
    await quiesce();
    const seedSeconds = (performance.now() - started) / 1000;
    const [{ stored }] = (await db.query('SELECT count(*)::int AS stored FROM cookie_sessions')).rows;
    await load({ ...cookieRun(warmLarge), duration: 2 }).done; // warm-up, as at 1k
    const atLarge = [];
    const coldAtLarge = [];
    for (let round = 1; round <= ROUNDS; round++) {
      atLarge.push(await measure(`cookie /me, ${stored} stored`, service, cookieRun(warmLarge)));
      coldAtLarge.push(await coldRun(`cookie /me, ${stored}, not in memory`, coldLarge));
    }
    const memoryAtLarge = await liveMemory(service);

    // The clean-up: the anonymous sessions expire (half past their absolute
    // lifetime, half idle too long), then one pass of the service's own clean-up
    // deletes them while cookie /me runs against it.
    log('expiring the anonymous sessions');
    await db.query(
      `UPDATE cookie_sessions SET absolute_expires_at = now() - interval '1 second'
       WHERE user_id IS NULL AND id_hash < '8'`,
    );
    await db.query(
      `UPDATE cookie_sessions SET last_used_at = now() - interval '2 days'
       WHERE user_id IS NULL AND id_hash >= '8'`,
    );
    cleanupSource = await new DataSource({
      ...dataSourceOptions(database.url, 1),
      entities: authEntities,
    }).initialize();
    // The service's own clean-up, on a connection of the bench's (its sessions part).
    const cleanup = new SignInCleanup(
      cleanupSource,
      resolveAuthOptions(authModuleOptions(loadConfig(env))),
      new CookieSessionsRepository(cleanupSource),
      new TokenLoginsRepository(cleanupSource),
    );
    const during = load({ ...cookieRun(warmLarge), duration: 3600 });
    const cpuBefore = cpuSeconds(service.pid);
    started = performance.now();
    const counts = await cleanup.run();
    const cleanupSeconds = (performance.now() - started) / 1000;
    during.stop();
    const duringResult = await during.done;
    if (duringResult.non2xx || duringResult.errors) throw new Error('cookie /me failed during the clean-up');
    const duringRate = duringResult['2xx'] / duringResult.duration;
    log(
      `clean-up: ${counts.sessions} sessions in ${cleanupSeconds.toFixed(1)} s,`,
      `cookie /me ${Math.round(duringRate)} req/s meanwhile (service CPU ${(cpuSeconds(service.pid) - cpuBefore).toFixed(1)} s)`,
    );
    started = performance.now();
    await cleanup.run();
    const idlePassMs = performance.now() - started;
    await quiesce();
    const afterCleanup = await measure(`cookie /me after the clean-up`, service, cookieRun(warmLarge));
    const memory = await liveMemory(service);

    // The table.
    const bearerRatio = mid((r) => r.bearer.rate / r.baseline.rate);
    // Two processes differ by more than 10% on this machine whatever they run, so each
    // /me is first taken against its own instance's GET /api of the same round, and
    // those shares are compared: what is left is what the credential check costs.
    const toHs = (key) => ({
      rate: mid((r) => r[key].rate / r.baseline.rate / (r.bearerHs.rate / r.hsBaseline.rate)),
      cpu: mid((r) => r[key].cpuUs / r.baseline.cpuUs / (r.bearerHs.cpuUs / r.hsBaseline.cpuUs)),
    });
    const es256ToHs = toHs('bearer');
    const apiKeyToHs = toHs('apiKey');
    const hsTarget = '≥ 90% of the HS256 bearer row (within 10%)';
    const cookieRatio = mid((r) => r.cookie.rate / r.baseline.rate);
    const loginRatio = mid((r) => r.login / ((CORES * 1000) / r.hashMs));
    const redisCookieRatio = redis ? mid((r) => r.redisCookie.rate / r.cookie.rate) : undefined;
    const redisLoginRatio = redis ? mid((r) => r.redisLogin / ((CORES * 1000) / r.hashMs)) : undefined;
    const redisCookieRequests = redis ? rounds.reduce((sum, r) => sum + r.redisCookieRequests, 0) : 0;
    const loginToMeasured = mid((r) => r.login / r.parallelHashes);
    const p99Ratio = mid((r) => r.loud.p99 / r.quiet.p99);
    const atSmall = mid((r) => r.cookie.rate);
    const atLargeRate = median(atLarge.map((f) => f.rate));
    const largeRatio = atLargeRate / atSmall;
    const coldSmallRate = mid((r) => r.cold.rate);
    const coldLargeRate = median(coldAtLarge.map((f) => f.rate));
    const total = (pick) => rounds.reduce((sum, r) => sum + pick(r), 0);
    const cookieRequests = total((r) => r.cookieRequests);
    const sessionsRead = (SAMPLE / 2) * ROUNDS;
    const trips = (count, requests, what) =>
      `${(count / requests).toFixed(3)} ${what} per request (${Math.round(count).toLocaleString('en')} in ` +
      `${requests.toLocaleString('en')} requests: ${(count / sessionsRead).toFixed(2)} per session and run)`;
    // A session in memory costs a read once CACHE_MAX_AGE_SECONDS (60) have passed and a touch a minute.
    const tripsTarget =
      '≈ 0 per request: ≤ 2 per session and run (a read after 60 s in memory, a touch a minute)';
    const tripsMet = (count) => count / sessionsRead <= 2.1;
    /**
     * Every /me path against a bare NestJS route (the floor) and against GET /api, with
     * the docs' recipes beside them: per-round ratios, medians.
     */
    const floorTable = () => {
      const toBare = (pick) => mid((r) => pick(r).rate / r.bare.rate);
      const paths = [
        ['bare NestJS 12 route, same JSON (`bench/recipes/bare-nest.js`)', (r) => r.bare, undefined],
        ['`GET /api` (no I/O)', (r) => r.baseline, 0.85],
        ['`GET /api/auth/me` by bearer token (ES256)', (r) => r.bearer, 0.8],
        ['`GET /api/auth/me` by API key', (r) => r.apiKey, 0.8],
        ['`GET /api/auth/me` by session cookie (PostgreSQL store)', (r) => r.cookie, 0.6],
        ...(redis ? [['`GET /api/auth/me` by session cookie (Redis store)', (r) => r.redisCookie, 0.6]] : []),
        ['NestJS docs JWT recipe `/me` (`bench/recipes/jwt-recipe.js`)', (r) => r.jwtRecipe, undefined],
        [
          'NestJS docs session recipe `/me` (`bench/recipes/session-recipe.js`)',
          (r) => r.sessionRecipe,
          undefined,
        ],
      ];
      const ahead = [
        ['bearer `/me` ahead of the JWT recipe', (r) => r.bearer.rate / r.jwtRecipe.rate],
        ['API-key `/me` ahead of the JWT recipe', (r) => r.apiKey.rate / r.jwtRecipe.rate],
        ['cookie `/me` ahead of the session recipe', (r) => r.cookie.rate / r.sessionRecipe.rate],
      ];
      return [
        `Against what a user would pick instead (request logging on: one JSON line per request to a file, ` +
          `${(logBytes() / 1e6).toFixed(0)} MB written in all):`,
        '',
        '| path | figure | × bare NestJS | × `GET /api` | target (× bare NestJS) | |',
        '|---|---|---|---|---|---|',
        ...paths.map(([path, pick, target]) => {
          const ratio = toBare(pick);
          return `| ${path} | ${Math.round(mid((r) => pick(r).rate))} req/s, ${cpu((r) => pick(r).cpuUs)} CPU/req | ${ratio.toFixed(2)} | ${mid((r) => pick(r).rate / r.baseline.rate).toFixed(2)} | ${target === undefined ? '' : `≥ ${target.toFixed(2)}`} | ${target === undefined ? '' : ratio >= target ? 'met' : '**missed**'} |`;
        }),
        ...ahead.map(([what, ratio]) => {
          const value = mid(ratio);
          return `| ${what} | ${value.toFixed(2)} × the recipe's rate | | | > 1 | ${value > 1 ? 'met' : '**missed**'} |`;
        }),
      ];
    };
    const row = (path, figure, ratio, target, met) =>
      `| ${path} | ${figure} | ${ratio} | ${target} | ${met === undefined ? '' : met ? 'met' : '**missed**'} |`;
    const cpu = (pick) => `${Math.round(mid(pick))} µs`;
    const lines = [
      '',
      `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${CORES} × ${cpus()[0]?.model ?? 'CPU'}, ` +
        `Node ${process.version}, PostgreSQL ${database.url === process.env.DATABASE_URL ? 'from DATABASE_URL' : 'embedded'}, ` +
        `${redis ? `Redis ${redis.version} (its own, no persistence) for a second instance, ` : ''}` +
        `bcrypt cost ${BCRYPT_COST}; medians of ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} connections; ` +
        `service and load generator on the same machine.`,
      '',
      '| path | figure | ratio | target | |',
      '|---|---|---|---|---|',
      row(
        '`GET /api` (baseline, no I/O)',
        `${Math.round(mid((r) => r.baseline.rate))} req/s, ${cpu((r) => r.baseline.cpuUs)} CPU/req`,
        '100%',
        '',
        undefined,
      ),
      row(
        '`GET /api/auth/me` by bearer token (ES256, the default)',
        `${Math.round(mid((r) => r.bearer.rate))} req/s, ${cpu((r) => r.bearer.cpuUs)} CPU/req`,
        pct(bearerRatio),
        '≥ 85% of baseline',
        bearerRatio >= 0.85,
      ),
      row(
        '`GET /api/auth/me` by bearer token, HS256 (an instance with `JWT_ALGORITHM=HS256`)',
        `${Math.round(mid((r) => r.bearerHs.rate))} req/s, ${cpu((r) => r.bearerHs.cpuUs)} CPU/req ` +
          `(its instance's \`GET /api\`: ${Math.round(mid((r) => r.hsBaseline.rate))} req/s, ` +
          `${cpu((r) => r.hsBaseline.cpuUs)} CPU/req; ${pct(mid((r) => r.bearerHs.rate / r.hsBaseline.rate))} of it)`,
        '100% (the reference of the next two rows)',
        '',
        undefined,
      ),
      row(
        "`GET /api/auth/me` by ES256 bearer token, against HS256 (each as a share of its own instance's `GET /api`)",
        `${Math.round(mid((r) => r.bearer.rate))} req/s, ${cpu((r) => r.bearer.cpuUs)} CPU/req`,
        `${pct(es256ToHs.rate)} of HS256 (CPU/req ${pct(es256ToHs.cpu)})`,
        hsTarget,
        es256ToHs.rate >= 0.9,
      ),
      row(
        '`GET /api/auth/me` by API key (`X-API-Key`), against HS256 (the same way)',
        `${Math.round(mid((r) => r.apiKey.rate))} req/s, ${cpu((r) => r.apiKey.cpuUs)} CPU/req`,
        `${pct(apiKeyToHs.rate)} of HS256 (CPU/req ${pct(apiKeyToHs.cpu)}; ${pct(mid((r) => r.apiKey.rate / r.baseline.rate))} of baseline)`,
        hsTarget,
        apiKeyToHs.rate >= 0.9,
      ),
      row(
        `\`GET /api/auth/me\` by session cookie (${SAMPLE / 2} sessions in turn)`,
        `${Math.round(atSmall)} req/s, ${cpu((r) => r.cookie.cpuUs)} CPU/req`,
        pct(cookieRatio),
        '≥ 70% of baseline',
        cookieRatio >= 0.7,
      ),
      ...(redis
        ? [
            row(
              `\`GET /api/auth/me\` by session cookie, \`SESSION_STORE=redis\` (${SAMPLE / 2} sessions in turn)`,
              `${Math.round(mid((r) => r.redisCookie.rate))} req/s, ${cpu((r) => r.redisCookie.cpuUs)} CPU/req ` +
                `(${pct(mid((r) => r.redisCookie.rate / r.baseline.rate))} of baseline; its instance's \`GET /api\`: ` +
                `${Math.round(mid((r) => r.redisBaseline.rate))} req/s, ${cpu((r) => r.redisBaseline.cpuUs)} CPU/req)`,
              `${pct(redisCookieRatio)} of the PostgreSQL store's (CPU/req ${pct(mid((r) => r.redisCookie.cpuUs / r.cookie.cpuUs))})`,
              "≥ 100% of the PostgreSQL store's",
              Math.round(redisCookieRatio * 100) >= 100,
            ),
          ]
        : []),
      row(
        'cookie `/me` in memory, PostgreSQL store: round trips',
        trips(
          total((r) => r.cookiePg),
          cookieRequests,
          'PostgreSQL transactions',
        ),
        '',
        tripsTarget,
        tripsMet(total((r) => r.cookiePg)),
      ),
      ...(redis
        ? [
            row(
              'the same, Redis store',
              `${trips(
                total((r) => r.redisCookieTrips.total),
                redisCookieRequests,
                'Redis commands',
              )}, ${total((r) => r.redisCookieTrips.measured)} of them in the measured runs; ` +
                `PostgreSQL ${(total((r) => r.redisCookiePg) / redisCookieRequests).toFixed(3)} per request`,
              '',
              tripsTarget,
              tripsMet(total((r) => r.redisCookieTrips.total)) && tripsMet(total((r) => r.redisCookiePg)),
            ),
          ]
        : []),
      row(
        '`POST /api/auth/token` (login)',
        `${mid((r) => r.login).toFixed(2)} logins/s; ceiling ${CORES} × 1/${Math.round(mid((r) => r.hashMs))} ms = ${mid((r) => (CORES * 1000) / r.hashMs).toFixed(2)}/s (measured with ${CORES} compares in flight: ${mid((r) => r.parallelHashes).toFixed(2)}/s, ${pct(loginToMeasured)})`,
        pct(loginRatio),
        '≥ 90% of the bcrypt ceiling',
        loginRatio >= 0.9,
      ),
      ...(redis
        ? [
            row(
              'the same, rate limit counted in Redis (`REDIS_URL`)',
              `${mid((r) => r.redisLogin).toFixed(2)} logins/s, ${mid((r) => r.redisLoginTrips).toFixed(2)} Redis commands per login (${pct(mid((r) => r.redisLogin / r.login))} of the in-memory throttler's)`,
              pct(redisLoginRatio),
              '≥ 90% of the bcrypt ceiling',
              redisLoginRatio >= 0.9,
            ),
          ]
        : []),
      row(
        `\`/me\` (bearer) p50 / p99 at ${PACED_RATE} req/s`,
        `${mid((r) => r.quiet.p50)} / ${mid((r) => r.quiet.p99)} ms`,
        '',
        '',
        undefined,
      ),
      row(
        `the same during ${FLOOD} concurrent logins`,
        `${mid((r) => r.loud.p50)} / ${mid((r) => r.loud.p99)} ms`,
        `${p99Ratio.toFixed(1)} × p99`,
        '≤ 2 × p99',
        p99Ratio <= 2,
      ),
      row(
        `cookie \`/me\` with ${stored.toLocaleString('en')} stored sessions`,
        `${Math.round(atLargeRate)} req/s`,
        pct(largeRatio),
        '≥ 80% of its rate at 1k',
        largeRatio >= 0.8,
      ),
      row(
        `cookie \`/me\` whose session is not in memory (read from PostgreSQL), ${SAMPLE.toLocaleString('en')} vs ${stored.toLocaleString('en')} stored`,
        `${Math.round(coldSmallRate)} vs ${Math.round(coldLargeRate)} req/s`,
        pct(coldLargeRate / coldSmallRate),
        '',
        undefined,
      ),
      row(
        `clean-up of ${counts.sessions.toLocaleString('en')} expired sessions`,
        `${cleanupSeconds.toFixed(1)} s (${Math.round(counts.sessions / cleanupSeconds).toLocaleString('en')} rows/s); cookie \`/me\` meanwhile ${Math.round(duringRate)} req/s`,
        pct(duringRate / atLargeRate),
        '',
        undefined,
      ),
      row('clean-up pass with nothing to delete', `${Math.round(idlePassMs)} ms`, '', '', undefined),
      row(
        'cookie `/me` after the clean-up',
        `${Math.round(afterCleanup.rate)} req/s`,
        pct(afterCleanup.rate / atSmall),
        '',
        undefined,
      ),
      row('service memory after the rounds', memoryText(memoryAfterRounds), '', '', undefined),
      row(
        `service memory with ${stored.toLocaleString('en')} stored sessions`,
        memoryText(memoryAtLarge),
        pct(memoryAtLarge.heapUsed / memoryAfterRounds.heapUsed),
        '',
        undefined,
      ),
      row(
        'service memory after the run',
        `${memoryText(memory)}; peak resident of the whole run ${memory.hwm} MB`,
        '',
        '',
        undefined,
      ),
      '',
      ...floorTable(),
      '',
      `ES256 bearer / HS256 bearer: ${pct(es256ToHs.rate)} (CPU/req ${pct(es256ToHs.cpu)}); ` +
        `API key / HS256 bearer: ${pct(apiKeyToHs.rate)} (CPU/req ${pct(apiKeyToHs.cpu)}); ` +
        `target: each within 10% of the HS256 bearer row (≥ 90% of its rate): ` +
        `ES256 ${es256ToHs.rate >= 0.9 ? 'met' : 'missed'}, API key ${apiKeyToHs.rate >= 0.9 ? 'met' : 'missed'}. ` +
        `The HS256 row runs on an instance of its own (JWT_ALGORITHM=HS256, ${
          hsDatabaseUrl === database.url ? 'on the same database' : 'on a database of its own'
        }), in the same rounds, in turn with the other two; each /me row is compared as a share of its own instance's GET /api of the same round, since two processes differ by more than 10% here whatever they run.`,
      '',
      `Seeding ${(STORED_SESSIONS - SAMPLE).toLocaleString('en')} sessions took ${seedSeconds.toFixed(0)} s.`,
      redis
        ? "Round trips: PostgreSQL transactions as pg_stat_database counts them (autovacuum included, less the bench's own reads); " +
          'Redis commands as the service sent them (not those its scripts run inside Redis), its once-a-second PING apart.'
        : `The Redis rows are skipped: ${redisSkipped}.`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await cleanupSource?.destroy().catch(() => undefined);
    await db.end().catch(() => undefined);
    for (const { child } of services) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    for (const drop of drops) await drop().catch((error) => log(`DROP DATABASE failed: ${error.message}`));
    await redis?.stop();
    await mailSink.stop();
    await database.stop();
    rmSync(LOG_DIR, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
