/**
 * Starts a server: its store (SQLite under the data dir, or PostgreSQL), the fastify app on TCP and,
 * when asked, the same routing on a Unix socket (agents in other network namespaces use it). Used by
 * `hypernet server` and by the tests, so both run exactly the same assembly.
 */
import http from 'node:http';
import { chmodSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { realClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';
import { buildApp } from './app.js';
import type { AuthConfig } from './auth.js';
import type { ServerConfig } from './config.js';
import { realExec } from '../common/exec.js';
import { CertificateAuthority } from './agentless/pki/ca.js';
import { dirStorage } from './agentless/pki/storage.js';
import { createProvider } from './agentless/providers/index.js';
import { AgentlessService } from './agentless/service.js';
import { cloudConfigs, type MultiCloudProvider } from './agentless/providers/clouds.js';
import { createServerMetrics } from './metrics.js';
import type { CustomRouteController } from './custom-route/reconciler.js';
import { startCustomRouteControllers } from './custom-route/start.js';
import { HyperVmLauncher } from './hypervm-launcher.js';
import { hyperVmImagesOf } from './images/hypervm-images.js';
import type { ProviderFactories } from '../model/provider.js';
import { ImageService } from './images/service.js';
import { buildRepositoryApp } from './images/repository-routes.js';

export interface ServeOptions {
  host: string;
  port: number;
  unixSocket?: string;
  /** Directory of the SQLite database and of the agentless plugin's CA; unused with `database`. */
  dataDir?: string;
  /** `postgresql://…`: the store is PostgreSQL instead of SQLite under `dataDir`. */
  database?: string;
  config: ServerConfig;
  auth: AuthConfig;
  logger: Logger;
  clock?: Clock;
  /** Provider drivers by kind, for the `agentless:` section (src/providers.ts). */
  providers?: ProviderFactories;
}

export interface RunningServer {
  url: string;
  /** Base URL of the image repository's read endpoint (its own listener, or `/repository` on the API port). */
  repositoryUrl?: string;
  app: FastifyInstance;
  /** The image catalog and repository; absent with `database` (their files live under the data dir). */
  images?: ImageService;
  store: Store;
  /** The custom-route controllers, one per `provider: aws` cloud of the `agentless:` section. */
  customRoutes: CustomRouteController[];
  close(): Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  if (opts.database && opts.config.agentless)
    throw new Error('the agentless plugin keeps its CA under --data-dir: it is not available with --database yet');
  if (!opts.database && !opts.dataDir) throw new Error('a data directory or a database URL is needed');
  const store = await openStore(
    opts.database ? { kind: 'postgres', url: opts.database } : { kind: 'sqlite', dataDir: opts.dataDir! },
    { retention: opts.config.changeRetention, log: opts.logger.child({ part: 'store' }) },
  );
  const clock = opts.clock ?? realClock;
  let app: FastifyInstance;
  let agentless: AgentlessService | undefined;
  let images: ImageService | undefined;
  let launcher: HyperVmLauncher | undefined;
  let customRoutes: CustomRouteController[] = [];
  const metrics = createServerMetrics();
  try {
    const provider = agentlessProvider(opts, clock);
    agentless = provider && (await agentlessService(opts, store, clock, provider));
    if (opts.dataDir && !opts.database)
      images = new ImageService(opts.dataDir, opts.config.images, clock, opts.logger.child({ part: 'images' }));
    app = await buildApp({
      store,
      clock,
      logger: opts.logger,
      config: opts.config,
      auth: opts.auth,
      agentless,
      images,
      metrics,
    });
    await app.listen({ host: opts.host, port: opts.port });
    launcher = hyperVmLauncher(opts, store, clock, agentless, images);
    if (provider)
      customRoutes = startCustomRouteControllers({
        config: opts.config,
        driverOf: (c) => provider.driverOf(c),
        store,
        clock,
        log: opts.logger,
        metrics: {
          failover: (cloud, seconds) => {
            metrics.customRouteFailovers.inc({ cloud });
            metrics.customRouteFailoverSeconds.observe({ cloud }, seconds);
          },
        },
      });
  } catch (e) {
    images?.close();
    await store.close();
    throw e;
  }
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  const listen = opts.config.images.repositoryListen;
  const repo =
    images && listen ? await buildRepositoryApp(images, opts.logger.child({ part: 'repository' })) : undefined;
  let repositoryUrl = images ? `${url}/repository` : undefined;
  if (repo && listen) {
    await repo.listen({ host: listen.host, port: listen.port });
    const r = repo.server.address() as AddressInfo;
    repositoryUrl = `http://${r.family === 'IPv6' ? `[${r.address}]` : r.address}:${r.port}`;
  }
  let unix: http.Server | undefined;
  if (opts.unixSocket) {
    rmSync(opts.unixSocket, { force: true });
    unix = http.createServer(app.routing);
    // Upgrades (the HyperVM console relay) are answered the same on both listeners.
    for (const l of app.server.listeners('upgrade')) unix.on('upgrade', l as (...a: unknown[]) => void);
    await new Promise<void>((resolve, reject) => unix!.once('error', reject).listen(opts.unixSocket, resolve));
    // Only the owner may connect: the socket is trusted (e.g. a relayed repository peer address).
    chmodSync(opts.unixSocket, 0o600);
  }
  return {
    url,
    repositoryUrl,
    app,
    images,
    store,
    customRoutes,
    async close() {
      if (repo) {
        repo.server.closeAllConnections();
        await repo.close();
      }
      if (unix) {
        unix.closeAllConnections();
        await new Promise<void>((r) => unix!.close(() => r()));
        rmSync(opts.unixSocket!, { force: true });
      }
      app.server.closeAllConnections();
      await app.close();
      await launcher?.stop();
      for (const c of customRoutes) await c.stop();
      // Work an answer left behind (an unused hyperswitch's teardown after a move) finishes first.
      await agentless?.idle();
      await store.close();
      images?.close();
    },
  };
}

/** The launcher of provider-launched HyperVMs, when a cloud of the `agentless:` section has `hypervm_provider`. */
function hyperVmLauncher(
  opts: ServeOptions,
  store: Store,
  clock: Clock,
  agentless: AgentlessService | undefined,
  images: ImageService | undefined,
): HyperVmLauncher | undefined {
  const section = opts.config.agentless;
  if (!agentless || !images || !section || !cloudConfigs(section).some((c) => c.hypervm_provider)) return undefined;
  const launcher = new HyperVmLauncher({
    store,
    config: opts.config,
    provider: agentless.provider,
    images: hyperVmImagesOf(images),
    clock,
    log: opts.logger.child({ part: 'hypervm-launcher' }),
  });
  launcher.start();
  return launcher;
}

/** The drivers of the `agentless:` section's clouds, when configured (state under the data dir). */
function agentlessProvider(opts: ServeOptions, clock: Clock): MultiCloudProvider | undefined {
  const config = opts.config.agentless;
  if (!config || !opts.dataDir) return undefined;
  const log = opts.logger.child({ part: 'agentless' });
  const stateDir = resolve(config.lab_state_dir || join(opts.dataDir, 'lab-provider'));
  return createProvider(config, { stateDir, exec: realExec, clock, log }, opts.providers ?? {});
}

/** The agentless plugin: the CA under `<data dir>/pki`. */
async function agentlessService(
  opts: ServeOptions,
  store: Store,
  clock: Clock,
  provider: MultiCloudProvider,
): Promise<AgentlessService | undefined> {
  const config = opts.config.agentless;
  if (!config || !opts.dataDir) return undefined;
  const log = opts.logger.child({ part: 'agentless' });
  const ca = await CertificateAuthority.open(dirStorage(join(opts.dataDir, 'pki')), { clock });
  return new AgentlessService({ config, provider, ca, store, log });
}
