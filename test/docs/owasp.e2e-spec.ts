import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

const SPECTRAL = join(__dirname, '../../node_modules/.bin/spectral');
const RULESET = join(__dirname, 'owasp.spectral.yaml');

interface Diagnostic {
  code: string;
  message: string;
  path: string[];
  severity: number; // 0 error, 1 warning, 2 information, 3 hint
}

/** Runs Spectral's CLI (offline: the ruleset comes from node_modules) on a document. */
async function lint(document: unknown): Promise<Diagnostic[]> {
  const dir = mkdtempSync(join(tmpdir(), 'owasp-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    // Spectral exits with 1 when it finds an error: its report is on stdout either way.
    const run = promisify(execFile)(
      SPECTRAL,
      ['lint', '--ruleset', RULESET, '--format', 'json', '--quiet', file],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const stdout = await run.then(
      (result) => result.stdout,
      (error: { stdout?: string; stderr?: string }) => {
        if (!error.stdout) throw new Error(`spectral failed: ${error.stderr}`);
        return error.stdout;
      },
    );
    return JSON.parse(stdout) as Diagnostic[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const errors = (diagnostics: Diagnostic[]) =>
  diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`);

describe('the API document against the OWASP API Security ruleset (Spectral)', () => {
  let ctx: TestContext;
  let document: Record<string, unknown>;
  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    document = (await ctx.http().get('/docs-json').expect(200)).body as Record<string, unknown>;
  });
  afterAll(() => ctx.close());

  it('reports no error on /docs-json', async () => {
    expect(errors(await lint(document))).toEqual([]);
  }, 60_000);

  it('does report a document that breaks the rules (the check can fail)', async () => {
    const broken = structuredClone(document) as {
      components: { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> };
      paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
    };
    delete broken.components.schemas.ErrorResponse.properties.error.maxLength;
    delete broken.paths['/api'].get.responses['200'].headers;
    const found = errors(await lint(broken));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^owasp:api4:2023-string-limit at components\.schemas\.ErrorResponse/),
        expect.stringMatching(/^owasp:api4:2023-rate-limit at paths\.\/api\.get\.responses\.200/),
      ]),
    );
  }, 60_000);
});
