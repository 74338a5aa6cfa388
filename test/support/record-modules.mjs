// Preloaded into a sloe process by tests (`node --import`, through NODE_OPTIONS): at exit, writes every module file
// the process loaded, one per line, to the file named by SLOE_TEST_MODULES_FILE. ES modules are seen by a load hook
// (it runs in its own thread and writes as it goes); CommonJS modules, however they were reached, are in the
// require cache at exit.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.SLOE_TEST_MODULES_FILE;
if (file) {
  writeFileSync(file, '');
  register(
    `data:text/javascript,${encodeURIComponent(`
      import { appendFileSync } from 'node:fs';
      let file;
      export function initialize(data) { file = data.file; }
      export async function load(url, context, next) {
        appendFileSync(file, url + '\\n');
        return next(url, context);
      }
    `)}`,
    { data: { file } },
  );
  const cache = createRequire(import.meta.url)('node:module')._cache;
  process.on('exit', () => appendFileSync(file, Object.keys(cache).join('\n') + '\n'));
}
