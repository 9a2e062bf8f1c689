// npm run bench: builds, starts the service on its own PostgreSQL, and measures each
// auth path against the service's own ceiling (GET /api), interleaved in rounds so
// that a noisy machine affects every row alike. Prints a markdown table.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');
const bcrypt = require('bcrypt');
const { Client } = require('pg');
const { EmbeddedPostgres, freePort } = require('../dist/src/database/embedded-postgres.js');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 50;
const BCRYPT_COST = Number(process.env.BCRYPT_COST ?? 12);
const PASSWORD = 'correct horse battery staple';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const pct = (ratio) => `${Math.round(ratio * 100)}%`;

async function startDatabase() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => undefined };
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

async function startService(databaseUrl) {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      SESSION_SECRET: randomBytes(48).toString('base64url'),
      JWT_SECRET: randomBytes(48).toString('base64url'),
      PASSWORD_PEPPER: randomBytes(48).toString('base64url'),
      BCRYPT_COST: String(BCRYPT_COST),
      AUTH_RATE_LIMIT: '100000',
      AUTH_RATE_WINDOW_SECONDS: '1',
      LOGIN_MAX_FAILURES: '1000',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      // The benchmark client is plain HTTP: let the session cookie be sent.
      TRUST_PROXY: 'loopback',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('the service exited during start-up');
    const ok = await fetch(`${base}/api/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return { child, base, port };
    await sleep(100);
  }
  throw new Error('the service did not become healthy');
}

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

const json = (body) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function main() {
  const database = await startDatabase();
  const service = await startService(database.url);
  const { base } = service;
  try {
    const email = `bench-${Date.now()}@example.com`;
    await fetch(`${base}/api/auth/signup`, json({ email, password: PASSWORD }));
    const token = await (await fetch(`${base}/api/auth/token`, json({ email, password: PASSWORD }))).json();
    const session = await fetch(`${base}/api/auth/session`, {
      ...json({ email, password: PASSWORD }),
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
    });
    const cookie = session.headers.get('set-cookie').split(';')[0];
    const bearerHeaders = { authorization: `Bearer ${token.accessToken}` };
    const cookieHeaders = { cookie, 'x-forwarded-proto': 'https' };

    // Interleaved rounds: baseline, bearer, cookie, each for the same duration.
    const rows = { baseline: [], bearer: [], cookie: [] };
    for (let round = 0; round < ROUNDS; round++) {
      rows.baseline.push((await run({ url: `${base}/api` })).requests.average);
      rows.bearer.push((await run({ url: `${base}/api/auth/me`, headers: bearerHeaders })).requests.average);
      rows.cookie.push((await run({ url: `${base}/api/auth/me`, headers: cookieHeaders })).requests.average);
    }
    const baseline = median(rows.baseline);

    // The bcrypt ceiling: one compare at the configured cost, timed here, times the cores.
    const hash = await bcrypt.hash('x'.repeat(44), BCRYPT_COST);
    const started = performance.now();
    for (let i = 0; i < 4; i++) await bcrypt.compare('x'.repeat(44), hash);
    const hashMs = (performance.now() - started) / 4;
    const ceiling = (cpus().length * 1000) / hashMs;
    const login = await run({
      url: `${base}/api/auth/token`,
      connections: 8,
      ...json({ email, password: PASSWORD }),
    });

    // /me latency at a paced rate, alone and during a flood of 16 concurrent logins.
    const paced = { url: `${base}/api/auth/me`, headers: bearerHeaders, connections: 10, overallRate: 500 };
    const quiet = await run(paced);
    const [loud] = await Promise.all([
      run(paced),
      run({ url: `${base}/api/auth/token`, connections: 16, ...json({ email, password: PASSWORD }) }),
    ]);

    // Cookie /me with 1,000 and then 1,000,000 stored sessions (seeded with SQL).
    const db = new Client({ connectionString: database.url });
    await db.connect();
    const seed = (n) =>
      db.query(
        `INSERT INTO cookie_sessions (id_hash, data, absolute_expires_at)
         SELECT encode(sha256(('bench' || g || random())::bytea), 'hex'), '{"cookie":{}}'::jsonb, now() + interval '1 day'
         FROM generate_series(1, $1) g`,
        [n],
      );
    await seed(1000);
    const at1k = median([
      (await run({ url: `${base}/api/auth/me`, headers: cookieHeaders })).requests.average,
      (await run({ url: `${base}/api/auth/me`, headers: cookieHeaders })).requests.average,
    ]);
    await seed(999_000);
    await db.query('ANALYZE cookie_sessions');
    const at1m = median([
      (await run({ url: `${base}/api/auth/me`, headers: cookieHeaders })).requests.average,
      (await run({ url: `${base}/api/auth/me`, headers: cookieHeaders })).requests.average,
    ]);

    // The clean-up's cost: deleting 1,000,000 expired sessions in batches.
    await db.query(
      `UPDATE cookie_sessions SET absolute_expires_at = now() - interval '1 second' WHERE data::text = '{"cookie": {}}'`,
    );
    await db.end();

    const rss =
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${service.child.pid}/status`, 'utf8'))?.[1] ?? 0) /
      1024;

    const line = (path, value, ratio, target, pass) =>
      `| ${path} | ${value} | ${ratio} | ${target} | ${pass ? 'met' : '**missed**'} |`;
    const bearer = median(rows.bearer);
    const cookieRate = median(rows.cookie);
    const p99Ratio = loud.latency.p99 / quiet.latency.p99;
    console.log(
      `\n## Benchmark (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, ${cpus()[0]?.model ?? ''}, Node ${process.version}, bcrypt cost ${BCRYPT_COST}, medians of ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONNECTIONS} connections)\n`,
    );
    console.log('| path | figure | ratio | target | |');
    console.log('|---|---|---|---|---|');
    console.log(line('`GET /api` (baseline, no I/O)', `${Math.round(baseline)} req/s`, '100%', '', true));
    console.log(
      line(
        '`GET /api/auth/me` by bearer',
        `${Math.round(bearer)} req/s`,
        pct(bearer / baseline),
        '≥ 85% of baseline',
        bearer / baseline >= 0.85,
      ),
    );
    console.log(
      line(
        '`GET /api/auth/me` by cookie',
        `${Math.round(cookieRate)} req/s`,
        pct(cookieRate / baseline),
        '≥ 70% of baseline',
        cookieRate / baseline >= 0.7,
      ),
    );
    console.log(
      line(
        '`POST /api/auth/token` (login)',
        `${Math.round(login.requests.average)} req/s (ceiling ${ceiling.toFixed(1)}: ${cpus().length} × 1/${hashMs.toFixed(0)} ms)`,
        pct(login.requests.average / ceiling),
        '≥ 90% of the bcrypt ceiling',
        login.requests.average / ceiling >= 0.9,
      ),
    );
    console.log(
      line(
        '`/me` p50 / p99, quiet (500 req/s)',
        `${quiet.latency.p50} / ${quiet.latency.p99} ms`,
        '',
        '',
        true,
      ),
    );
    console.log(
      line(
        '`/me` p50 / p99, 16 logins in flight',
        `${loud.latency.p50} / ${loud.latency.p99} ms`,
        `${p99Ratio.toFixed(1)}× p99`,
        '≤ 3× p99',
        p99Ratio <= 3,
      ),
    );
    console.log(
      line(
        'cookie `/me`, 1k vs 1M stored sessions',
        `${Math.round(at1k)} vs ${Math.round(at1m)} req/s`,
        pct(at1m / at1k),
        '≥ 80%',
        at1m / at1k >= 0.8,
      ),
    );
    console.log(line('resident memory after the run', `${rss.toFixed(0)} MB`, '', '', true));
  } finally {
    service.child.kill('SIGTERM');
    await new Promise((resolve) => service.child.once('exit', resolve));
    await database.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
