/**
 * The user_data of a provider-launched HyperVM: what the server writes, the lab provider (playing
 * cloud-init) and the agent read back: the agent's command line with its launch file, and the launch
 * (port, repository, token) in a file only root reads. A document that is not one of ours is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import {
  buildHyperVmUserData,
  HYPERVM_LAUNCH_FILE,
  parseHyperVmUserData,
  type HyperVmLaunch,
} from '../../../src/model/hypervm-userdata.js';

const launch: HyperVmLaunch = {
  hypervm_id: '6f1c0d6e-2b1a-4c1e-9a57-0c3f0e1d2a3b',
  image_id: 'b2a9e3f4-1111-2222-3333-444455556666',
  repository_url: 'http://192.0.2.1:9393/repository',
  token: 'tok-AbCdEf0123456789',
  port: { id: 'p-1', hyper_ip: '10.0.1.7', mac_address: 'fa:16:3e:00:00:07', mtu: 1450 },
};

test('the launch and the agent command line survive the round trip', () => {
  const ud = buildHyperVmUserData({ server: 'unix:/run/s.sock', host: 'hvm-6f1c0d6e2b1a', cloud: 'cloud-b', launch });
  assert.ok(ud.startsWith('#cloud-config\n'));
  const back = parseHyperVmUserData(ud);
  assert.deepEqual(back.launch, launch);
  assert.deepEqual(back.argv, [
    'agent',
    '--server',
    'unix:/run/s.sock',
    '--host',
    'hvm-6f1c0d6e2b1a',
    '--cloud',
    'cloud-b',
    '--hypervm',
    '--hypervm-launch',
    HYPERVM_LAUNCH_FILE,
  ]);
  const file = (parse(ud) as { write_files: { path: string; permissions: string }[] }).write_files[0]!;
  assert.equal(file.path, HYPERVM_LAUNCH_FILE);
  assert.equal(file.permissions, '0600', 'the token is readable by root only');
});

test('the agents’ API token rides on the command line when the server runs token auth', () => {
  const ud = buildHyperVmUserData({ server: 'http://h:9696', host: 'hvm-1', cloud: 'c', token: 'adm1n', launch });
  assert.deepEqual(parseHyperVmUserData(ud).argv.slice(-2), ['--token', 'adm1n']);
});

test('documents that are not a HyperVM’s are refused', () => {
  assert.throws(() => parseHyperVmUserData('runcmd: []\n'), /not a #cloud-config/);
  assert.throws(() => parseHyperVmUserData('#cloud-config\nruncmd: [[hypernet, agent]]\n'), /writes no/);
  const noAgent = buildHyperVmUserData({ server: 's', host: 'h', cloud: 'c', launch }).replace(
    '- - hypernet',
    '- - other',
  );
  assert.throws(() => parseHyperVmUserData(noAgent), /starts no hypernet agent/);
  const badPort = buildHyperVmUserData({
    server: 's',
    host: 'h',
    cloud: 'c',
    launch: { ...launch, port: { ...launch.port, mtu: 5 } },
  });
  assert.throws(() => parseHyperVmUserData(badPort));
});
