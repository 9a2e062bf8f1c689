import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { EnvironmentVariables } from '../../src/config/environment';

const ROOT = join(__dirname, '../..');

describe('configuration documentation', () => {
  const validated = new Set(
    getMetadataStorage()
      .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
      .map((metadata) => metadata.propertyName),
  );
  const example = new Set(
    [...readFileSync(join(ROOT, '.env.example'), 'utf8').matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map(
      (match) => match[1],
    ),
  );
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('lists in .env.example exactly the variables the service reads', () => {
    expect([...example].sort()).toEqual([...validated].sort());
  });

  it('describes every variable in the README configuration table', () => {
    const documented = readme
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]));
    expect([...validated].filter((name) => !documented.includes(name))).toEqual([]);
  });
});
