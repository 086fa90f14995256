/**
 * Finding an object by ID or by name (like the openstack CLI): the ID is tried first; on 404 the
 * name is looked up; if nothing matches, the server's own NeutronError (404) is what the user sees.
 */
import { type ApiClient, ApiError } from '../client/api.js';
import { resourceByCommand, type ResourceSpec } from './resources.js';

export type Obj = Record<string, unknown>;

export async function findObject(client: ApiClient, spec: ResourceSpec, nameOrId: string): Promise<Obj> {
  try {
    return await client.show<Obj>(spec.plural, spec.singular, nameOrId);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404 || !spec.nameAttr) throw e;
    const attr = spec.nameAttr;
    const hits = (await client.list<Obj>(spec.plural, { [attr]: nameOrId })).filter((o) => o[attr] === nameOrId);
    if (hits.length === 1) return hits[0];
    if (hits.length > 1)
      throw new ApiError(409, 'NameConflict', `More than one ${spec.title} is named ${nameOrId}; use its ID.`);
    throw e;
  }
}

/** The ID of the `command` resource (e.g. 'network') named or identified by `nameOrId`. */
export async function resolveId(client: ApiClient, command: string, nameOrId: string): Promise<string> {
  return String((await findObject(client, resourceByCommand(command), nameOrId)).id);
}
