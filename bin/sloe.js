#!/usr/bin/env node
// Entry point of the `sloe` command; the compiled CLI lives in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// A closed pipe (`sloe validate | head`) ends the output, not the process with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

// `sloe run` reloads its files on SIGHUP. Without a listener a SIGHUP ends the process (Node's default), so one is
// here from the start: before `sloe run` has read its files there is nothing to reload, and once it reads them it
// keeps count itself (src/cli/run.ts).
if (process.argv[2] === 'run') process.on('SIGHUP', () => undefined);

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('sloe: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
