import { LINT_RULES, formatGithubProblem, formatProblem, formatWarning, lint, loadRules } from '../rules/index.js';
import { EXIT, type Io } from './io.js';
import { DEFAULT_PATHS, checkOptions, oneOf, parse } from './options.js';

export const VALIDATE_HELP = `Usage: sloe validate [PATH…] [--format text|json|github] [--strict]

Parses and checks every *.yaml / *.yml below PATH (default ./slos): schema, references between files,
PromQL syntax, durations, conditions and label cardinality. Prints one line per problem. Valid files are
then linted against the golden-signal guide: each warning names its rule; a comment in a file turns a rule off
there (# sloe-lint-disable rule-name).

Options:
  --format text|json|github          output form (default text; github writes Actions annotations)
  --strict                           lint warnings are errors (exit 1)
  --explain                          print the PromQL each SLO runs, exactly as the engine runs it (queries
                                     of SLOs declared by signal are derived from the service's metrics:)
  --high-cardinality-labels a,b      labels that must not be grouped by, besides the built-in list
                                     (also SLOE_HIGH_CARDINALITY_LABELS)

Lint rules:
${Object.entries(LINT_RULES)
  .map(([name, why]) => `  ${name.padEnd(34)} ${why}`)
  .join('\n')}

Exit status: 0 valid, 1 problems found (or warnings with --strict), 2 usage error.
`;

/** `sloe validate`: checks the SLO files and reports every problem with its position, then the lint warnings. */
export async function validateCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    format: { type: 'string' },
    strict: { type: 'boolean' },
    explain: { type: 'boolean' },
    'high-cardinality-labels': { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(VALIDATE_HELP);
    return EXIT.ok;
  }
  const format = oneOf('format', values.format, ['text', 'json', 'github'] as const, 'text');
  const paths = positionals.length ? positionals : DEFAULT_PATHS;
  const options = checkOptions(values['high-cardinality-labels'], io.env);
  const result = await loadRules(paths, options);
  const { problems, config, files } = result;
  // The guide is checked on files that are valid: with problems, the configuration is partial, and those come first.
  const warnings = [
    ...result.warnings,
    ...(problems.length === 0
      ? lint(result.docs, config, { highCardinalityLabels: options.highCardinalityLabels })
      : []),
  ];
  const strict = values.strict === true;
  // --explain needs the evaluator's window plan, and with it the Prometheus client: loaded only when asked for.
  const explained = values.explain ? await import('./explain.js') : undefined;
  const valid = problems.length === 0 && (!strict || warnings.length === 0);
  if (format === 'json') {
    io.stdout.write(
      JSON.stringify(
        {
          valid,
          files: files.length,
          slos: config.slos.length,
          problems,
          warnings,
          ...(explained ? { explain: config.slos.map(explained.explain) } : {}),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    // One write for all the lines: a thousand writes to a pipe cost more than the text they carry.
    const lines: string[] = [];
    if (explained) for (const slo of config.slos) lines.push(explained.explainText(explained.explain(slo)));
    for (const p of problems) lines.push(format === 'github' ? formatGithubProblem(p) : formatProblem(p));
    for (const w of warnings) {
      lines.push(
        format === 'github'
          ? formatGithubProblem({ ...w, message: `${w.message} [${w.rule}]` }, strict ? 'error' : 'warning')
          : strict
            ? formatProblem({ ...w, message: `${w.message} [${w.rule}]` })
            : formatWarning(w),
      );
    }
    if (lines.length > 0) io.stdout.write(lines.join('\n') + '\n');
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    const warned = warnings.length ? `, ${plural(warnings.length, 'lint warning')}` : '';
    io.stderr.write(
      problems.length === 0
        ? `sloe: ${plural(config.slos.length, 'SLO')} in ${plural(files.length, 'file')}: valid${warned}${!valid ? ' (--strict: warnings are errors)' : ''}\n`
        : `sloe: ${plural(problems.length, 'problem')} in ${plural(new Set(problems.map((p) => p.file)).size, 'file')}${warned}\n`,
    );
  }
  return valid ? EXIT.ok : EXIT.problem;
}
