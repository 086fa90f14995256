/**
 * "Every accepted object compiles in the agent": the server's whole model, as an admin reads it, goes
 * through the agent's real compilers, and the kernel tools judge their output inside a network
 * namespace this check makes (per-run prefix `hnz<pid>-`, removed on close, stale ones swept):
 *  - firewall: every port treated as wired on one node (compileFirewall → fullText), `nft -c -f -`,
 *    and no port refused by the compiler (which closes such a port and so passes nft -c);
 *  - DHCP: compileDhcp for host `fz-h1` with every unbound port wired there (the DHCP ports it asks
 *    for are created through the API, as the agent does), each network's dnsmasq config plus its hosts
 *    lines as `dhcp-host=` checked by `dnsmasq --test`, and no option of a subnet left out of it.
 * Texts that passed once are not checked again, so a run costs a tool call only when output changed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNetns, realExec, type Exec } from '../../src/common/exec.js';
import { silentLogger } from '../../src/common/log.js';
import { compileDhcp, dhcpPortRequest } from '../../src/agent/dhcp/index.js';
import { compileFirewall } from '../../src/agent/firewall/compile.js';
import { FirewallDriver } from '../../src/agent/firewall/driver.js';
import type { FirewallMode } from '../../src/agent/firewall/model.js';
import { groupsWithRules } from '../../src/agent/firewall/reconciler.js';
import { fullText } from '../../src/agent/firewall/render.js';
import { ModelCache, type ModelView } from '../../src/model/model-cache.js';
import { tapName } from '../../src/model/kernel-names.js';
import type { Port } from '../../src/model/types.js';
import { alive, listNetns } from '../../testkit/runs.js';
import type { TestServer } from '../server/helpers.js';
import { send, storeView, type StoreView } from './harness.js';

export const HOST = 'fz-h1';
const TAG = 'hnz';

export class AgentCheck {
  private readonly passed = new Set<string>();

  private constructor(
    readonly ns: string,
    private readonly exec: Exec,
    private readonly mode: FirewallMode,
    private readonly dir: string,
  ) {}

  /** Sweeps namespaces of crashed earlier runs, then makes this run's. Needs root. */
  static async open(): Promise<AgentCheck> {
    for (const ns of await listNetns()) {
      const m = new RegExp(`^${TAG}(\\d+)-`).exec(ns);
      if (m && !alive(Number(m[1]))) await realExec('ip', ['netns', 'del', ns], { allowFail: true });
    }
    const ns = `${TAG}${process.pid}-fuzz`;
    await realExec('ip', ['netns', 'add', ns]);
    const exec = inNetns(realExec, ns);
    try {
      const mode = await new FirewallDriver(exec, silentLogger()).detectMode();
      return new AgentCheck(ns, exec, mode, mkdtempSync(join(tmpdir(), `${TAG}${process.pid}-`)));
    } catch (e) {
      await realExec('ip', ['netns', 'del', ns], { allowFail: true });
      throw e;
    }
  }

  async close(): Promise<void> {
    await realExec('ip', ['netns', 'del', this.ns], { allowFail: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Compiles the server's current model (`view` when the caller just read it: a read less per step);
   * returns what the compilers or the kernel tools refused, or null.
   */
  async check(s: TestServer, view?: StoreView): Promise<string | null> {
    let model = await this.model(s, view);
    const wired = (ports: Iterable<Port>) =>
      [...ports].map((p) => (p['binding:host_id'] ? p : { ...p, 'binding:host_id': HOST }));
    const dhcpInput = () => ({
      host: HOST,
      networks: [...model.networks.values()],
      subnets: [...model.subnets.values()],
      ports: wired(model.ports.values()),
      underlayMtu: 1500,
      netnsPrefix: `${TAG}${process.pid}-d`,
    });
    let dhcp = compileDhcp(dhcpInput());
    if (dhcp.needsDhcpPort.length) {
      for (const net of dhcp.needsDhcpPort) {
        const v4 = [...model.subnets.values()].filter(
          (x) => x.network_id === net && x.ip_version === 4 && x.enable_dhcp,
        );
        const req = dhcpPortRequest(
          net,
          HOST,
          v4.map((x) => x.id),
        );
        // Owned like the network (Neutron's DHCP ports are the network's project's), so a tenant's
        // delete of its own network or subnet touches no object of another project.
        req.port.project_id = model.networks.get(net)?.project_id;
        const body = JSON.stringify(req);
        const headers = { 'x-auth-token': 'ADMIN', 'content-type': 'application/json' };
        const r = await send(s, { method: 'POST', path: '/v2.0/ports', headers, body });
        // A full subnet cannot give the DHCP port an address; the agent would retry, we skip it.
        if (r.status >= 500) return `creating the DHCP port of ${net}: ${r.status} ${r.text.slice(0, 200)}`;
      }
      model = await this.model(s);
      dhcp = compileDhcp(dhcpInput());
    }
    const fw = compileFirewall({
      mode: this.mode,
      localPorts: [...model.ports.values()].map((port) => ({
        port,
        ifname: tapName(port.id),
        vni: model.networks.get(port.network_id)?.['provider:segmentation_id'],
      })),
      securityGroups: groupsWithRules(model),
      allPorts: [...model.ports.values()],
    });
    // The compiler closes a port it cannot compile instead of failing (containment): nft -c passes
    // then, but an object the API accepted did not compile.
    for (const [port, why] of fw.rejected) return `the firewall compiler refused port ${port}: ${why}`;
    // Options the API accepted that dnsmasq's config leaves out (another family or form).
    const skipped = dhcp.problems.find((p) => p.includes('skipped') || p.includes('not served'));
    if (skipped) return `the DHCP compiler left out: ${skipped}`;
    const nftText = fullText(fw, 1);
    if (!this.passed.has(nftText)) {
      const r = await this.exec('nft', ['-c', '-f', '-'], { input: nftText, allowFail: true, timeoutMs: 20_000 });
      if (r.code !== 0) return `nft -c refused the firewall: ${r.stderr.trim().slice(0, 600)}`;
      this.passed.add(nftText);
    }
    for (const n of dhcp.networks) {
      const text =
        n.confText +
        n.hostsText
          .split('\n')
          .filter(Boolean)
          .map((l) => `dhcp-host=${l}\n`)
          .join('');
      if (this.passed.has(text)) continue;
      const file = join(this.dir, `${n.vni}.conf`);
      writeFileSync(file, text);
      const r = await this.exec('dnsmasq', ['--test', `--conf-file=${file}`], { allowFail: true, timeoutMs: 10_000 });
      if (r.code !== 0) return `dnsmasq --test refused network ${n.networkId}: ${r.stderr.trim().slice(0, 400)}`;
      this.passed.add(text);
    }
    return null;
  }

  private async model(s: TestServer, view?: StoreView): Promise<ModelView> {
    const v = view ?? (await storeView(s));
    const m = new ModelCache();
    m.applySnapshot({
      type: 'snapshot',
      revision: v.revision,
      networks: v.lists.networks as never,
      subnets: v.lists.subnets as never,
      ports: v.lists.ports as never,
      security_groups: v.lists['security-groups'] as never,
      security_group_rules: v.lists['security-group-rules'] as never,
      agents: v.lists.agents as never,
    });
    return m.view();
  }
}
