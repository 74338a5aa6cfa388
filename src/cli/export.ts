import { writeFile } from 'node:fs/promises';
import { exportOpenSlo, prometheusRules } from '../interop/index.js';
import { type Config, UsageError, formatProblem, loadRules } from '../rules/index.js';
import { EXIT, type Io } from './io.js';
import { DEFAULT_PATHS, checkOptions, parse } from './options.js';

export const EXPORT_HELP = `Usage: sloe export prometheus-rules [PATH…] [--out FILE]
       sloe export openslo [PATH…] [--out FILE]

prometheus-rules  recording rules for each SLI and burn-rate window, alerting rules for each threshold, burn-rate
                  tier and no-data condition (labels service, slo, severity, owner, escalation; annotations
                  summary, dashboard, runbook). What the rules cannot express is written as a comment above the
                  SLO's group and on stderr. Check the output with \`promtool check rules\`.
openslo           the SLOs as OpenSLO v1 documents (SLO, SLI, AlertPolicy, AlertCondition,
                  AlertNotificationTarget, DataSource); sloe's own settings travel as sloe.dev/ annotations, so
                  \`sloe import openslo\` gives the same SLOs back.

Options:
  --out FILE   write to FILE instead of stdout

Exit status: 0 written, 1 invalid SLO files, 2 usage error.
`;

const FORMATS = ['prometheus-rules', 'openslo'] as const;

/** `sloe export`: the SLO files in another tool's format. */
export async function exportCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: 'string' } });
  const [format, ...paths] = positionals;
  if (values.help) {
    io.stdout.write(EXPORT_HELP);
    return EXIT.ok;
  }
  if (format === undefined || !(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(
      `export needs a format: ${FORMATS.join(' or ')}${format === undefined ? '' : ` (got ${JSON.stringify(format)})`}`,
    );
  }
  const config = await load(paths.length ? paths : DEFAULT_PATHS, io);
  if (typeof config === 'number') return config;
  let text: string;
  if (format === 'prometheus-rules') {
    const rules = prometheusRules(config);
    text = rules.text;
    for (const [id, notes] of rules.notes) {
      for (const note of notes) io.stderr.write(`sloe export: ${id}: not expressible as rules: ${note}\n`);
    }
  } else {
    text = exportOpenSlo(config);
  }
  if (values.out !== undefined) {
    await writeFile(values.out, text);
    io.stderr.write(`sloe export: ${config.slos.length} SLO(s) written to ${values.out}\n`);
  } else {
    io.stdout.write(text);
  }
  return EXIT.ok;
}

/** Loads the SLO files as written: `${…}` references stay references. */
async function load(paths: readonly string[], io: Io): Promise<Config | number> {
  const { config, problems } = await loadRules(paths, checkOptions(undefined, io.env));
  if (problems.length === 0) return config;
  for (const p of problems) io.stderr.write(formatProblem(p) + '\n');
  io.stderr.write(`sloe: ${problems.length} problem(s) in the SLO files (see sloe validate)\n`);
  return EXIT.problem;
}
