/**
 * DatapathCompiler.knowsTap (pure, no root): a tap that appears before the compile that knows its
 * port is remembered, and that compile calls back so the loop runs one more pass (the pass that
 * compiled may have listed the links before the tap appeared); a tap that went away is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatapathCompiler } from '../../../src/agent/datapath/reconciler.js';
import { tapName } from '../../../src/model/kernel-names.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';

const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const P1 = '1aaaaaaa-bbbb-cccc-dddd-000000000001';
const P2 = '2aaaaaaa-bbbb-cccc-dddd-000000000002';
const P3 = '3aaaaaaa-bbbb-cccc-dddd-000000000003';
const modelWith = (ids: string[], revision: number) =>
  view(
    {
      networks: [net('n1', 100)],
      agents: [agent('a1', 'hostA', '192.0.2.1')],
      ports: ids.map((id, i) => port(id, 'n1', 'hostA', `fa:16:3e:00:00:0${i + 1}`, [`10.0.1.${i + 1}`])),
    },
    revision,
  );

test('knowsTap: an unknown tap is remembered and the compile that knows it calls back, once', () => {
  let woken = 0;
  const c = new DatapathCompiler(node, () => woken++);
  assert.equal(c.knowsTap(tapName(P2)), true, 'before the first compile every tap counts');
  c.compile(modelWith([P1], 1));
  assert.equal(c.knowsTap(tapName(P1)), true);
  assert.equal(c.knowsTap(tapName(P2)), false);
  assert.equal(c.knowsTap(tapName(P3), false), false, 'a tap that went away is not remembered');
  c.compile(modelWith([P1, P3], 2));
  assert.equal(woken, 0, 'no compile knew a remembered tap yet');
  c.compile(modelWith([P1, P2, P3], 3));
  assert.equal(woken, 1);
  c.compile(modelWith([P1, P2, P3], 4));
  assert.equal(woken, 1, 'called back once per tap');
  assert.equal(c.knowsTap(tapName(P2)), true);
});

test('knowsTap: a remembered tap that went away calls nothing back', () => {
  let woken = 0;
  const c = new DatapathCompiler(node, () => woken++);
  c.compile(modelWith([P1], 1));
  assert.equal(c.knowsTap(tapName(P2)), false);
  c.forgetTap(tapName(P2));
  c.compile(modelWith([P1, P2], 2));
  assert.equal(woken, 0);
});
