/**
 * The store's tables, in SQL that both SQLite and PostgreSQL accept. Objects are kept whole as JSON
 * (the wire shape) in `resources`; the columns that must be unique live in their own tables so the
 * database enforces them: VNI, MAC per network, IP per subnet, default security group per project,
 * agent per host. `changes` is the change log the watch stream reads; `meta` holds the revision and
 * the compaction point; `quotas` holds the per-project limits an admin set (absent = the configured default).
 */
export const SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS resources (kind TEXT NOT NULL, id TEXT NOT NULL, parent_id TEXT, seq BIGINT NOT NULL,
     body TEXT NOT NULL, PRIMARY KEY (kind, id))`,
  `CREATE INDEX IF NOT EXISTS resources_seq ON resources (kind, seq)`,
  `CREATE INDEX IF NOT EXISTS resources_parent ON resources (kind, parent_id, seq)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS resources_agent_host ON resources (parent_id) WHERE kind = 'agent'`,
  `CREATE TABLE IF NOT EXISTS changes (revision BIGINT PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL,
     op TEXT NOT NULL, object TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS vni_allocations (vni BIGINT PRIMARY KEY, network_id TEXT NOT NULL UNIQUE)`,
  `CREATE TABLE IF NOT EXISTS mac_allocations (network_id TEXT NOT NULL, mac TEXT NOT NULL, port_id TEXT NOT NULL,
     PRIMARY KEY (network_id, mac))`,
  `CREATE TABLE IF NOT EXISTS ip_allocations (subnet_id TEXT NOT NULL, ip_key TEXT NOT NULL, ip_address TEXT NOT NULL,
     port_id TEXT NOT NULL, PRIMARY KEY (subnet_id, ip_key))`,
  `CREATE INDEX IF NOT EXISTS ip_allocations_port ON ip_allocations (port_id)`,
  `CREATE TABLE IF NOT EXISTS default_security_groups (project_id TEXT PRIMARY KEY, security_group_id ` +
    `TEXT NOT NULL UNIQUE)`,
  `CREATE TABLE IF NOT EXISTS quotas (project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit BIGINT NOT NULL,
     PRIMARY KEY (project_id, resource))`,
  `INSERT INTO meta (name, value) VALUES ('revision', 0) ON CONFLICT (name) DO NOTHING`,
  `INSERT INTO meta (name, value) VALUES ('compacted', 0) ON CONFLICT (name) DO NOTHING`,
];
