/**
 * The lab's VPC in the kernel, behind the EC2 endpoint (Ec2Dataplane): a VPC router namespace stands
 * for EC2's fabric. Each plugged ENI is a veth from the router to its VM's namespace, routed as a /32
 * with proxy ARP, so even two VMs of one subnet meet only through the router, as in a VPC. The route
 * table is the router's main table, edited by Create/Replace/DeleteRoute. EC2's source/destination
 * check is an nftables rule per ENI in the router: a packet from that ENI with another source, or to it
 * with another destination, is dropped while the check is on. VPC security groups filter each ENI's
 * ingress (sg-rules.ts) once the endpoint has reported a change of them; until then nothing is filtered.
 */
import { createHash } from 'node:crypto';
import type { Exec } from '../../common/exec.js';
import { bigIntToIp, parseCidr } from '../../model/grammar/addresses.js';
import { addNetns, sysctlIn } from '../netns.js';
import { securityGroupRules } from './sg-rules.js';
import type { Ec2Dataplane, Ec2State, NetworkInterface, Route, RouteTable } from './state.js';

/** The router namespace's nftables table, owned wholesale. */
const TABLE = 'hnvpc';

/** The router-side link of an ENI. */
export const routerLink = (eniId: string): string =>
  `r${createHash('sha256').update(eniId).digest('hex').slice(0, 10)}`;

export class NetnsVpcDataplane implements Ec2Dataplane {
  /** ENIs plugged here: id → router link and address, and whether EC2's check is on. */
  private readonly plugged = new Map<string, { link: string; ip: string; check: boolean }>();
  /** The endpoint's state, once it reported a change of security groups (then they are enforced). */
  private groups: Ec2State | undefined;

  constructor(
    private readonly exec: Exec,
    /** The VPC router namespace. */
    readonly ns: string,
  ) {}

  /** Makes the router namespace (forwarding on, an empty check table). */
  async create(): Promise<void> {
    await addNetns(this.exec, this.ns);
    await sysctlIn(this.exec, this.ns, 'net.ipv4.ip_forward', 1);
    await this.writeChecks();
  }

  /**
   * Plugs `eni` into namespace `vmNs` as `ifname`: its address with the subnet's prefix, the default
   * route via the subnet's first address (EC2's router address), answered by the router's proxy ARP.
   * `via`: the destinations routed that way instead of the default (a lab hyperswitch keeps its
   * default route on its underlay link).
   */
  async plug(
    eni: NetworkInterface,
    subnetCidr: string,
    vmNs: string,
    ifname = 'eth0',
    via: readonly string[] = ['default'],
  ): Promise<void> {
    const link = routerLink(eni.networkInterfaceId);
    const c = parseCidr(subnetCidr);
    const gw = bigIntToIp(c.network + 1n, 4);
    const x = this.exec;
    await x('ip', ['-n', this.ns, 'link', 'add', link, 'type', 'veth', 'peer', 'name', ifname, 'netns', vmNs]);
    await x('ip', ['-n', vmNs, 'link', 'set', ifname, 'address', eni.macAddress]);
    await x('ip', ['-n', vmNs, 'addr', 'add', `${eni.privateIpAddress}/${c.prefix}`, 'dev', ifname]);
    await x('ip', ['-n', vmNs, 'link', 'set', ifname, 'up']);
    for (const dest of via) await x('ip', ['-n', vmNs, 'route', 'add', dest, 'via', gw, 'dev', ifname]);
    // Every router link holds the subnet's router address, as EC2's router answers on each subnet.
    await x('ip', ['-n', this.ns, 'addr', 'add', `${gw}/32`, 'dev', link]);
    await x('ip', ['-n', this.ns, 'link', 'set', link, 'up']);
    await sysctlIn(x, this.ns, `net.ipv4.conf.${link}.proxy_arp`, 1);
    // Proxy ARP answers after a random delay of up to 0.8 s by default: EC2's fabric answers at once.
    await sysctlIn(x, this.ns, `net.ipv4.neigh.${link}.proxy_delay`, 0);
    await x('ip', ['-n', this.ns, 'route', 'replace', `${eni.privateIpAddress}/32`, 'dev', link]);
    this.plugged.set(eni.networkInterfaceId, { link, ip: eni.privateIpAddress, check: eni.sourceDestCheck });
    await this.writeChecks();
  }

  async routeChanged(_t: RouteTable, cidr: string, route: Route | null, eni: NetworkInterface | undefined) {
    if (!route) {
      await this.exec('ip', ['-n', this.ns, 'route', 'del', cidr], { allowFail: true });
      return;
    }
    if (route.gatewayId === 'local') return;
    const p = eni && this.plugged.get(eni.networkInterfaceId);
    // A target EC2 cannot deliver to (not plugged here) is a blackhole, as EC2 shows it.
    const target = p ? ['via', p.ip, 'dev', p.link, 'onlink'] : ['blackhole'];
    await this.exec('ip', ['-n', this.ns, 'route', 'replace', ...(p ? [cidr, ...target] : [...target, cidr])]);
  }

  async sourceDestCheckChanged(eni: NetworkInterface): Promise<void> {
    const p = this.plugged.get(eni.networkInterfaceId);
    if (!p) return;
    p.check = eni.sourceDestCheck;
    await this.writeChecks();
  }

  async securityGroupsChanged(state: Ec2State): Promise<void> {
    this.groups = state;
    await this.writeChecks();
  }

  /** The whole check table, replaced in one nft transaction. */
  private async writeChecks(): Promise<void> {
    const rules = [...this.plugged.values()]
      .filter((p) => p.check)
      .flatMap((p) => [
        `    iifname "${p.link}" ip saddr != ${p.ip} drop`,
        `    oifname "${p.link}" ip daddr != ${p.ip} drop`,
      ]);
    const text = [
      `table inet ${TABLE} {}`,
      `delete table inet ${TABLE}`,
      `table inet ${TABLE} {`,
      '  chain source_dest_check {',
      '    type filter hook forward priority 0; policy accept;',
      ...rules,
      '  }',
      '  chain security_groups {',
      '    type filter hook forward priority 10; policy accept;',
      ...(this.groups
        ? [
            '    ct state established,related accept',
            ...securityGroupRules(this.groups, new Map([...this.plugged].map(([id, p]) => [id, p.link]))).map(
              (r) => `    ${r}`,
            ),
          ]
        : []),
      '  }',
      '}',
      '',
    ].join('\n');
    await this.exec('ip', ['netns', 'exec', this.ns, 'nft', '-f', '-'], { input: text });
  }
}
