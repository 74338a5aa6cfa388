import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ImportResult, importOpenSlo, importSloth, renderDocs } from '../interop/index.js';
import { UsageError, formatProblem, sortProblems } from '../rules/index.js';
import { EXIT, type Io } from './io.js';
import { parse } from './options.js';

export const IMPORT_HELP = `Usage: sloe import openslo FILE… [--out DIR]
       sloe import sloth FILE… [--out DIR]

Writes sloe SLO files from other tools' specs: one file per service (its ServiceLevels and a generated
EscalationPolicy), to stdout or as DIR/<service>.yaml.

openslo   OpenSLO v1: SLO, SLI, AlertPolicy, AlertCondition, AlertNotificationTarget, DataSource (Prometheus) and
          Service documents, across all FILEs; ratio and threshold metrics; Occurrences and Timeslices budgeting;
          rolling windows.
sloth     Sloth's prometheus/v1 spec and its Kubernetes PrometheusServiceLevel (sloth.slok.dev/v1).

What cannot be mapped (a non-Prometheus data source, a calendar window, a raw ratio, …) is an error at its
path:line:col and nothing is written. What sloe takes differently is said on stderr and as a comment in the output.
Where the input names no owner, the output says owner: TODO-owner, which sloe validate rejects until it is
filled in.

Options:
  --out DIR   write DIR/<service>.yaml instead of printing

Exit status: 0 written, 1 input that cannot be mapped, 2 usage error.
`;

const FORMATS = { openslo: importOpenSlo, sloth: importSloth } as const;

/** `sloe import`: OpenSLO or Sloth specs as sloe SLO files. */
export async function importCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: 'string' } });
  if (values.help) {
    io.stdout.write(IMPORT_HELP);
    return EXIT.ok;
  }
  const [format, ...files] = positionals;
  if (format !== 'openslo' && format !== 'sloth') {
    throw new UsageError(
      `import needs a format: openslo or sloth${format === undefined ? '' : ` (got ${JSON.stringify(format)})`}`,
    );
  }
  if (files.length === 0) throw new UsageError(`import ${format} needs at least one FILE`);
  const result: ImportResult = await FORMATS[format](files);
  for (const n of sortProblems(result.notes)) io.stderr.write(`${formatProblem(n)} (note)\n`);
  if (result.problems.length > 0) {
    for (const p of sortProblems(result.problems)) io.stderr.write(formatProblem(p) + '\n');
    io.stderr.write(`sloe import: ${result.problems.length} problem(s): nothing written\n`);
    return EXIT.problem;
  }
  if (result.files.length === 0) {
    io.stderr.write('sloe import: the files hold no SLOs\n');
    return EXIT.problem;
  }
  if (values.out === undefined) {
    io.stdout.write(result.files.map((f) => renderDocs(f.docs)).join('---\n'));
    return EXIT.ok;
  }
  await mkdir(values.out, { recursive: true });
  for (const f of result.files) {
    const path = join(values.out, `${f.name}.yaml`);
    await writeFile(path, renderDocs(f.docs));
    io.stderr.write(`sloe import: wrote ${path}\n`);
  }
  return EXIT.ok;
}
