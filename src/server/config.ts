/**
 * Server settings: defaults, and loading from a YAML/JSON `--config` file (snake_case keys, as in
 * neutron.conf: global_physnet_mtu, agent_down_time, base_mac, vni_ranges "1001:16000000",
 * change_retention, watch_heartbeat_interval, default_project_id), the quota defaults and request
 * limits (quota_network … quota_security_group_rule, quota_router, quota_floatingip,
 * max_request_body_size, max_allowed_address_pair, max_fixed_ips_per_port, max_bulk_items;
 * docs/security.md) and the `agentless:` section (the options of src/model/agentless-config.ts;
 * absent = agentless mode off), and the image keys (image_size_cap, repository_token_ttl,
 * repository_listen; images/config.ts), and the `keystone_authtoken:` section for `--auth keystone`
 * (Neutron's [keystone_authtoken] option names), and `encryption` (cross-cloud | all | none: the
 * default policy of the encrypted overlay, docs/encryption.md), and `metadata_proxy_shared_secret`
 * (the metadata service's signing key, docs/routers.md).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_VNI_RANGE, type VniRange } from './ipam/allocate.js';
import { DEFAULT_BASE_MAC } from './ipam/mac.js';
import { parseAgentlessConfig, type AgentlessConfig } from '../model/agentless-config.js';
import { applyImageKeys, defaultImageConfig, imageFileKeys, type ImageConfig } from './images/config.js';
import { DEFAULT_ENCRYPTION, ENCRYPTION_POLICIES, type EncryptionPolicy } from '../model/encryption.js';

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
  /** The `agentless:` section (defaults filled in); absent: agentless mode off. */
  agentless?: AgentlessConfig;
  /** Per-project limits of projects an admin did not set (-1 = unlimited). */
  quotaDefaults: QuotaLimits;
  /** Largest request body in bytes (oslo.middleware's max_request_body_size). */
  maxRequestBodySize: number;
  maxAllowedAddressPairs: number;
  maxFixedIpsPerPort: number;
  /** Most objects in one bulk create, so that no request holds the store's write lock for long. */
  maxBulkItems: number;
  /** The image catalog and repository (images/config.ts). */
  images: ImageConfig;
  /** Which tunnels between nodes are encrypted, for networks without their own `hypernet:encryption`. */
  encryption: EncryptionPolicy;
  /** The `keystone_authtoken:` section, needed by `--auth keystone`. */
  keystoneAuthtoken?: KeystoneAuthtokenConfig;
  /** `metadata_proxy_shared_secret`: the key node proxies sign metadata requests with; absent: metadata off. */
  metadataSecret?: string;
}

/** How `--auth keystone` reaches Keystone: Neutron's [keystone_authtoken] options (password auth type only). */
export interface KeystoneAuthtokenConfig {
  /** Announced to clients in `WWW-Authenticate: Keystone uri="…"` on a 401. */
  wwwAuthenticateUri: string;
  /** Where the server authenticates itself and validates tokens. */
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  /** Seconds a validated token is trusted without asking Keystone again (0 = always ask). */
  tokenCacheTime: number;
  /** Seconds a refused token stays refused without asking again. */
  negativeCacheTime: number;
  /** Seconds to wait for Keystone before answering 503. */
  httpConnectTimeout: number;
}

/** The resources with a quota, as Neutron names them in the quota API. */
export const QUOTA_RESOURCES = [
  'network',
  'subnet',
  'port',
  'security_group',
  'security_group_rule',
  'router',
  'floatingip',
] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
export type QuotaLimits = Record<QuotaResource, number>;

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
    quotaDefaults: {
      network: 100,
      subnet: 100,
      port: 500,
      security_group: 10,
      security_group_rule: 100,
      router: 10,
      floatingip: 50,
    },
    maxRequestBodySize: 114_688,
    maxAllowedAddressPairs: 10,
    maxFixedIpsPerPort: 5,
    maxBulkItems: DEFAULT_MAX_BULK_ITEMS,
    images: defaultImageConfig(),
    encryption: DEFAULT_ENCRYPTION,
  };
}

/** Measured with bench/bulk-lock.ts: a bulk of 25 of the heaviest ports holds the write lock < 50 ms here. */
export const DEFAULT_MAX_BULK_ITEMS = 25;

const quotaLimit = z.number().int().min(-1);

const positiveInt = z.number().int().positive();

/** An http(s) URL (it ends up in a header and in requests, so nothing else passes). */
const httpUrl = z.url({ protocol: /^https?$/, hostname: z.regexes.hostname });

/** The config file's schema: neutron.conf names, all optional, unknown keys refused (a typo must not pass silently). */
const fileSchema = z
  .object({
    global_physnet_mtu: z
      .number()
      .int()
      .min(1280 + 50)
      .max(65535),
    agent_down_time: positiveInt,
    base_mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, 'a MAC like fa:16:3e:00:00:00'),
    vni_ranges: z
      .string()
      .regex(/^\d+:\d+$/, 'MIN:MAX, e.g. 1001:16000000')
      .transform((v) => v.split(':').map(Number) as [number, number])
      .refine(
        ([min, max]) => min >= 1 && min <= max && max <= 16_777_215,
        'a VNI range within 1..16777215, MIN <= MAX',
      ),
    change_retention: positiveInt,
    watch_heartbeat_interval: z.number().positive(),
    default_project_id: z.string().min(1),
    quota_network: quotaLimit,
    quota_subnet: quotaLimit,
    quota_port: quotaLimit,
    quota_security_group: quotaLimit,
    quota_security_group_rule: quotaLimit,
    quota_router: quotaLimit,
    quota_floatingip: quotaLimit,
    max_request_body_size: positiveInt,
    max_allowed_address_pair: positiveInt,
    max_fixed_ips_per_port: positiveInt,
    max_bulk_items: positiveInt,
    agentless: z.unknown(),
    ...imageFileKeys,
    keystone_authtoken: z
      .object({
        www_authenticate_uri: httpUrl.optional(),
        auth_url: httpUrl,
        auth_type: z.literal('password').optional(),
        username: z.string().min(1),
        password: z.string().min(1),
        project_name: z.string().min(1),
        user_domain_name: z.string().min(1).default('Default'),
        project_domain_name: z.string().min(1).default('Default'),
        token_cache_time: z.number().int().min(0).default(60),
        negative_cache_time: z.number().int().min(0).default(10),
        http_connect_timeout: z.number().positive().default(5),
      })
      .strict(),
    encryption: z.enum(ENCRYPTION_POLICIES),
    metadata_proxy_shared_secret: z.string().min(16, 'at least 16 characters'),
  })
  .partial()
  .strict();

/** Reads a config file over the defaults; a bad file is one clear error naming the key. */
export function loadConfig(file?: string): ServerConfig {
  const cfg = defaultConfig();
  if (!file) return cfg;
  const parsed = fileSchema.safeParse(parseYaml(readFileSync(file, 'utf8')) ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new Error(`config ${file}: ${issues.join('; ')}`);
  }
  const f = parsed.data;
  if (f.global_physnet_mtu !== undefined) cfg.globalPhysnetMtu = f.global_physnet_mtu;
  if (f.agent_down_time !== undefined) cfg.agentDownTime = f.agent_down_time;
  if (f.base_mac !== undefined) cfg.baseMac = f.base_mac.toLowerCase();
  if (f.vni_ranges !== undefined) cfg.vniRange = { min: f.vni_ranges[0], max: f.vni_ranges[1] };
  if (f.change_retention !== undefined) cfg.changeRetention = f.change_retention;
  if (f.watch_heartbeat_interval !== undefined) cfg.watchHeartbeatMs = f.watch_heartbeat_interval * 1000;
  if (f.default_project_id !== undefined) cfg.defaultProjectId = f.default_project_id;
  for (const r of QUOTA_RESOURCES) {
    const v = f[`quota_${r}`];
    if (v !== undefined) cfg.quotaDefaults[r] = v;
  }
  if (f.max_request_body_size !== undefined) cfg.maxRequestBodySize = f.max_request_body_size;
  if (f.max_allowed_address_pair !== undefined) cfg.maxAllowedAddressPairs = f.max_allowed_address_pair;
  if (f.max_fixed_ips_per_port !== undefined) cfg.maxFixedIpsPerPort = f.max_fixed_ips_per_port;
  if (f.max_bulk_items !== undefined) cfg.maxBulkItems = f.max_bulk_items;
  applyImageKeys(cfg.images, f);
  if (f.encryption !== undefined) cfg.encryption = f.encryption;
  if (f.metadata_proxy_shared_secret !== undefined) cfg.metadataSecret = f.metadata_proxy_shared_secret;
  if ('agentless' in f) cfg.agentless = parseAgentlessConfig(f.agentless);
  const k = f.keystone_authtoken;
  if (k) {
    cfg.keystoneAuthtoken = {
      wwwAuthenticateUri: k.www_authenticate_uri ?? k.auth_url,
      authUrl: k.auth_url,
      username: k.username,
      password: k.password,
      projectName: k.project_name,
      userDomainName: k.user_domain_name,
      projectDomainName: k.project_domain_name,
      tokenCacheTime: k.token_cache_time,
      negativeCacheTime: k.negative_cache_time,
      httpConnectTimeout: k.http_connect_timeout,
    };
  }
  return cfg;
}
