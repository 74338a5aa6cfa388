/** Configuration from YAML text, for tests of the pure code that needs real SLOs and policies. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, loadRules } from '../../src/rules/index.js';
import type { Config } from '../../src/rules/model.js';

/** Loads SLO files given as text, as `sloe` would; any problem throws, naming it. */
export async function configFromText(yaml: string): Promise<Config> {
  const dir = await mkdtemp(join(tmpdir(), 'sloe-config-'));
  try {
    await writeFile(join(dir, 'slos.yaml'), yaml);
    const loaded = await loadRules([dir]);
    if (loaded.problems.length > 0) throw new Error(loaded.problems.map(formatProblem).join('\n'));
    return loaded.config;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One service `s` (owner sre, dashboard `d` owned by alice, escalation to #a) holding `slos`: its YAML list items. */
export function oneService(slos: string): string {
  return `apiVersion: sloe/v1
kind: EscalationPolicy
name: p
page: [{ notify: slack, channel: "#a" }]
---
apiVersion: sloe/v1
kind: ServiceLevels
service: s
owner: sre
escalation: p
dashboards: [{ id: d, owner: alice }]
slos:
${slos}`;
}

/**
 * `n` ratio SLOs `availability-<i>` for oneService: errors of `req_total{app=<app(i)>}`, workbook burn-rate alerts,
 * and per SLO its objective and any more lines (`window: 7d`).
 */
export function ratioSlos(n: number, app: (i: number) => string, more: (i: number) => string): string {
  return Array.from(
    { length: n },
    (_, i) => `  - name: availability-${i}
    signal: error_rate
    dashboard: d
    ratio:
      bad: sum(rate(req_total{app="${app(i)}", status="error"}[$window]))
      total: sum(rate(req_total{app="${app(i)}"}[$window]))
    alert: { burnRate: workbook }
${more(i)}
`,
  ).join('');
}
