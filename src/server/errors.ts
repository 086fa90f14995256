/**
 * Typed API errors and their Neutron wire form. Code anywhere (IPAM, resources, auth) throws a
 * `NeutronFault`; `toNeutronError` is the ONE place that turns any thrown value into a status code
 * and the body `{"NeutronError": {"type", "message", "detail"}}`.
 */
import { StoreUnavailableError } from './store/store.js';

export class NeutronFault extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly detail: string = '',
  ) {
    super(message);
    this.name = 'NeutronFault';
  }
}

/** Resource names as Neutron spells them in error types (NetworkNotFound, PortNotFound, …). */
const TYPE_NAMES: Record<string, string> = {
  network: 'Network',
  subnet: 'Subnet',
  port: 'Port',
  security_group: 'SecurityGroup',
  security_group_rule: 'SecurityGroupRule',
  agent: 'Agent',
  router: 'Router',
  floatingip: 'FloatingIP',
  instance: 'Instance',
  subnetpool: 'SubnetPool',
  hypervm: 'HyperVm',
};

/** Labels in NotFound messages where splitting the type name would misspell them. */
const LABELS: Record<string, string> = { floatingip: 'Floating IP', hypervm: 'HyperVM' };

export const faults = {
  badRequest: (message: string, type = 'BadRequest') => new NeutronFault(400, type, message),
  invalidInput: (message: string) => new NeutronFault(400, 'InvalidInput', `Invalid input for operation: ${message}.`),
  unauthorized: () => new NeutronFault(401, 'Unauthorized', 'The request you have made requires authentication.'),
  forbidden: (message: string) => new NeutronFault(403, 'PolicyNotAuthorized', message),
  notFound: (kind: string, id: string) => {
    const name = TYPE_NAMES[kind] ?? kind;
    const spaced = name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    const label = LABELS[kind] ?? spaced.charAt(0).toUpperCase() + spaced.slice(1);
    return new NeutronFault(404, `${name}NotFound`, `${label} ${id} could not be found.`);
  },
  /** A 404 with its own Neutron type (RouterInterfaceNotFound, …). */
  missing: (type: string, message: string) => new NeutronFault(404, type, message),
  resourceNotFound: (path: string) => new NeutronFault(404, 'HTTPNotFound', `The resource could not be found: ${path}`),
  tagNotFound: (tag: string, id: string) =>
    new NeutronFault(404, 'TagNotFound', `Tag ${tag} could not be found for resource ${id}.`),
  methodNotAllowed: () => new NeutronFault(405, 'HTTPMethodNotAllowed', 'The method is not allowed for this resource.'),
  conflict: (type: string, message: string) => new NeutronFault(409, type, message),
  preconditionFailed: (expected: number, actual: number) =>
    new NeutronFault(
      412,
      'RevisionNumberConstraintFailed',
      `Constrained to ${expected}, but current revision is ${actual}`,
    ),
  gone: (type: string, message: string) => new NeutronFault(410, type, message),
  overQuota: (resources: readonly string[]) =>
    new NeutronFault(409, 'OverQuota', `Quota exceeded for resources: [${resources.map((r) => `'${r}'`).join(', ')}].`),
};

export interface NeutronErrorBody {
  NeutronError: { type: string; message: string; detail: string };
}

/** Maps anything thrown while serving a request to (status, body). Unknown errors become 500. */
export function toNeutronError(err: unknown): { status: number; body: NeutronErrorBody } {
  if (err instanceof StoreUnavailableError) {
    // The database is down or restarting: the same request may succeed later (the cause is logged).
    const message = 'The server cannot reach its database right now; retry later.';
    return { status: 503, body: { NeutronError: { type: 'ServiceUnavailable', message, detail: '' } } };
  }
  if (err instanceof NeutronFault) {
    return { status: err.status, body: { NeutronError: { type: err.type, message: err.message, detail: err.detail } } };
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  // fastify's own errors: malformed JSON, unsupported media type, body too large, bad URL, long parameter.
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) {
      const message = 'Request is too large.';
      return { status: 413, body: { NeutronError: { type: 'HTTPRequestEntityTooLarge', message, detail: '' } } };
    }
    const named: Record<number, string> = {
      404: 'HTTPNotFound',
      414: 'HTTPRequestURITooLong',
      415: 'HTTPUnsupportedMediaType',
    };
    const type = named[e.statusCode] ?? 'BadRequest';
    return { status: e.statusCode, body: { NeutronError: { type, message: e.message ?? 'Bad request', detail: '' } } };
  }
  return {
    status: 500,
    body: {
      NeutronError: {
        type: 'HTTPInternalServerError',
        message: 'Request Failed: internal server error while processing your request.',
        detail: '',
      },
    },
  };
}
