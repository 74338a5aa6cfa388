import type { KnipConfig } from 'knip';

/** Unused files, exports and dependencies, checked by `npm run lint` at zero findings. */
const config: KnipConfig = {
  // The CLI is reached through bin/sloe.js → dist/cli/main.js, which knip cannot follow into the compiled tree; the
  // demo runs from `npm run demo`; every bench file is run by tsx on its own (bench/escalation.ts spawns
  // click-burst.ts); the tests spawn report-cpu.mjs and record-modules.mjs as Node preloads.
  entry: [
    'src/cli/main.ts',
    'src/demo/main.ts',
    'bench/*.ts',
    'test/support/report-cpu.mjs',
    'test/support/record-modules.mjs',
  ],
  project: ['src/**/*.ts', 'bench/**/*.ts', 'test/**/*.{ts,mjs}'],
  // Limits and defaults are exported beside the code that uses them (MAX_BODY_BYTES, SHARD_SIZE…) so the docs and a
  // reader find them; an export used in its own file is not dead.
  ignoreExportsUsedInFile: true,
  // System tools the test stack and src/local call through child_process, not npm packages.
  ignoreBinaries: ['apt-get', 'mkfifo', 'openssl'],
  // axe-core is injected into the page as a script file (its path read from node_modules), never imported.
  ignoreDependencies: ['axe-core'],
};

export default config;
