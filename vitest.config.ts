import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each end-to-end file starts real servers and processes; two cores are best used by two forks.
    pool: 'forks',
    maxWorkers: 2,
  },
});
