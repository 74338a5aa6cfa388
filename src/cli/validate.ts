import { formatGithubProblem, formatProblem, loadRules } from '../rules/index.js';
import { EXIT, type Io } from './io.js';
import { DEFAULT_PATHS, checkOptions, oneOf, parse } from './options.js';

export const VALIDATE_HELP = `Usage: sloe validate [PATH…] [--format text|json|github]

Parses and checks every *.yaml / *.yml below PATH (default ./slos): schema, references between files,
PromQL syntax, durations, conditions and label cardinality. Prints one line per problem.

Options:
  --format text|json|github          output form (default text; github writes Actions annotations)
  --strict                           warnings (an expired silence, one matching no SLO) fail too
  --high-cardinality-labels a,b      labels that must not be grouped by, besides the built-in list
                                     (also SLOE_HIGH_CARDINALITY_LABELS)

Exit status: 0 valid (warnings are printed but pass), 1 problems found (or warnings with --strict),
2 usage error.
`;

/** `sloe validate`: checks the SLO files and reports every problem with its position. */
export async function validateCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    format: { type: 'string' },
    'high-cardinality-labels': { type: 'string' },
    strict: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(VALIDATE_HELP);
    return EXIT.ok;
  }
  const format = oneOf('format', values.format, ['text', 'json', 'github'] as const, 'text');
  const paths = positionals.length ? positionals : DEFAULT_PATHS;
  const result = await loadRules(paths, checkOptions(values['high-cardinality-labels'], io.env));
  const { problems, config, files, warnings } = result;
  const valid = problems.length === 0 && (!values.strict || warnings.length === 0);
  if (format === 'json') {
    io.stdout.write(
      JSON.stringify({ valid, files: files.length, slos: config.slos.length, problems, warnings }, null, 2) + '\n',
    );
  } else {
    for (const p of problems) io.stdout.write((format === 'github' ? formatGithubProblem(p) : formatProblem(p)) + '\n');
    for (const w of warnings) {
      io.stdout.write((format === 'github' ? formatGithubProblem(w, 'warning') : formatProblem({ ...w, message: `warning: ${w.message}` })) + '\n');
    }
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    io.stderr.write(
      problems.length === 0
        ? `sloe: ${plural(config.slos.length, 'SLO')} in ${plural(files.length, 'file')}: valid${warnings.length ? ` with ${plural(warnings.length, 'warning')}${values.strict ? ' (--strict: failing)' : ''}` : ''}\n`
        : `sloe: ${plural(problems.length, 'problem')} in ${plural(new Set(problems.map((p) => p.file)).size, 'file')}\n`,
    );
  }
  return valid ? EXIT.ok : EXIT.problem;
}
