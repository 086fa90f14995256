/**
 * The PostgreSQL store's statements, by name: the pg driver prepares each once per connection under
 * its name. Same tables as SQLite (schema.ts); BIGINT values arrive as text and are converted by the
 * store.
 */

/** NOTIFY channel of commits; the payload is the new revision. */
export const COMMIT_CHANNEL = 'hypernet_commit';

/** The statements, prepared once per connection (by name). */
export const SQL = {
  meta: "SELECT name, value FROM meta WHERE name IN ('revision', 'compacted')",
  revision: "SELECT value FROM meta WHERE name = 'revision'",
  setMeta: 'UPDATE meta SET value = $1 WHERE name = $2',
  get: 'SELECT body FROM resources WHERE kind = $1 AND id = $2',
  list: 'SELECT body FROM resources WHERE kind = $1 ORDER BY seq',
  listParent: 'SELECT body FROM resources WHERE kind = $1 AND parent_id = $2 ORDER BY seq',
  upsert: `INSERT INTO resources (kind, id, parent_id, seq, body, project_id) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (kind, id) DO UPDATE
           SET body = excluded.body, parent_id = excluded.parent_id, project_id = excluded.project_id`,
  updateBody: 'UPDATE resources SET body = $1, project_id = $4 WHERE kind = $2 AND id = $3',
  delete: 'DELETE FROM resources WHERE kind = $1 AND id = $2',
  // The changes of a write, its new revision and the NOTIFY other servers hear when it commits.
  finish: `WITH added AS (INSERT INTO changes (revision, kind, id, op, object)
                          SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])),
                moved AS (UPDATE meta SET value = $6 WHERE name = 'revision')
           SELECT pg_notify('${COMMIT_CHANNEL}', $7)`,
  // finish and remember in one statement: a create's changes and its idempotency result, one round trip
  // (data-modifying WITH clauses all run, to completion, whether the SELECT reads them or not).
  finishRemembering: `WITH added AS (INSERT INTO changes (revision, kind, id, op, object)
                          SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])),
                moved AS (UPDATE meta SET value = $6 WHERE name = 'revision'),
                expired AS (DELETE FROM idempotency_keys WHERE created_at < $11 AND key <> $8),
                kept AS (INSERT INTO idempotency_keys (key, created_at, result) VALUES ($8, $9, $10)
                         ON CONFLICT (key) DO UPDATE SET created_at = excluded.created_at, result = excluded.result
                         WHERE idempotency_keys.created_at < $11)
           SELECT pg_notify('${COMMIT_CHANNEL}', $7)`,
  changesSince: 'SELECT revision, kind, id, op, object FROM changes WHERE revision > $1 ORDER BY revision LIMIT $2',
  compact: 'DELETE FROM changes WHERE revision <= $1',
  ipBySubnet: 'SELECT subnet_id, ip_address, port_id FROM ip_allocations WHERE subnet_id = $1 ORDER BY ip_key',
  ipByPort: 'SELECT subnet_id, ip_address, port_id FROM ip_allocations WHERE port_id = $1 ORDER BY subnet_id, ip_key',
  claimIp: `INSERT INTO ip_allocations (subnet_id, ip_key, ip_address, port_id) VALUES ($1, $2, $3, $4)
            ON CONFLICT (subnet_id, ip_key) DO NOTHING`,
  releaseIp: 'DELETE FROM ip_allocations WHERE subnet_id = $1 AND ip_address = $2',
  ipKeys:
    'SELECT ip_key FROM ip_allocations WHERE subnet_id = $1 AND ip_key >= $2 AND ip_key <= $3 ORDER BY ip_key LIMIT $4',
  ipMax: 'SELECT max(ip_key) AS k FROM ip_allocations WHERE subnet_id = $1 AND ip_key >= $2 AND ip_key <= $3',
  vniKeys: 'SELECT vni FROM vni_allocations WHERE vni >= $1 AND vni <= $2 ORDER BY vni LIMIT $3',
  vniMax: 'SELECT max(vni) AS k FROM vni_allocations WHERE vni >= $1 AND vni <= $2',
  claimVni: 'INSERT INTO vni_allocations (vni, network_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
  releaseVni: 'DELETE FROM vni_allocations WHERE network_id = $1',
  claimMac: 'INSERT INTO mac_allocations (network_id, mac, port_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  releaseMac: 'DELETE FROM mac_allocations WHERE network_id = $1 AND mac = $2',
  getDefaultSg: 'SELECT security_group_id FROM default_security_groups WHERE project_id = $1',
  setDefaultSg:
    'INSERT INTO default_security_groups (project_id, security_group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
  clearDefaultSg: 'DELETE FROM default_security_groups WHERE security_group_id = $1',
  countOwned: 'SELECT count(*) AS n FROM resources WHERE kind = $1 AND project_id = $2',
  quotasAll: 'SELECT project_id, resource, hard_limit FROM quotas ORDER BY project_id, resource',
  quotasOf: 'SELECT project_id, resource, hard_limit FROM quotas WHERE project_id = $1 ORDER BY resource',
  setQuota: `INSERT INTO quotas (project_id, resource, hard_limit) VALUES ($1, $2, $3)
             ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`,
  clearQuotas: 'DELETE FROM quotas WHERE project_id = $1',
  remembered: 'SELECT result FROM idempotency_keys WHERE key = $1',
  // Drops the expired results on the way (one round trip); an expired result under the same key is replaced.
  remember: `WITH expired AS (DELETE FROM idempotency_keys WHERE created_at < $4 AND key <> $1)
             INSERT INTO idempotency_keys (key, created_at, result) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET created_at = excluded.created_at, result = excluded.result
             WHERE idempotency_keys.created_at < $4`,
  schemaVersion: 'SELECT coalesce(max(version), 0) AS v FROM schema_version',
} as const;
export type SqlName = keyof typeof SQL;
