/**
 * Vite build of the dashboard: src/ui/web → dist/ui (served by the server at /ui, see serve.ts).
 * Everything is bundled (cytoscape included); nothing is fetched from a CDN at run time.
 * Build: `npm run build:ui` (= `vite build --config src/ui/vite.config.ts`).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('./web/', import.meta.url));
const outDir = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

export default defineConfig({
  root,
  base: '/ui/',
  logLevel: 'warn',
  build: { outDir, emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
});
