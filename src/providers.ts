/**
 * The provider drivers this executable offers the server's agentless plugin, by kind. Each driver
 * lives with its deployable (the lab's namespaces under src/lab/, EC2 under src/aws/); the server sees
 * only factories.
 */
import type { ProviderFactories } from './model/provider.js';
import { lazyAwsProvider } from './aws/lazy.js';
import { LabProvider } from './lab/provider/lab-provider.js';

export const PROVIDERS: ProviderFactories = {
  lab: (o) => new LabProvider(o),
  aws: lazyAwsProvider,
};
