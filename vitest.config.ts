import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most engine tests wait on real timers; three files at a time keep a 2-core machine busy without starving them.
    maxWorkers: 3,
  },
});
