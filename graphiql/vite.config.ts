import { defineConfig } from 'vite';

const root = decodeURIComponent(new URL('.', import.meta.url).pathname);

export default defineConfig({
  root,
  base: '/graphiql/',
  cacheDir: '../node_modules/.vite/graphiql',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Monaco (GraphiQL's editor) is one ~3 MB module: the IDE is a developer tool, loaded once and cached.
    chunkSizeWarningLimit: 4000,
    rolldownOptions: {
      // Monaco and GraphiQL mark modules "use client" (a React Server Components hint, meaningless here).
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') {
          warn(warning);
        }
      },
    },
  },
});
