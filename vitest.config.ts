import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    {
      // Same as esbuild's "text" loader for .proto, so tests and the bundle load the schema alike.
      name: 'proto-as-text',
      transform(code: string, id: string) {
        if (id.endsWith('.proto')) return { code: `export default ${JSON.stringify(code)};`, map: null };
        return undefined;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
