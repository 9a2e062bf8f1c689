import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, isAlive } from '../../src/database/embedded-postgres';

/** The compiled server (`dist/src/main.js`) in a process of its own, as `npm start` runs it. */
export interface ServerProcess {
  process: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

export interface LaunchOptions {
  main: string;
  cwd: string;
  /** Over development defaults; DATABASE_URL, EMBEDDED_POSTGRES_DIR, REDIS_URL and SESSION_STORE come only from here. */
  env?: Record<string, string>;
  user?: { uid: number; gid: number };
}

export async function launchServer({ main, cwd, env = {}, user }: LaunchOptions): Promise<ServerProcess> {
  const port = await freePort();
  const baseEnv = { ...process.env };
  delete baseEnv.DATABASE_URL;
  delete baseEnv.EMBEDDED_POSTGRES_DIR;
  delete baseEnv.REDIS_URL;
  delete baseEnv.SESSION_STORE;
  const child = spawn(process.execPath, [main], {
    cwd,
    uid: user?.uid,
    gid: user?.gid,
    env: {
      ...baseEnv,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      PORT: String(port),
      BCRYPT_COST: '4',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, port, output: () => output, exited };
}

/** Waits for `GET /api/health` to answer 200; fails with the server's output if it exits or never does. */
export async function untilHealthy(server: ServerProcess, timeoutMs = 90_000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 200) {
    if (server.process.exitCode !== null) throw new Error(`server exited early:\n${server.output()}`);
    const status = await fetch(`http://127.0.0.1:${server.port}/api/health`)
      .then((res) => res.status)
      .catch(() => 0);
    if (status === 200) return;
    await sleep(200);
  }
  throw new Error(`server did not become healthy:\n${server.output()}`);
}

const ROOT = join(__dirname, '../..');
const LOCK = join(
  tmpdir(),
  `nest-auth-dist-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`,
);

/**
 * Builds `dist/` and keeps it to the calling test file until `release()`: the process
 * suites run in parallel workers, and one rebuilding `dist/` while another copies it or
 * starts a server from it would hand that one half-written files. A lock left by a
 * crashed run (its process gone) is taken over.
 */
export async function holdBuiltServer(): Promise<{ release(): Promise<void> }> {
  for (const deadline = Date.now() + 600_000; ;) {
    try {
      await mkdir(LOCK);
      await writeFile(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(join(LOCK, 'pid'), 'utf8').catch(() => '0'));
      if (holder && !isAlive(holder)) await rm(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline)
        throw new Error(`${LOCK} is still held by process ${holder}`, { cause: error });
      else await sleep(200);
    }
  }
  execFileSync(join(ROOT, 'node_modules/.bin/nest'), ['build'], { cwd: ROOT, stdio: 'pipe' });
  return { release: () => rm(LOCK, { recursive: true, force: true }) };
}
