/** Jest runs the TypeScript sources as ESM; `.js` import specifiers map back to the `.ts` files. */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  globalSetup: '<rootDir>/test/support/global-setup.js',
  globalTeardown: '<rootDir>/test/support/global-teardown.js',
  testSequencer: '<rootDir>/test/support/sequencer.js',
  testTimeout: 60_000,
  // Three on two cores: much of each file is waiting on Postgres, Temporal and servers (measured
  // against two: about 105 s against 113 s for the whole suite).
  maxWorkers: 3,
};
