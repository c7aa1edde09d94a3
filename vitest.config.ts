import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each end-to-end file starts real servers and processes and spends most of its time waiting
    // on them (rollouts, failovers, lock expiry): measured at about a third of two cores with four
    // files at once, so four forks per two cores keep the suite short without starving the doubles.
    pool: 'forks',
    maxWorkers: Math.max(2, availableParallelism() * 2),
  },
});
