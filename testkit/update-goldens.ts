/**
 * Rewrites the firewall golden files from the current compiler (`npm run update-goldens`). Run by a
 * person after a deliberate change to the rendered ruleset; review `git diff` before committing.
 */
import { writeFileSync } from 'node:fs';
import { GOLDEN_MODES, goldenFile, goldenText } from './firewall-golden.js';

for (const mode of GOLDEN_MODES) {
  writeFileSync(goldenFile(mode), goldenText(mode));
  console.log(`wrote ${goldenFile(mode)}`);
}
