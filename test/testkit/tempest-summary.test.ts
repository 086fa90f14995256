/** The tempest run's report: totals, skips with reasons, failures, and causes counted once per failure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skippedExtension, summarize } from '../../testkit/tempest-summary.js';

const DETAILS = `Details: {'type': 'BadRequest', 'message': "Body cannot be empty", 'detail': ''}`;
const OUTPUT = [
  '{0} setUpClass (neutron_tempest_plugin.api.test_networks.NetworksMtuTestJSON) ... SKIPPED: net-mtu-writable extension not enabled.',
  '{0} neutron_tempest_plugin.api.test_networks.NetworksTestJSON.test_a [0.040228s] ... FAILED',
  '',
  '    tempest.lib.exceptions.BadRequest: Bad request',
  DETAILS,
  '{1} neutron_tempest_plugin.api.test_networks.NetworksTestJSON.test_b [0.01s] ... ok',
  '{1} tearDownClass (neutron_tempest_plugin.api.test_networks.NetworksTestJSON) [0.000000s] ... FAILED',
  DETAILS,
  '',
  '==============================',
  'Failed 2 tests - output below:',
  '==============================',
  '',
  '    tempest.lib.exceptions.BadRequest: Bad request',
  DETAILS,
  '    testtools.matchers._impl.MismatchError: 10 != 11',
  DETAILS.replace('Body cannot be empty', 'port 0f9b4a7e-58a9-4c0e-9f0a-7d0c2f1d3e4a in use'),
  '',
  '======',
  'Totals',
  '======',
  'Ran: 3 tests in 1.1 sec.',
  ' - Passed: 1',
  ' - Skipped: 1',
  ' - Failed: 2',
  '',
].join('\n');

test('summarize: totals, each skip with its reason, failed tests, causes once per failure', () => {
  const s = summarize(OUTPUT);
  assert.equal(s.totals, 'Ran: 3 tests in 1.1 sec.\n - Passed: 1\n - Skipped: 1\n - Failed: 2');
  assert.deepEqual(s.skips, [
    {
      test: 'setUpClass (neutron_tempest_plugin.api.test_networks.NetworksMtuTestJSON)',
      reason: 'net-mtu-writable extension not enabled.',
    },
  ]);
  assert.deepEqual(s.failed, [
    'neutron_tempest_plugin.api.test_networks.NetworksTestJSON.test_a',
    'tearDownClass (neutron_tempest_plugin.api.test_networks.NetworksTestJSON)',
  ]);
  assert.deepEqual(
    new Map(s.causes),
    new Map([
      [DETAILS, 1],
      ['testtools.matchers._impl.MismatchError: 10 != 11', 1],
      [DETAILS.replace('Body cannot be empty', 'port <id> in use'), 1],
    ]),
  );
});

test('summarize: a run that did not finish says so', () => {
  assert.match(summarize('{0} x [0.1s] ... ok\n').totals, /did not finish/);
});

test('skippedExtension: the extension a skip waits for, nothing for other reasons', () => {
  assert.equal(skippedExtension('net-mtu-writable extension not enabled.'), 'net-mtu-writable');
  assert.equal(skippedExtension('Skipped because network extension: qos is not enabled'), 'qos');
  assert.equal(skippedExtension('This test requires at least two agents.'), undefined);
  assert.equal(skippedExtension('Feature for specifying floating IP address is disabled'), undefined);
});
