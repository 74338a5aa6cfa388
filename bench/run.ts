/** `npm run bench`: runs every benchmark, prints a table of figures and writes bench/results.json. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { benchBacktest } from './backtest.js';
import { benchValidate } from './validate.js';

type Figures = Record<string, number | string>;

const SECTIONS: Record<string, () => Promise<Figures>> = {
  validate: () => benchValidate(),
  backtest: () => benchBacktest(),
};

const only = process.argv.slice(2);
const results: Record<string, Figures> = {};
for (const [name, run] of Object.entries(SECTIONS)) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  results[name] = await run();
}

for (const [name, figures] of Object.entries(results)) {
  console.log(`\n${name}`);
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(width)}  ${v}`);
}
const file = join(import.meta.dirname, 'results.json');
await writeFile(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2) + '\n');
console.log(`\nwritten to ${file}`);
