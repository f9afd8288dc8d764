import { defineConfig } from 'vite';

const root = decodeURIComponent(new URL('.', import.meta.url).pathname);
// `vite --config admin/vite.config.ts` proxies the API to a Nest app started with `npm run start:dev`.
const api = process.env.NESTOR_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root,
  base: '/admin/',
  // Keep Vite's dependency cache with the root's node_modules, not in a new admin/node_modules.
  cacheDir: '../node_modules/.vite/admin',
  // No @vitejs/plugin-react: Vite 8 compiles TSX with oxc; React's automatic runtime needs no import.
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The login page loads ~0.86 MB (~280 kB gzipped: React, react-admin and the MUI pieces they use); each
    // page's own code and libraries come in chunks on first visit (App.tsx, lazyPage). All cached a year.
    chunkSizeWarningLimit: 1000,
    rolldownOptions: {
      output: {
        // React apart: it changes least, so it stays cached across admin builds.
        codeSplitting: {
          groups: [
            { name: 'react', test: /node_modules[\\/](react|react-dom|scheduler|react-router(-dom)?)[\\/]/ },
          ],
        },
      },
      // MUI marks its modules "use client" (a React Server Components hint, meaningless in this SPA).
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') {
          warn(warning);
        }
      },
    },
  },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/admin/api'].map((path) => [
        path,
        {
          target: api,
          // The server checks Origin on unsafe requests: present the proxied ones as same-origin.
          configure: (proxy) => proxy.on('proxyReq', (request) => request.setHeader('origin', api)),
        },
      ]),
    ),
  },
});
