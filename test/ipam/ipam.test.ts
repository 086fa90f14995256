/** Pure IPAM: CIDR parsing, default gateway and pools, pool validation, gap search, MACs. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultGateway, defaultPools, parseCidr, validatePools } from '../../src/server/ipam/cidr.js';
import { bigIntToIp, ipToBigInt } from '../../src/server/ipam/keys.js';
import { generateMac } from '../../src/server/ipam/mac.js';
import { firstFree } from '../../src/server/ipam/range.js';

const fault = (type: string) => (e: { type?: string }) => e.type === type;

describe('ipam', () => {
  it('parses and validates CIDRs', () => {
    assert.equal(parseCidr('10.0.0.0/24').text, '10.0.0.0/24');
    assert.equal(parseCidr('fd00:0::/64').text, 'fd00::/64');
    assert.throws(() => parseCidr('10.0.0.1/24'), fault('InvalidInput'));
    assert.throws(() => parseCidr('10.0.0/24'), fault('InvalidInput'));
    assert.throws(() => parseCidr('banana'), fault('InvalidInput'));
    assert.equal(parseCidr('10.0.0.1/24', false).text, '10.0.0.0/24');
  });

  it('default gateway and pools (v4 and v6)', () => {
    const c = parseCidr('192.168.1.0/24');
    assert.equal(defaultGateway(c), '192.168.1.1');
    assert.deepEqual(defaultPools(c, '192.168.1.1'), [{ start: '192.168.1.2', end: '192.168.1.254' }]);
    assert.deepEqual(defaultPools(c, '192.168.1.100'), [
      { start: '192.168.1.1', end: '192.168.1.99' },
      { start: '192.168.1.101', end: '192.168.1.254' },
    ]);
    assert.deepEqual(defaultPools(c, null), [{ start: '192.168.1.1', end: '192.168.1.254' }]);
    assert.deepEqual(defaultPools(parseCidr('fd00::/120'), 'fd00::1'), [{ start: 'fd00::2', end: 'fd00::ff' }]);
  });

  it('validates pools: inside, no overlap, gateway outside', () => {
    const c = parseCidr('10.0.0.0/24');
    assert.deepEqual(
      validatePools(
        c,
        [
          { start: '10.0.0.20', end: '10.0.0.30' },
          { start: '10.0.0.2', end: '10.0.0.10' },
        ],
        '10.0.0.1',
      ).map((p) => p.start),
      ['10.0.0.2', '10.0.0.20'],
    );
    assert.throws(
      () => validatePools(c, [{ start: '10.0.0.0', end: '10.0.0.10' }], null),
      fault('OutOfBoundsAllocationPool'),
    );
    assert.throws(
      () => validatePools(c, [{ start: '10.0.0.5', end: '10.0.0.255' }], null),
      fault('OutOfBoundsAllocationPool'),
    );
    assert.throws(
      () => validatePools(c, [{ start: '10.0.0.5', end: '10.0.0.2' }], null),
      fault('InvalidAllocationPool'),
    );
    assert.throws(
      () =>
        validatePools(
          c,
          [
            { start: '10.0.0.2', end: '10.0.0.9' },
            { start: '10.0.0.9', end: '10.0.0.12' },
          ],
          null,
        ),
      fault('OverlappingAllocationPools'),
    );
    assert.throws(
      () => validatePools(c, [{ start: '10.0.0.1', end: '10.0.0.9' }], '10.0.0.1'),
      fault('GatewayConflictWithAllocationPools'),
    );
    assert.throws(() => validatePools(c, [{ start: 'fd00::1', end: 'fd00::9' }], null), fault('InvalidAllocationPool'));
  });

  it('converts addresses to numbers and back', () => {
    assert.equal(bigIntToIp(ipToBigInt('10.0.255.254') + 1n, 4), '10.0.255.255');
    assert.equal(bigIntToIp(ipToBigInt('fd00::ffff') + 1n, 6), 'fd00::1:0');
  });

  it('finds max+1, then gaps from the bottom, without listing everything', async () => {
    const used = new Set([10n, 11n, 12n, 14n, 20n]);
    let listed = 0;
    const src = {
      max: async (a: bigint, b: bigint) =>
        [...used]
          .filter((x) => x >= a && x <= b)
          .sort((x, y) => (x < y ? -1 : 1))
          .pop(),
      list: async (a: bigint, b: bigint, limit: number) => {
        listed++;
        return [...used]
          .filter((x) => x >= a && x <= b)
          .sort((x, y) => (x < y ? -1 : 1))
          .slice(0, limit);
      },
    };
    assert.equal(await firstFree(10n, 30n, src), 21n);
    assert.equal(listed, 0);
    assert.equal(await firstFree(10n, 20n, src), 13n);
    used.add(13n);
    assert.equal(await firstFree(10n, 14n, src), undefined);
    assert.equal(await firstFree(5n, 4n, src), undefined);
  });

  it('generates unicast MACs from the base', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const m = generateMac();
      assert.match(m, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
      seen.add(m);
    }
    assert.ok(seen.size > 490);
    assert.equal(
      generateMac('fa:16:3e:aa:00:00', () => new Uint8Array([1, 2, 3])),
      'fa:16:3e:aa:02:03',
    );
    assert.equal(
      generateMac('fa:16:3e:00:00:00', () => new Uint8Array([1, 2, 3])),
      'fa:16:3e:01:02:03',
    );
  });
});
