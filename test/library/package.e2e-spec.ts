import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdBuiltServer } from '../support/server-process';

const ROOT = join(__dirname, '../..');

/*
 * `npm pack` as a host would get it: the tarball holds the built entry with its types,
 * and a program outside this repository loads it by package name.
 */
describe('the npm package', () => {
  let built: { release(): Promise<void> } | undefined;
  let work: string;
  beforeAll(async () => {
    built = await holdBuiltServer();
    work = await mkdtemp(join(tmpdir(), 'auth-pack-'));
  }, 240_000);
  afterAll(async () => {
    await built?.release();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('packs the entry and its types, and a host loads AuthModule from it by name', async () => {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed.files.map((file) => file.path);
    expect(files).toEqual(
      expect.arrayContaining(['dist/src/index.js', 'dist/src/index.d.ts', 'package.json']),
    );
    expect(files.filter((file) => /\.spec\.|^test\/|^src\//.test(file))).toEqual([]);

    const installed = join(work, 'host/node_modules/nest-auth-service');
    await mkdir(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(work, packed.filename), '-C', installed, '--strip-components=1']);
    expect(existsSync(join(installed, 'dist/src/index.d.ts'))).toBe(true);
    // The host's other packages: this checkout's, found through NODE_PATH.
    const loaded = execFileSync(
      process.execPath,
      [
        '-e',
        `const m = require('nest-auth-service');
         const dynamic = m.AuthModule.forRoot({ secrets: { session: 's', jwt: 'j', passwordPepper: 'p' } });
         console.log(JSON.stringify({ module: dynamic.module.name, entities: m.authEntities.length, migrations: m.authMigrations.length, decorators: [typeof m.Public, typeof m.Roles, typeof m.Auth] }));`,
      ],
      {
        cwd: join(work, 'host'),
        env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(loaded.trim().split('\n').pop()!)).toEqual({
      module: 'AuthModule',
      entities: 16,
      migrations: 10,
      decorators: ['function', 'function', 'function'],
    });
  });
});
