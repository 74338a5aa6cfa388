import { formatProblem, loadRules } from '../rules/index.js';
import { EXIT, type Io, table } from './io.js';
import { DEFAULT_PATHS, checkOptions, parse } from './options.js';

export const OWNERS_HELP = `Usage: sloe owners [PATH…] [--json]

Lists every dashboard with its one owner and the SLOs that use it.
`;

/** `sloe owners`: every dashboard, its owner, and the SLOs shown on it. */
export async function ownersCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  if (values.help) {
    io.stdout.write(OWNERS_HELP);
    return EXIT.ok;
  }
  const { config, problems } = await loadRules(
    positionals.length ? positionals : DEFAULT_PATHS,
    checkOptions(undefined, io.env),
  );
  if (problems.length > 0) {
    for (const p of problems) io.stderr.write(formatProblem(p) + '\n');
    io.stderr.write('sloe: fix these problems first (sloe validate)\n');
    return EXIT.problem;
  }
  const dashboards = [...config.dashboards.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((d) => ({
      id: d.id,
      title: d.title,
      ...(d.url ? { url: d.url } : {}),
      owner: d.owner,
      slos: config.slos.filter((s) => s.dashboard.id === d.id).map((s) => ({ service: s.service, slo: s.name })),
      declaredIn: d.declaredAt.map((l) => `${l.file}:${l.line}:${l.col}`),
    }));
  if (values.json) {
    io.stdout.write(JSON.stringify({ dashboards }, null, 2) + '\n');
  } else {
    io.stdout.write(
      table(
        ['DASHBOARD', 'OWNER', 'TITLE', 'SLOS'],
        dashboards.map((d) => [d.id, d.owner, d.title, d.slos.map((s) => `${s.service}/${s.slo}`).join(', ') || '-']),
      ),
    );
  }
  return EXIT.ok;
}
