/** The `sloe` command line: dispatches to one command and maps failures to exit codes. */
import { UsageError } from '../rules/usage-error.js';
import { describeError } from '../util/errors.js';
import { EXIT, type Io, processIo } from './io.js';

export const HELP = `sloe — SLO alerting and escalation engine

Usage: sloe <command> [options]

Commands:
  validate [PATH…] [--format text|json|github]   check SLO files (default path ./slos)
  owners   [PATH…] [--json]                      dashboards, their one owner, and their SLOs
  eval     [PATH…] [--at TIME] [--json]          evaluate every SLO once against Prometheus
  backtest [PATH…] --from T --to T [--step D]    replay alerts and escalations over history
           [--base REF|DIR]                      … and compare with the specs at a git revision or directory
  report   [PATH…] [--at T] [--format F]         error budgets, burn rates and incidents per SLO
  dashboards [PATH…] --out DIR                   one Grafana dashboard JSON per declared dashboard
  run      [PATH…]                               the engine: evaluate, escalate, serve HTTP, status page
  export   prometheus-rules|openslo [PATH…]      the SLOs as Prometheus rules or OpenSLO v1
  import   openslo|sloth FILE… [--out DIR]       OpenSLO v1 or Sloth specs as sloe YAML
  init     --prometheus URL --service NAME       write slos/NAME.yaml from the metrics a service exports
  gate     [PATH…] --variant V [--for 30m]       a canary against its baseline: promote (0), roll back (1), wait (3)
  schema                                         print the JSON Schema of SLO files

Run \`sloe <command> --help\` for a command's options.
Exit status: 0 success, 1 the work found a problem, 2 usage or environment error.
`;

type Command = (args: string[], io: Io) => Promise<number>;

/**
 * Each command is loaded when it runs: `validate` in CI need not load the engine, Slack and PagerDuty clients. A
 * command is one line here; test/cli/startup.test.ts checks that no command but `run` loads the engine's packages.
 */
export const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./validate.js')).validateCommand,
  owners: async () => (await import('./owners.js')).ownersCommand,
  eval: async () => (await import('./eval.js')).evalCommand,
  backtest: async () => (await import('./backtest.js')).backtestCommand,
  report: async () => (await import('./report.js')).reportCommand,
  dashboards: async () => (await import('./dashboards.js')).dashboardsCommand,
  run: async () => (await import('./run.js')).runCommand,
  export: async () => (await import('./export.js')).exportCommand,
  import: async () => (await import('./import.js')).importCommand,
  init: async () => (await import('./init.js')).initCommand,
  gate: async () => (await import('./gate.js')).gateCommand,
  schema: async () => {
    const { jsonSchema } = await import('../rules/schema.js');
    return async (_args, io) => {
      io.stdout.write(JSON.stringify(jsonSchema(), null, 2) + '\n');
      return EXIT.ok;
    };
  },
};

/** Runs one sloe command and returns its exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') {
    io.stdout.write('sloe 0.1.0\n');
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`sloe: unknown command ${JSON.stringify(name)}\n\n${HELP}`);
    return EXIT.usage;
  }
  try {
    return await (await load())(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`sloe ${name}: ${e.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`sloe ${name}: ${describeError(e)}\n`);
    return EXIT.usage;
  }
}
