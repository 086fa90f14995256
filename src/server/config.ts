/**
 * Server settings: defaults, and loading from a YAML/JSON `--config` file (snake_case keys, as in
 * neutron.conf: global_physnet_mtu, agent_down_time, base_mac, vni_ranges "1001:16000000",
 * change_retention, watch_heartbeat_interval, default_project_id) and the `agentless:` section
 * (the seed options of src/agentless/config.ts; absent = agentless mode off).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_VNI_RANGE, type VniRange } from '../ipam/allocate.js';
import { DEFAULT_BASE_MAC } from '../ipam/mac.js';
import { parseAgentlessConfig, type AgentlessConfig } from '../agentless/config.js';

export interface ServerConfig {
  /** Underlay MTU; networks get this minus the 50 bytes of VXLAN. */
  globalPhysnetMtu: number;
  /** Seconds without heartbeat after which an agent is not alive. */
  agentDownTime: number;
  baseMac: string;
  vniRange: VniRange;
  /** Changes kept for the watch stream. */
  changeRetention: number;
  /** Milliseconds between watch heartbeat lines. */
  watchHeartbeatMs: number;
  /** Project of requests in noauth mode that name none. */
  defaultProjectId: string;
  /** The `agentless:` section (seed options, defaults filled in); absent: agentless mode off. */
  agentless?: AgentlessConfig;
}

export { VXLAN_OVERHEAD } from '../model/vxlan.js';

export function defaultConfig(): ServerConfig {
  return {
    globalPhysnetMtu: 1500,
    agentDownTime: 15,
    baseMac: DEFAULT_BASE_MAC,
    vniRange: { ...DEFAULT_VNI_RANGE },
    changeRetention: 10_000,
    watchHeartbeatMs: 5_000,
    defaultProjectId: 'admin',
  };
}

/** Reads a config file over the defaults; unknown keys are an error (a typo should not pass silently). */
export function loadConfig(file?: string): ServerConfig {
  const cfg = defaultConfig();
  if (!file) return cfg;
  const raw = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw)) {
    switch (k) {
      case 'global_physnet_mtu':
        cfg.globalPhysnetMtu = Number(v);
        break;
      case 'agent_down_time':
        cfg.agentDownTime = Number(v);
        break;
      case 'base_mac':
        cfg.baseMac = String(v);
        break;
      case 'vni_ranges': {
        const [min, max] = String(v).split(':').map(Number);
        cfg.vniRange = { min, max };
        break;
      }
      case 'change_retention':
        cfg.changeRetention = Number(v);
        break;
      case 'watch_heartbeat_interval':
        cfg.watchHeartbeatMs = Number(v) * 1000;
        break;
      case 'default_project_id':
        cfg.defaultProjectId = String(v);
        break;
      case 'agentless':
        cfg.agentless = parseAgentlessConfig(v);
        break;
      default:
        throw new Error(`config ${file}: unknown key ${k}`);
    }
  }
  return cfg;
}
