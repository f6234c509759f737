import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Tests never wait on wall time, so this only bounds a hung test. It is generous because
    // the process-level tests (CLI, drills) start several real processes in turn, each paying
    // tsx's start-up, and on a shared 2-core machine under load one such test took 20-30 s.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The store's JSON-safety walk of every value written is a debug check, off in production
    // (it cost 14-17% of a backtest): every test, and every process a test starts, runs with it.
    env: { AGENT_TRADER_CHECK_JSON: '1' },
  },
});
