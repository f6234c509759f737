import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Tests never wait on wall time; a long test is a hung test.
    testTimeout: 20_000,
  },
});
