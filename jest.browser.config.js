/**
 * The browser suite (test/browser/**\/*.browser-spec.ts): real Chromium driven by
 * playwright-core against the app on 127.0.0.1, on the same embedded or external
 * PostgreSQL as `npm test` (same globalSetup/globalTeardown).
 *
 * Kept out of `npm test` so that the main suite runs on machines without a browser.
 * It uses the machine's Chromium and never downloads one.
 */
const { existsSync } = require('node:fs');
const base = require('./jest.config');

const CHROMIUM_PATH = '/usr/bin/chromium';
if (!existsSync(CHROMIUM_PATH)) {
  throw new Error(
    `The browser suite needs Chromium at ${CHROMIUM_PATH}, which is missing. ` +
      'Install it with `apt-get update && apt-get install -y chromium` (Debian), or run `npm test` for the suites ' +
      'that need no browser. Playwright never downloads a browser here.',
  );
}

module.exports = {
  ...base,
  roots: ['<rootDir>/test/browser'],
  testRegex: 'test/browser/.*\\.browser-spec\\.ts$',
  // The shared globalSetup, after clearing test-results/screenshots; the shared globalTeardown.
  globalSetup: '<rootDir>/test/browser/support/global-setup.ts',
  testTimeout: 90_000,
  // Each worker runs one app and one Chromium; two fit the CI machine's two cores.
  maxWorkers: 2,
};
