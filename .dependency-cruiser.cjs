/**
 * The layering of src/, checked by `npm run lint` (depcruise src). Each folder may import the folders below it
 * and none above; no cycles; the local test stack and the demo are never imported by the product.
 *
 *   cli            commands
 *   engine         `sloe run`: wiring, Redis store, evaluation loop, HTTP API
 *   escalation     channels (Slack, PagerDuty, on-call) and the escalator; sees the engine through src/incident ports
 *   server         the HTTP server and router (no engine code)
 *   scheduler      BullMQ queues and job schedulers
 *   evaluator      Prometheus, frames, the alert state machine, the transition function, backtest
 *   gate           rollout gates: a variant of a label against its baseline over a window (`sloe gate`)
 *   incident       the incident model, its events and job types, and the ports (store, actions, clock, logger)
 *   rules          the SLO files: loading, checking, the model, the step planner (policy is spec)
 *   observability  logging and metrics, importable from everywhere
 *   util           small helpers
 *
 * src/local (Prometheus, Redis, Sentinel for tests and the demo) and src/demo stand beside the product.
 */
const LAYERS = [
  'util', 'observability', 'rules', 'interop', 'dashboards', 'incident', 'evaluator', 'gate', 'budget', 'report',
  'scheduler', 'server', 'status', 'escalation', 'engine', 'cli',
];

const upward = LAYERS.map((layer, i) => ({
  name: `no-upward-from-${layer}`,
  comment: `src/${layer} may import only the layers below it (${LAYERS.slice(0, i).join(', ') || 'none'}).`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|') || '$^'})/` },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-cycles',
      comment: 'Modules depend on each other one way only.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-local-or-demo-in-product',
      comment: 'src/local and src/demo run the test stack and the demo; the product never imports them.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(local|demo)/' },
      to: { path: '^src/(local|demo)/' },
    },
    {
      name: 'local-imports-only-util',
      comment: 'src/local starts binaries; it needs nothing of the product but small helpers.',
      severity: 'error',
      from: { path: '^src/local/' },
      to: { path: '^src/', pathNot: '^src/(local|util)/' },
    },
    {
      name: 'no-unknown-folder',
      comment: 'A new folder under src/ gets its place in LAYERS first.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/[^/]+/', pathNot: `^src/(${[...LAYERS, 'local', 'demo'].join('|')})/` },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves to a file or a package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.json'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
