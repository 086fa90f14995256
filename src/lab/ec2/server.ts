/**
 * The lab's EC2-compatible endpoint: EC2's Query protocol over HTTP (form-encoded `Action`/`Version`
 * by POST, or a query string by GET), SigV4 checked against the configured access keys, an IAM-like
 * allow-list per key (UnauthorizedOperation), throttling (RequestLimitExceeded), DryRun, and the XML
 * answers and errors of AWS's EC2 API reference. The AWS SDK talks to it through its `endpoint` setting.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { Mutex } from '../../common/mutex.js';
import type { Action } from './actions/action.js';
import { INSTANCE_ACTIONS } from './actions/instances.js';
import { INTERFACE_ACTIONS } from './actions/interfaces.js';
import { ROUTE_ACTIONS } from './actions/routes.js';
import { SECURITY_GROUP_ACTIONS } from './actions/security-groups.js';
import { TAG_ACTIONS } from './actions/tags.js';
import { VPC_ACTIONS } from './actions/vpcs.js';
import { Ec2Fault, faults } from './errors.js';
import { bool, parseForm } from './query.js';
import { verifySigV4 } from './sigv4.js';
import type { Ec2State } from './state.js';
import { FaultQueue, TokenBuckets, type InjectedFault, type RateLimit } from './throttle.js';
import { errorXml, responseXml } from './xml.js';

export const EC2_ACTIONS: Readonly<Record<string, Action>> = {
  ...ROUTE_ACTIONS,
  ...INTERFACE_ACTIONS,
  ...SECURITY_GROUP_ACTIONS,
  ...INSTANCE_ACTIONS,
  ...TAG_ACTIONS,
  ...VPC_ACTIONS,
};

/** An access key: its secret and the EC2 actions its policy allows (`ec2:RunInstances`…; absent: all). */
export interface Ec2Credential {
  secretAccessKey: string;
  allow?: readonly string[];
}

export interface Ec2EndpointOptions {
  state: Ec2State;
  credentials: Readonly<Record<string, Ec2Credential>>;
  region: string;
  clock: Clock;
  log: Logger;
  /** Per access key; absent: no throttling. */
  rateLimit?: RateLimit;
  /** How far a signature's date may be from now (SigV4's 5 minutes by default). */
  maxSkewMs?: number;
}

/** The faults a test can inject, with EC2's status for each. */
const INJECTABLE: Record<string, () => Ec2Fault> = {
  RequestLimitExceeded: faults.throttled,
  InternalError: () => new Ec2Fault('InternalError', 'An internal error has occurred', 500),
  Unavailable: () => new Ec2Fault('Unavailable', 'The server is overloaded and cannot handle the request', 503),
};

export class Ec2Endpoint {
  private server?: Server;
  private readonly mutex = new Mutex();
  private readonly injected = new FaultQueue();
  private readonly buckets?: TokenBuckets;
  /** Calls received per action (also those refused): what a test reads to see retries. */
  readonly calls = new Map<string, number>();

  constructor(private readonly o: Ec2EndpointOptions) {
    if (o.rateLimit) this.buckets = new TokenBuckets(o.rateLimit, o.clock);
  }

  get state(): Ec2State {
    return this.o.state;
  }

  /** The next `times` calls of `action` fail with `code` (RequestLimitExceeded, InternalError, Unavailable). */
  inject(f: InjectedFault): void {
    if (!INJECTABLE[f.code]) throw new Error(`cannot inject ${f.code}`);
    this.injected.add(f);
  }

  async listen(host = '127.0.0.1', port = 0): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    const a = server.address() as AddressInfo;
    return `http://${host}:${a.port}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    let action = '';
    try {
      const params = req.method === 'GET' ? new Map(url.searchParams) : parseForm(body);
      action = params.get('Action') ?? '';
      this.calls.set(action, (this.calls.get(action) ?? 0) + 1);
      const keyId = await verifySigV4(
        {
          method: req.method ?? 'POST',
          host: req.headers.host ?? '',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers,
          body,
        },
        {
          region: this.o.region,
          service: 'ec2',
          now: this.o.clock.now(),
          maxSkewMs: this.o.maxSkewMs ?? 5 * 60_000,
          secretOf: (id) => this.o.credentials[id]?.secretAccessKey,
        },
      );
      if (!action) throw faults.missing('Action');
      if (!params.get('Version')) throw faults.missing('Version');
      const injected = this.injected.next(action);
      if (injected) throw INJECTABLE[injected]!();
      if (this.buckets && !this.buckets.take(keyId)) throw faults.throttled();
      const allow = this.o.credentials[keyId]?.allow;
      if (allow && !allow.includes(`ec2:${action}`) && !allow.includes('ec2:*')) throw faults.unauthorized();
      const run = EC2_ACTIONS[action];
      if (!run) throw faults.invalidAction(action);
      if (bool(params, 'DryRun')) throw faults.dryRun();
      const out = await this.mutex.run(() => run({ state: this.o.state, clock: this.o.clock }, params));
      this.send(res, 200, responseXml(action, requestId, out));
    } catch (e) {
      const f = e instanceof Ec2Fault ? e : new Ec2Fault('InternalError', 'An internal error has occurred', 500);
      if (!(e instanceof Ec2Fault)) this.o.log.error({ err: e, action }, 'ec2 endpoint: action failed');
      else this.o.log.debug({ action, code: f.code }, 'ec2 endpoint: refused');
      this.send(res, f.status, errorXml(f.code, f.message, requestId));
    }
  }

  private send(res: ServerResponse, status: number, xml: string): void {
    res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(xml) });
    res.end(xml);
  }
}
