import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { isAlive } from '../../src/database/embedded-postgres';
import { PASSWORD, signUp, uniqueEmail } from '../support/auth-helpers';
import { holdBuiltServer, launchServer, type ServerProcess, untilHealthy } from '../support/server-process';

/**
 * A newcomer's first `npm start`, right after cloning into a private directory such
 * as /root (mode 700). As root, PostgreSQL runs as the `postgres` user, which cannot
 * enter that directory: neither the clone's `.data/postgres` nor its node_modules.
 *
 * EMBEDDED_POSTGRES_FALLBACK_DIR (internal, for tests) stands for /var/lib/nest-auth-service.
 */
const ROOT = join(__dirname, '../..');
const asRoot = process.getuid?.() === 0;

interface Launch {
  clone: string;
  fallback: string;
  env?: Record<string, string>;
  user?: { uid: number; gid: number };
}

/**
 * A clone as far as the server can tell: its own dist/ and PostgreSQL programs (whose
 * real paths therefore lie inside `parent`), and links to this checkout's other packages.
 */
async function makeClone(parent: string): Promise<string> {
  const clone = join(parent, 'nest-auth-service');
  await cp(join(ROOT, 'dist'), join(clone, 'dist'), { recursive: true });
  await mkdir(join(clone, 'node_modules'));
  for (const entry of await readdir(join(ROOT, 'node_modules'))) {
    const [source, target] = [join(ROOT, 'node_modules', entry), join(clone, 'node_modules', entry)];
    if (entry === '@embedded-postgres') await cp(source, target, { recursive: true, verbatimSymlinks: true });
    else await symlink(source, target);
  }
  return clone;
}

function launch({ clone, fallback, env = {}, user }: Launch): Promise<ServerProcess> {
  return launchServer({
    main: join(clone, 'dist/src/main.js'),
    cwd: clone,
    user,
    env: { EMBEDDED_POSTGRES_FALLBACK_DIR: fallback, ...env },
  });
}

/** The `msg` of each JSON log line (pino). */
function messages(output: string): string[] {
  return output.split('\n').flatMap((line) => {
    try {
      return [(JSON.parse(line) as { msg?: string }).msg ?? ''];
    } catch {
      return [];
    }
  });
}

async function stop(server: ServerProcess): Promise<number | null> {
  server.process.kill('SIGTERM');
  return server.exited;
}

function userIds(name: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Whether every directory down to `dir` lets others through (another user can run this checkout). */
function openToOthers(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) return false;
    if (current === dirname(current)) return true;
  }
}

describe('npm start from a clone in a private directory', () => {
  let work: string;
  const running: ServerProcess[] = [];

  let built: { release(): Promise<void> } | undefined;

  beforeAll(async () => {
    built = await holdBuiltServer();
    work = await mkdtemp(join(tmpdir(), 'auth-root-start-'));
    await chmod(work, 0o755);
  }, 240_000);

  afterAll(async () => {
    await built?.release();
    for (const server of running) if (server.process.exitCode === null) server.process.kill('SIGKILL');
    if (!work) return;
    // A postgres orphaned by a failed test would hold its files: ask each one found to stop.
    const pidFiles = execFileSync('find', [work, '-name', 'postmaster.pid'], { encoding: 'utf8' });
    for (const file of pidFiles.split('\n').filter(Boolean)) {
      const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
      if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGINT');
    }
    await sleep(500);
    await rm(work, { recursive: true, force: true });
  });

  const start = async (options: Launch) => {
    const server = await launch(options);
    running.push(server);
    await untilHealthy(server);
    return server;
  };

  (asRoot ? describe : describe.skip)(
    `as root${asRoot ? '' : ' (not run: this process is not root, and only root hands PostgreSQL to the postgres user)'}`,
    () => {
      let home: string;
      let clone: string;
      let fallback: string;
      let dataDir: string;
      const account = { email: uniqueEmail('root-start'), password: PASSWORD };

      beforeAll(async () => {
        home = join(work, 'root-home');
        await mkdir(home, { mode: 0o700 });
        await chmod(home, 0o700);
        clone = await makeClone(home);
        fallback = join(work, 'var-lib-nest-auth-service');
      });

      it('becomes healthy with its data outside the clone, and says where and why', async () => {
        const server = await start({ clone, fallback });
        const logged = messages(server.output());
        const moved = logged.find((msg) => msg.includes('keeping the embedded PostgreSQL data in'));
        expect(moved).toMatch(
          `${join(clone, '.data/postgres')} is inside ${home}, which the "postgres" user cannot enter`,
        );
        dataDir = /keeping the embedded PostgreSQL data in (\S+)/.exec(moved!)![1];
        expect(dirname(dirname(dataDir))).toBe(fallback);
        expect(logged).toContainEqual(
          expect.stringContaining(`embedded PostgreSQL in ${join(dataDir, 'pgdata')}`),
        );
        // node_modules is inside the private directory too: PostgreSQL runs from a copy the postgres user can reach.
        expect(logged).toContainEqual(
          expect.stringContaining(`running PostgreSQL from ${fallback}/postgres-`),
        );

        const postgres = userIds('postgres');
        expect(statSync(join(dataDir, 'pgdata')).uid).toBe(postgres.uid);
        const credentials = statSync(join(dataDir, 'credentials.json'));
        expect(credentials.uid).toBe(0);
        expect(credentials.mode & 0o777).toBe(0o600);
        expect(existsSync(join(clone, '.data/postgres/pgdata'))).toBe(false);

        await signUp(() => request(`http://127.0.0.1:${server.port}`), account.email);
        expect(await stop(server)).toBe(0);
        expect(existsSync(join(dataDir, 'pgdata/postmaster.pid'))).toBe(false);
      }, 150_000);

      it('finds the same data on the next start: an account signed up before can sign in', async () => {
        const server = await start({ clone, fallback });
        expect(messages(server.output())).toContainEqual(
          expect.stringContaining(`keeping the embedded PostgreSQL data in ${dataDir}`),
        );
        await request(`http://127.0.0.1:${server.port}`).post('/api/auth/token').send(account).expect(200);
        expect(await stop(server)).toBe(0);
      }, 120_000);

      it('keeps using that data once the private directory is opened, rather than starting empty', async () => {
        await chmod(home, 0o755);
        try {
          const server = await start({ clone, fallback });
          expect(messages(server.output())).toContainEqual(
            `${join(clone, '.data/postgres')} holds no data: keeping the embedded PostgreSQL data in ${dataDir}, where earlier starts put it`,
          );
          await request(`http://127.0.0.1:${server.port}`).post('/api/auth/token').send(account).expect(200);
          expect(await stop(server)).toBe(0);
        } finally {
          await chmod(home, 0o700);
        }
      }, 120_000);

      it('refuses an EMBEDDED_POSTGRES_DIR that the postgres user cannot reach, in one line naming the directory', async () => {
        const before = readdirSync(fallback);
        const server = await launch({
          clone,
          fallback,
          env: { EMBEDDED_POSTGRES_DIR: join(home, 'chosen') },
        });
        running.push(server);
        expect(await server.exited).toBe(1);
        expect(server.output().trim()).toBe(
          `Start-up failed: The embedded PostgreSQL runs as the "postgres" user when started as root, ` +
            `and cannot enter ${home}. Run "chmod o+x ${home}" or set EMBEDDED_POSTGRES_DIR to a directory outside it.`,
        );
        expect(readdirSync(fallback)).toEqual(before);
      }, 60_000);
    },
  );

  // Root runs this part as `nobody`, when that user can read this checkout.
  const otherUser = asRoot && openToOthers(ROOT) ? userIds('nobody') : undefined;
  (!asRoot || otherUser ? describe : describe.skip)(
    `as a user other than root${asRoot && !otherUser ? ` (not run: ${ROOT} is closed to other users)` : ''}`,
    () => {
      it('keeps its data in the clone (.data/postgres), as documented', async () => {
        const home = join(work, 'user-home');
        await mkdir(home, { mode: 0o700 });
        await chmod(home, 0o700);
        if (otherUser) await chown(home, otherUser.uid, otherUser.gid);
        const clone = await makeClone(home);
        if (otherUser) await chown(clone, otherUser.uid, otherUser.gid);
        const fallback = join(work, 'fallback-unused');

        const server = await start({ clone, fallback, user: otherUser });
        const logged = messages(server.output());
        expect(logged).toContainEqual(
          expect.stringContaining(`embedded PostgreSQL in ${join(clone, '.data/postgres/pgdata')}`),
        );
        expect(logged.filter((msg) => msg.includes('cannot enter'))).toEqual([]);
        expect(existsSync(fallback)).toBe(false);
        expect(await stop(server)).toBe(0);
      }, 120_000);
    },
  );
});
