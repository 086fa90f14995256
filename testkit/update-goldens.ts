/**
 * Rewrites the golden files from the current code (`npm run update-goldens`): the firewall's rulesets
 * and the datapath's child input. Run by a person after a deliberate change; review `git diff` before
 * committing.
 */
import { writeFileSync } from 'node:fs';
import { DATAPATH_GOLDEN, datapathGoldenText } from './datapath-golden.js';
import { GOLDEN_MODES, goldenFile, goldenText } from './firewall-golden.js';

for (const mode of GOLDEN_MODES) {
  writeFileSync(goldenFile(mode), goldenText(mode));
  console.log(`wrote ${goldenFile(mode)}`);
}
writeFileSync(DATAPATH_GOLDEN, await datapathGoldenText());
console.log(`wrote ${DATAPATH_GOLDEN}`);
