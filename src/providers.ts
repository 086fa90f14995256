/**
 * The provider drivers this executable offers the server's agentless plugin, by kind. Each driver
 * lives with its deployable (the lab's namespaces under src/lab/); the server sees only factories.
 */
import type { ProviderFactories } from './model/provider.js';
import { LabProvider } from './lab/provider/lab-provider.js';

export const PROVIDERS: ProviderFactories = {
  lab: (o) => new LabProvider(o),
};
