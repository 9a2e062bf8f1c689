import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/database/embedded-postgres';

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
  /** Over development defaults; DATABASE_URL and EMBEDDED_POSTGRES_DIR come only from here. */
  env?: Record<string, string>;
  user?: { uid: number; gid: number };
}

export async function launchServer({ main, cwd, env = {}, user }: LaunchOptions): Promise<ServerProcess> {
  const port = await freePort();
  const baseEnv = { ...process.env };
  delete baseEnv.DATABASE_URL;
  delete baseEnv.EMBEDDED_POSTGRES_DIR;
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
