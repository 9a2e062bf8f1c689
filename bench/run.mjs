// npm run bench: builds, starts the service on its own PostgreSQL (or DATABASE_URL,
// which must point to an empty database), and measures each auth path against the
// service's own ceiling (GET /api). The paths are measured interleaved, round after
// round, so that a noisy machine affects every row alike; figures are medians of
// the rounds, and each ratio is the median of the per-round ratios. Prints a
// markdown table (progress goes to stderr).
//
// BENCH_ROUNDS (default 5), BENCH_SECONDS per run (default 5), BENCH_SESSIONS
// (default 1000000) and BCRYPT_COST (default 12) change the run.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');
const bcrypt = require('bcrypt');
const { Client } = require('pg');
const { DataSource } = require('typeorm');
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
const PACED_RATE = 500; // req/s of /me while its latency is measured
const CORES = availableParallelism();
const PASSWORD = 'correct horse battery staple';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const pct = (ratio) => `${Math.round(ratio * 100)}%`;
const log = (...parts) => console.error('[bench]', ...parts);

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function memoryMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

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

async function startService(env) {
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { ...process.env, ...env },
    // Request logs are written as in production, to a sink that costs nothing to read.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${env.PORT}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('the service exited during start-up');
    const ok = await fetch(`${base}/api/health`)
      .then((res) => res.ok)
      .catch(() => false);
    if (ok) return { child, base, pid: child.pid };
    await sleep(100);
  }
  throw new Error('the service did not become healthy');
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

/**
 * A run whose every answer must be 2xx: its rate, latency and the service's CPU
 * per request. It starts once the service is idle, unless `busy` says the load
 * beside it is part of the measurement.
 */
async function measure(label, service, options, busy = false) {
  if (!busy) await settle(service);
  const before = cpuSeconds(service.pid);
  const result = await load(options).done;
  const cpu = cpuSeconds(service.pid) - before;
  const ok = result['2xx'];
  if (result.non2xx || result.errors || result.timeouts || !ok)
    throw new Error(`${label}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${ok} 2xx`);
  const figures = {
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
async function loginRate(service, body) {
  await settle(service);
  const completed = [];
  let failed = 0;
  const run = load(
    { url: `${service.base}/api/auth/token`, connections: CORES * 4, duration: SECONDS * 2, ...body },
    (status) => (status === 200 ? completed.push(performance.now()) : failed++),
  );
  await run.done;
  if (failed || completed.length < 3)
    throw new Error(`login: ${failed} failures, ${completed.length} logins`);
  const rate = ((completed.length - 1) * 1000) / (completed.at(-1) - completed[0]);
  log('login'.padEnd(28), `${rate.toFixed(2)} logins/s`);
  return rate;
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
    LOGIN_MAX_FAILURES: '1000',
    LOG_LEVEL: 'info',
    // The bench runs the clean-up itself, to time it.
    CLEANUP_INTERVAL_SECONDS: '0',
    // The benchmark client is plain HTTP behind a pretend TLS proxy: the Secure cookie is accepted.
    TRUST_PROXY: 'loopback',
  };
  const service = await startService(env);
  const { base } = service;
  const db = new Client({ connectionString: database.url });
  await db.connect();
  let cleanupSource;
  try {
    const email = `bench-${Date.now()}@example.com`;
    const credentials = json({ email, password: PASSWORD });
    if (!(await fetch(`${base}/api/auth/signup`, credentials)).ok) throw new Error('signup failed');
    const token = await (await fetch(`${base}/api/auth/token`, credentials)).json();
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
    const seed = (from, to, signedIn) =>
      db.query(
        `INSERT INTO cookie_sessions (id_hash, user_id, data, absolute_expires_at)
         SELECT encode(sha256(('bench-session-' || g)::bytea), 'hex'),
                CASE WHEN $3 THEN $4::uuid END,
                CASE WHEN $3 THEN $5::jsonb ELSE '{"cookie":{}}'::jsonb END,
                now() + interval '1 day'
         FROM generate_series($1::int, $2::int) g`,
        [from, to, signedIn, userId, data],
      );
    // Each connection cycles through its own share of the sessions.
    // A checkpoint (when the role may ask for one), then a pause for the writes to settle.
    const quiesce = async () => {
      await db.query('CHECKPOINT').catch(() => undefined);
      await sleep(3000);
    };
    const cookieRun = (numbers) => {
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
        url: base,
        requests,
        setupClient: (client) => {
          const start = (next++ % CONNECTIONS) * share;
          client.setRequests(requests.slice(start, start + share));
        },
      };
    };
    // Sessions not in the service's memory: dropped through the service's own
    // invalidation channel (as another instance's change would), then each read
    // exactly once, so every request goes to PostgreSQL.
    const coldRun = async (label, numbers) => {
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
    await seed(1, SAMPLE, true);

    const bearer = { url: `${base}/api/auth/me`, headers: { authorization: `Bearer ${token.accessToken}` } };
    const paced = { ...bearer, connections: 10, overallRate: PACED_RATE, duration: SECONDS * 2 };
    const flood = {
      url: `${base}/api/auth/token`,
      connections: FLOOD,
      duration: SECONDS * 2 + 2,
      ...credentials,
    };
    const referenceHash = await bcrypt.hash('x'.repeat(44), BCRYPT_COST);

    // Warm-up (JIT, connection pools, the 1,000 sessions read once), not measured.
    for (const options of [{ url: `${base}/api` }, bearer, cookieRun(warmSmall)])
      await load({ ...options, duration: 2 }).done;

    const rounds = [];
    for (let round = 1; round <= ROUNDS; round++) {
      log(`round ${round} of ${ROUNDS}`);
      const r = {};
      r.baseline = await measure('GET /api', service, { url: `${base}/api` });
      r.bearer = await measure('GET /api/auth/me (bearer)', service, bearer);
      r.cookie = await measure('GET /api/auth/me (cookie)', service, cookieRun(warmSmall));
      r.cold = await coldRun(`cookie /me, not in memory`, coldSmall);
      r.hashMs = await hashMs(referenceHash);
      r.parallelHashes = await parallelHashRate(referenceHash);
      r.login = await loginRate(service, credentials);
      r.quiet = await measure(`/me at ${PACED_RATE} req/s, quiet`, service, paced);
      // The flood starts first and outlasts the paced run, so all of it is under load.
      const flooding = load(flood);
      await sleep(1000);
      r.loud = await measure(`/me at ${PACED_RATE} req/s, ${FLOOD} logins`, service, paced, true);
      await flooding.done;
      rounds.push(r);
    }
    const mid = (pick) => median(rounds.map(pick));

    // Cookie /me with 1,000 and with STORED_SESSIONS stored sessions. The large
    // table adds anonymous sessions and, spread among them, SAMPLE more signed-in
    // ones: the runs at 1M use those, so they start as cold as the runs at 1k did.
    log(`seeding ${STORED_SESSIONS - SAMPLE} more sessions`);
    let started = performance.now();
    const step = Math.floor((STORED_SESSIONS - SAMPLE) / SAMPLE);
    const large = Array.from({ length: SAMPLE }, (_, i) => SAMPLE + (i + 1) * step);
    const [warmLarge, coldLarge] = halves(large);
    let from = SAMPLE + 1;
    for (const n of large) {
      if (n > from) await seed(from, n - 1, false);
      await seed(n, n, true);
      from = n + 1;
    }
    if (from <= STORED_SESSIONS) await seed(from, STORED_SESSIONS, false);
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
    const memory = memoryMb(service.pid);

    // The table.
    const bearerRatio = mid((r) => r.bearer.rate / r.baseline.rate);
    const cookieRatio = mid((r) => r.cookie.rate / r.baseline.rate);
    const loginRatio = mid((r) => r.login / ((CORES * 1000) / r.hashMs));
    const loginToMeasured = mid((r) => r.login / r.parallelHashes);
    const p99Ratio = mid((r) => r.loud.p99 / r.quiet.p99);
    const atSmall = mid((r) => r.cookie.rate);
    const atLargeRate = median(atLarge.map((f) => f.rate));
    const largeRatio = atLargeRate / atSmall;
    const coldSmallRate = mid((r) => r.cold.rate);
    const coldLargeRate = median(coldAtLarge.map((f) => f.rate));
    const row = (path, figure, ratio, target, met) =>
      `| ${path} | ${figure} | ${ratio} | ${target} | ${met === undefined ? '' : met ? 'met' : '**missed**'} |`;
    const cpu = (pick) => `${Math.round(mid(pick))} µs`;
    const lines = [
      '',
      `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${CORES} × ${cpus()[0]?.model ?? 'CPU'}, ` +
        `Node ${process.version}, PostgreSQL ${database.url === process.env.DATABASE_URL ? 'from DATABASE_URL' : 'embedded'}, ` +
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
        '`GET /api/auth/me` by bearer token',
        `${Math.round(mid((r) => r.bearer.rate))} req/s, ${cpu((r) => r.bearer.cpuUs)} CPU/req`,
        pct(bearerRatio),
        '≥ 85% of baseline',
        bearerRatio >= 0.85,
      ),
      row(
        `\`GET /api/auth/me\` by session cookie (${SAMPLE / 2} sessions in turn)`,
        `${Math.round(atSmall)} req/s, ${cpu((r) => r.cookie.cpuUs)} CPU/req`,
        pct(cookieRatio),
        '≥ 70% of baseline',
        cookieRatio >= 0.7,
      ),
      row(
        '`POST /api/auth/token` (login)',
        `${mid((r) => r.login).toFixed(2)} logins/s; ceiling ${CORES} × 1/${Math.round(mid((r) => r.hashMs))} ms = ${mid((r) => (CORES * 1000) / r.hashMs).toFixed(2)}/s (measured with ${CORES} compares in flight: ${mid((r) => r.parallelHashes).toFixed(2)}/s, ${pct(loginToMeasured)})`,
        pct(loginRatio),
        '≥ 90% of the bcrypt ceiling',
        loginRatio >= 0.9,
      ),
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
        '≤ 3 × p99',
        p99Ratio <= 3,
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
      row(
        'service memory after the run',
        `${Math.round(memory.rss)} MB resident (peak ${Math.round(memory.peak)} MB)`,
        '',
        '',
        undefined,
      ),
      '',
      `Seeding ${(STORED_SESSIONS - SAMPLE).toLocaleString('en')} sessions took ${seedSeconds.toFixed(0)} s.`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await cleanupSource?.destroy().catch(() => undefined);
    await db.end().catch(() => undefined);
    service.child.kill('SIGTERM');
    await new Promise((resolve) => service.child.once('exit', resolve));
    await database.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
