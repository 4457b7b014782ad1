/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFiles: ['<rootDir>/test/setup.js'],
  testTimeout: 60000,
  // Every test file runs real GStreamer pipelines; two at a time fits the 2-core machines.
  maxWorkers: 2,
};
