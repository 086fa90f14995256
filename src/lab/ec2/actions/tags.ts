/** Tags on any resource by id: CreateTags, DeleteTags, DescribeTags (filters key, value, resource-id/type). */
import { Ec2Fault, faults } from '../errors.js';
import { applyFilters } from '../filters.js';
import { paginate } from '../paging.js';
import { filters, members, strings, tagList } from '../query.js';
import { Ec2State } from '../state.js';
import type { Action } from './action.js';

function tagsOf(s: Ec2State, id: string): Record<string, string> {
  const tags = s.tagsOf(id);
  if (!tags) {
    const type = Ec2State.resourceType(id);
    if (!type) throw faults.malformed('InvalidID', id);
    const code = {
      instance: 'InvalidInstanceID',
      'network-interface': 'InvalidNetworkInterfaceID',
      'route-table': 'InvalidRouteTableID',
      'security-group': 'InvalidGroup',
      subnet: 'InvalidSubnetID',
      vpc: 'InvalidVpcID',
    }[type];
    throw new Ec2Fault(`${code}.NotFound`, `The ID '${id}' does not exist`);
  }
  return tags;
}

const createTags: Action = async ({ state: s }, p) => {
  const ids = strings(p, 'ResourceId');
  if (!ids.length) throw faults.missing('ResourceId');
  const tags = tagList(p);
  if (!tags.length) throw faults.missing('Tag');
  for (const [k] of tags)
    if (!k || k.startsWith('aws:'))
      throw faults.invalidValue('Tag.Key', k, "Tag keys starting with 'aws:' are reserved.");
  const targets = ids.map((id) => tagsOf(s, id));
  for (const t of targets) for (const [k, v] of tags) t[k] = v;
  return { return: true };
};

const deleteTags: Action = async ({ state: s }, p) => {
  const ids = strings(p, 'ResourceId');
  if (!ids.length) throw faults.missing('ResourceId');
  const given = members(p, 'Tag').map((m) => ({ key: m.get('Key') ?? '', value: m.get('Value') }));
  for (const id of ids) {
    const t = tagsOf(s, id);
    for (const key of given.length ? [] : Object.keys(t)) delete t[key];
    // A given value deletes the tag only when it matches; no value deletes it whatever it is.
    for (const g of given) if (g.key in t && (g.value === undefined || t[g.key] === g.value)) delete t[g.key];
  }
  return { return: true };
};

interface TagRow {
  resourceId: string;
  resourceType: string;
  key: string;
  value: string;
  tags: Record<string, string>;
}

const describeTags: Action = async ({ state: s }, p) => {
  const rows: TagRow[] = [];
  for (const m of [s.vpcs, s.subnets, s.routeTables, s.interfaces, s.groups, s.instances] as Map<
    string,
    { tags: Record<string, string> }
  >[])
    for (const [id, r] of m)
      for (const [key, value] of Object.entries(r.tags))
        rows.push({
          resourceId: id,
          resourceType: Ec2State.resourceType(id) ?? '',
          key,
          value,
          tags: { [key]: value },
        });
  const matched = applyFilters(rows, filters(p), {
    key: (r) => [r.key],
    value: (r) => [r.value],
    'resource-id': (r) => [r.resourceId],
    'resource-type': (r) => [r.resourceType],
  });
  const page = paginate('DescribeTags', p, matched, { min: 5, max: 1000 });
  return {
    tagSet: page.items.map((r) => ({
      resourceId: r.resourceId,
      resourceType: r.resourceType,
      key: r.key,
      value: r.value,
    })),
    nextToken: page.nextToken,
  };
};

export const TAG_ACTIONS: Record<string, Action> = {
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeTags: describeTags,
};
