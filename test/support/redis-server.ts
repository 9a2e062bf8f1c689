import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/database/embedded-postgres';

/** Set by the global setup: the Redis every Redis suite shares (each under a key prefix of its own). */
export const REDIS_URL_VAR = 'TEST_REDIS_URL';

/** Why the Redis suites are skipped on this machine; undefined when they run. */
export function redisSkipReason(): string | undefined {
  return process.env[REDIS_URL_VAR]
    ? undefined
    : 'skipped: no Redis (set REDIS_URL or install redis-server: the suite starts its own)';
}

/** `redis-server` is on the PATH: suites that kill and restart Redis can run. */
export function hasRedisServer(): boolean {
  return runs('redis-server', '--version');
}

/** haproxy (Debian's package puts it in /usr/sbin, which a non-root PATH may lack). */
export function hasHaproxy(): boolean {
  return ['haproxy', '/usr/sbin/haproxy'].some((command) => runs(command, '-v'));
}

function runs(command: string, ...args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The environment that puts an app on the shared test Redis, under a key prefix no
 * other test file uses. Undefined when there is no Redis (see redisSkipReason).
 */
export function testRedisEnv(): { REDIS_URL: string; REDIS_KEY_PREFIX: string } | undefined {
  const url = process.env[REDIS_URL_VAR];
  return url ? { REDIS_URL: url, REDIS_KEY_PREFIX: `test-${randomBytes(4).toString('hex')}:` } : undefined;
}

export interface RedisServerOptions {
  /** AOF with an fsync per write: what survives a kill -9. Default: no persistence at all. */
  appendOnly?: boolean;
}

/**
 * A redis-server of a test's own, on a free loopback port, in a temporary directory:
 * it can be killed (`kill('SIGKILL')`) and started again on the same port and data.
 */
export class RedisServer {
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(
      await freePort(),
      await mkdtemp(join(tmpdir(), 'auth-test-redis-')),
      options,
    );
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts it again (after `kill`), on the same port and directory; waits until it accepts connections. */
  async restart(): Promise<void> {
    if (this.running) return;
    const persistence = this.options.appendOnly
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no'];
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, ...persistence],
      { stdio: 'ignore' },
    );
    this.child = child;
    for (let waited = 0; ; waited += 50) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (await accepts(this.port)) return;
      if (waited > 10_000) throw new Error('redis-server did not start within 10 s');
      await sleep(50);
    }
  }

  /** Sends `signal` and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    await rm(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
