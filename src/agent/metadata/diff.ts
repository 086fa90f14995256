/**
 * diffMetadata: pure. Per desired network: is its namespace there, does `lo` hold the metadata
 * address, and must the proxy start or restart (absent, another command line, or left in an older
 * namespace of the same name); proxies of networks no longer desired are stopped.
 */
import type { MetadataActual, MetadataDesired, MetadataNetworkActual, MetadataPlan } from './types.js';

export function diffMetadata(desired: MetadataDesired, actual: MetadataActual): MetadataPlan {
  const byVni = new Map<number, MetadataNetworkActual>(actual.networks.map((a) => [a.vni, a]));
  const networks = desired.networks.map((d) => {
    const a = byVni.get(d.vni);
    const netnsMissing = !a?.netnsExists;
    const proxy: 'none' | 'start' | 'restart' = !a?.pid ? 'start' : a.proxyMatches ? 'none' : 'restart';
    return {
      vni: d.vni,
      netns: d.netns,
      networkId: d.networkId,
      netnsMissing,
      addAddress: !netnsMissing && !a?.addressed,
      proxy: netnsMissing ? ('none' as const) : proxy,
    };
  });
  const wanted = new Set(desired.networks.map((d) => d.vni));
  const stop = actual.networks.filter((a) => a.pid !== null && !wanted.has(a.vni)).map((a) => a.vni);
  return { networks, stop: stop.sort((a, b) => a - b) };
}
