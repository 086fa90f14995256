/**
 * Errors of the image API in Glance's wire form: the status line and a JSON body
 * `{"message", "code": "404 Not Found", "title": "Not Found"}` (webob's JSON error page, which is
 * what the openstack CLI reads the message from). The image routes turn every failure into one of
 * these in one place (`toGlanceError`), so a Neutron-style body never reaches an image client.
 */
import { STATUS_CODES } from 'node:http';
import { LayoutError } from '../../model/oci.js';
import { NeutronFault } from '../errors.js';
import { TooLargeError } from './unpack.js';

export class GlanceFault extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GlanceFault';
  }
}

export const glance = {
  badRequest: (m: string) => new GlanceFault(400, m),
  forbidden: (m: string) => new GlanceFault(403, m),
  notFound: (m: string) => new GlanceFault(404, m),
  imageNotFound: (id: string) => new GlanceFault(404, `No image found with ID ${id}`),
  conflict: (m: string) => new GlanceFault(409, m),
  tooLarge: (m: string) => new GlanceFault(413, m),
  unsupportedMedia: (m: string) => new GlanceFault(415, m),
};

export interface GlanceErrorBody {
  message: string;
  code: string;
  title: string;
}

export function glanceBody(status: number, message: string): GlanceErrorBody {
  const title = STATUS_CODES[status] ?? 'Error';
  return { message, code: `${status} ${title}`, title };
}

/** Any failure of an image request → (status, Glance body). Unknown errors are a 500 without details. */
export function toGlanceError(err: unknown): { status: number; body: GlanceErrorBody } {
  let status = 500;
  let message = 'The server has either erred or is incapable of performing the requested operation.';
  if (err instanceof GlanceFault) ({ status, message } = err);
  else if (err instanceof LayoutError)
    [status, message] = [400, `Image data is not a valid OCI layout: ${err.message}`];
  else if (err instanceof TooLargeError) [status, message] = [413, err.message];
  else if (err instanceof NeutronFault) [status, message] = [err.status, err.message];
  else {
    const e = err as { statusCode?: number; message?: string };
    if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
      [status, message] = [e.statusCode, e.message ?? 'Bad request'];
  }
  return { status, body: glanceBody(status, message) };
}
