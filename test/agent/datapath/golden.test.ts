/**
 * Golden test of what the datapath writes to the agent's long-lived children to build a node from
 * nothing (testkit/datapath-golden.ts): the `ip` and `bridge` batches with their end marker, and the
 * raw frames of the port's gratuitous ARP. The file is rewritten only by `npm run update-goldens`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DATAPATH_GOLDEN, datapathGoldenText } from '../../../testkit/datapath-golden.js';

test('datapath: the children read the golden batches and frames', async () => {
  assert.equal(await datapathGoldenText(), readFileSync(DATAPATH_GOLDEN, 'utf8'));
});
