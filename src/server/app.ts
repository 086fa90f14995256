/**
 * The fastify application, built from injected parts (store, clock, logger, config, auth) so tests
 * and the `hypernet server` command assemble it the same way. All errors, including fastify's own
 * (malformed JSON, unknown route), leave as a NeutronError body through `toNeutronError`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Store } from './store/store.js';
import { challengeOf, prevalidate, type AuthConfig } from './auth.js';
import type { ServerConfig } from './config.js';
import { faults, toNeutronError } from './errors.js';
import { registerMeta } from './meta.js';
import { registerMetadata } from './metadata/routes.js';
import { registerPortBindings } from './port-bindings.js';
import { registerRouterActions } from './l3/router-actions.js';
import { registerSubnetpoolPrefixOps } from './subnetpool-prefix-ops.js';
import { RESOURCES } from './resources/index.js';
import { registerResource, tokenOf, type RouteDeps } from './routes.js';
import { registerWatch } from './watch.js';
import { registerHealth } from './health.js';
import { createServerMetrics, instrumentStore, type ServerMetrics } from './metrics.js';
import { registerQuotas } from './quota-routes.js';
import { registerCliCompat } from './cli-compat.js';
import { registerUi } from './ui-static.js';
import { AGENTLESS_EXTENSIONS, AGENTLESS_RESOURCES, registerAgentless } from './agentless/routes.js';
import type { AgentlessService } from './agentless/service.js';
import { IMAGE_PREFIX, glancePlugin } from './images/glance-routes.js';
import { registerRepository } from './images/repository-routes.js';
import type { ImageService } from './images/service.js';
import { hyperVmImagesOf } from './images/hypervm-images.js';
import { registerHyperVmActions } from './hypervm-actions.js';
import { registerHyperVmTasks } from './hypervm-tasks.js';
import { consoleRelay } from './hypervm-console.js';

export interface AppOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  config: ServerConfig;
  auth: AuthConfig;
  /** The agentless plugin, when the config has an `agentless:` section. */
  agentless?: AgentlessService;
  /** The image catalog (Glance v2 under /image) and, without its own listener, the repository. */
  images?: ImageService;
  /** The metrics to serve (default: new ones); the server's controllers count into the same. */
  metrics?: ServerMetrics;
}

/**
 * Bodies are read as Neutron reads them: a POST or PUT body is JSON whatever its Content-Type says
 * (tempest's update calls send none at all), an empty body is no body, and the body of any other
 * method (a DELETE with `Content-Type: application/json`, as Neutron's clients send) is ignored.
 * fastify's own JSON parser still does the parsing, so prototype-poisoning keys stay refused.
 */
function acceptBodiesAsNeutron(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if ((req.method !== 'POST' && req.method !== 'PUT') || body === '') {
      done(null, undefined);
      return;
    }
    json(req, body as string, (err, value) => {
      if (err) done(faults.badRequest('Body contains invalid data'), undefined);
      else done(null, value);
    });
  });
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.config.maxRequestBodySize,
    // IDs up to 1 KiB reach the routes (and get Neutron's NotFound); longer ones and bad URL escapes
    // are refused by the router, through frameworkErrors, still as a NeutronError.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const { status, body } = toNeutronError(err);
      reply.code(status).type('application/json').send(body);
    },
  });
  const metrics = opts.metrics ?? createServerMetrics();
  const timed = instrumentStore(opts.store, metrics);
  app.addHook('onClose', async () => timed.stop());
  metrics.revision.set(await opts.store.read((tx) => tx.revision()));
  const deps: RouteDeps = {
    store: timed.store,
    clock: opts.clock,
    config: opts.config,
    auth: opts.auth,
    images: opts.images ? hyperVmImagesOf(opts.images) : undefined,
  };

  acceptBodiesAsNeutron(app);
  const challenge = challengeOf(opts.auth);
  if (opts.auth.mode === 'keystone') {
    const auth = opts.auth;
    app.addHook('onRequest', async (req) => prevalidate(auth, req.raw, tokenOf(req)));
  }
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toNeutronError(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    if (status === 401 && challenge) reply.header('www-authenticate', challenge);
    return reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = toNeutronError(faults.resourceNotFound(req.url));
    return reply.code(status).send(body);
  });

  // First: its hook counts every route's requests.
  registerHealth(app, timed.store, metrics);
  registerMeta(
    app,
    deps,
    RESOURCES,
    opts.agentless ? { extensions: AGENTLESS_EXTENSIONS, resources: AGENTLESS_RESOURCES } : undefined,
  );
  if (opts.agentless) registerAgentless(app, deps, opts.agentless);
  for (const def of RESOURCES) registerResource(app, deps, def);
  registerPortBindings(app, deps);
  registerRouterActions(app, deps);
  registerSubnetpoolPrefixOps(app, deps);
  registerHyperVmActions(app, deps);
  registerHyperVmTasks(app, deps);
  app.server.on('upgrade', consoleRelay(deps));
  registerQuotas(app, deps);
  registerCliCompat(app, deps);
  registerWatch(app, deps, RESOURCES, opts.logger, metrics.watchClients);
  registerMetadata(app, deps);
  if (opts.images) {
    await app.register(glancePlugin, { prefix: IMAGE_PREFIX, deps, images: opts.images });
    if (!opts.config.images.repositoryListen) registerRepository(app, opts.images, '/repository');
  }
  await registerUi(app);
  await app.ready();
  return app;
}
