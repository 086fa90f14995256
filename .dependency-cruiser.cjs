/**
 * The layering of hypernet's folders (docs/CONVENTIONS.md, "Folders"), checked by `npm run lint:deps`
 * and by `npm test`. Deployables (server, agent, lab, ctl/ui) import only src/model, src/common,
 * src/client and themselves; the executables at src/ (cli.ts, server-main.ts, providers.ts) are the
 * only place that puts deployables together.
 */
module.exports = {
  forbidden: [
    {
      name: 'deployable-boundary',
      comment:
        'A deployable (server, agent, lab, ctl, the aws driver) imports only src/model, src/common, src/client ' +
        'and itself; ' +
        'put what two deployables share in src/model (types) or src/common (helpers).',
      severity: 'error',
      from: { path: '^src/(server|agent|lab|ctl|aws)/' },
      to: { path: '^src/', pathNot: ['^src/(model|common|client)/', '^src/$1/'] },
    },
    {
      name: 'ui-boundary',
      comment: 'The dashboard is the CLI\'s graphical twin: it may use src/ctl, and otherwise only what the CLI may.',
      severity: 'error',
      from: { path: '^src/ui/' },
      to: { path: '^src/', pathNot: ['^src/(model|common|client|ctl|ui)/'] },
    },
    {
      name: 'server-only-from-entry-points',
      comment: 'Nothing in src/ but the executables (src/cli.ts, src/server-main.ts) imports the server.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/server/', '^src/(cli|server-main)\\.ts$'] },
      to: { path: '^src/server/' },
    },
    {
      name: 'agent-independent',
      comment: 'The agent runs on hyperswitches and hosts: it never imports the lab or the server.',
      severity: 'error',
      from: { path: '^src/agent/' },
      to: { path: '^src/(lab|server)/' },
    },
    {
      name: 'common-is-the-bottom',
      comment: 'src/common holds helpers with no knowledge of the model or any deployable.',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: '^src/', pathNot: '^src/common/' },
    },
    {
      name: 'model-is-shared',
      comment: 'src/model holds shared types and grammar: it imports only src/common.',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/(model|common)/' },
    },
    {
      name: 'client-is-shared',
      comment: 'The API client is used by the agent, the lab and the CLI: it imports only model and common.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(model|common|client)/' },
    },
    {
      name: 'src-not-from-tests',
      comment: 'Shipped code never imports tests, benchmarks or their fixtures.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|testkit)/' },
    },
    {
      name: 'bench-not-from-tests',
      comment: 'Benchmarks share fixtures with tests through testkit/, never through test/.',
      severity: 'error',
      from: { path: '^(bench|testkit)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      comment: 'Import cycles make load order matter and hide layering mistakes.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
