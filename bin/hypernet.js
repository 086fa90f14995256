#!/usr/bin/env node
// Entry point of the `hypernet` executable: runs the compiled CLI (build with `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, 'dist', 'src', 'cli.js');
if (!existsSync(cli)) {
  console.error('hypernet: not built yet; run `npm run setup` (or `npm run build`) in ' + root);
  process.exit(2);
}
await import(cli);
