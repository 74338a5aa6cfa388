/**
 * `sloe dashboards` on the repository's own SLO files: every dashboard is checked against Grafana's own types
 * (@grafana/schema, by compiling the JSON as a typed literal, so unknown and mistyped fields fail), every panel's
 * PromQL parses, and the owner is in the description, the tags and a text panel.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPromql } from '../../src/rules/promql.js';
import { ROOT, runSloe } from '../support/cli.js';

interface Target {
  expr: string;
}
interface AnyPanel {
  type: string;
  title: string;
  targets?: Target[];
  panels?: AnyPanel[];
  options?: { content?: string };
  fieldConfig?: { defaults: { thresholds?: { steps: Array<{ value: number | null; color: string }> } } };
}
interface AnyDashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  panels: AnyPanel[];
}

let out: string;
let files: string[];
const dashboards = new Map<string, AnyDashboard>();

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'sloe-dashboards-'));
  const r = await runSloe(['dashboards', join(ROOT, 'slos'), '--out', out], { env: { PAGERDUTY_ROUTING_KEY: 'x' } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  files = (await readdir(out)).sort();
  for (const f of files) dashboards.set(f, JSON.parse(await readFile(join(out, f), 'utf8')) as AnyDashboard);
});
afterAll(() => rm(out, { recursive: true, force: true }));

/** Type errors of `json` as a literal of @grafana/schema's Dashboard (string enums as their values). */
async function typeErrors(json: string): Promise<string[]> {
  const dir = await mkdtemp(join(ROOT, 'test', '.dashboard-check-'));
  try {
    const file = join(dir, 'check.ts');
    await writeFile(
      file,
      `import type { Dashboard } from '@grafana/schema';
type Loose<T> = T extends string ? \`\${T}\` : T extends Array<infer U> ? Array<Loose<U>> : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;
export const dashboard: Loose<Dashboard> = ${json};
`,
    );
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      types: [],
    });
    return ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]!);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const allPanels = (d: AnyDashboard) => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

describe('sloe dashboards', () => {
  it('writes one dashboard per declared dashboard, each with its owner in the description, a tag and a text panel', () => {
    expect(files).toEqual(['assistant-cost.json', 'assistant-golden-signals.json', 'assistant-quality.json']);
    const golden = dashboards.get('assistant-golden-signals.json')!;
    expect(golden.uid).toBe('sloe-assistant-golden-signals');
    expect(golden.description).toMatch(/^Owner: alice\./);
    expect(golden.tags).toEqual(['sloe', 'owner:alice', 'service:it-support-assistant']);
    expect(golden.panels[0]).toMatchObject({ type: 'text', title: 'Owner' });
    expect(golden.panels[0]!.options!.content).toMatch(/^\*\*Owner: alice\*\*/);
    expect(dashboards.get('assistant-cost.json')!.tags).toContain('owner:carol');
  });

  it('validates against @grafana/schema', async () => {
    for (const [file, d] of dashboards) expect(await typeErrors(JSON.stringify(d)), file).toEqual([]);
  }, 120_000);

  it('the schema check fails on what Grafana would not read (so a pass means something)', async () => {
    const golden = dashboards.get('assistant-golden-signals.json')!;
    const unknownField = await typeErrors(JSON.stringify({ ...golden, refreshEvery: '1m' }));
    expect(unknownField.join('\n')).toMatch(
      /Object literal may only specify known properties, and '"?refreshEvery"?' does not exist/,
    );
    const mistyped = await typeErrors(
      JSON.stringify({ ...golden, panels: [{ ...golden.panels[1], gridPos: { x: 'left', y: 0, w: 8, h: 8 } }] }),
    );
    expect(mistyped.join('\n')).toMatch(/'string' is not assignable to type 'number'/);
  }, 120_000);

  it('every panel query parses as PromQL', () => {
    let queries = 0;
    for (const d of dashboards.values()) {
      for (const p of allPanels(d)) {
        for (const t of p.targets ?? []) {
          queries++;
          expect(checkPromql(t.expr).issues, `${d.title} / ${p.title}: ${t.expr}`).toEqual([]);
        }
      }
    }
    expect(queries).toBeGreaterThan(20);
  });

  it('draws latency as p50, p95 and p99 side by side, with the objective and alert condition as thresholds', () => {
    const golden = allPanels(dashboards.get('assistant-golden-signals.json')!);
    const p95 = golden.filter((p) => p.title.startsWith('latency-p95: p'));
    expect(p95.map((p) => p.title)).toEqual(['latency-p95: p50', 'latency-p95: p95', 'latency-p95: p99']);
    expect(p95.map((p) => p.targets![0]!.expr.slice(0, 24))).toEqual([
      'histogram_quantile(0.5, ',
      'histogram_quantile(0.95,',
      'histogram_quantile(0.99,',
    ]);
    // objective < 3.5, alert when > 5: green, yellow from 3.5, red from 5.
    expect(p95[1]!.fieldConfig!.defaults.thresholds!.steps).toEqual([
      { value: null, color: 'green' },
      { value: 3.5, color: 'yellow' },
      { value: 5, color: 'red' },
    ]);
    // cache hit rate: objective > 30%, alert when < 10%: low is bad.
    const cache = allPanels(dashboards.get('assistant-cost.json')!).find((p) => p.title === 'cache-hit-rate')!;
    expect(cache.fieldConfig!.defaults.thresholds!.steps).toEqual([
      { value: null, color: 'red' },
      { value: 0.1, color: 'yellow' },
      { value: 0.3, color: 'green' },
    ]);
  });

  it('adds budget and burn-rate panels from the sloe_slo_* metrics for every SLO', () => {
    const golden = allPanels(dashboards.get('assistant-golden-signals.json')!);
    const budget = golden.find((p) => p.title === 'availability: error budget left')!;
    expect(budget.targets![0]!.expr).toBe(
      'sloe_slo_error_budget_remaining_ratio{service="it-support-assistant", slo="availability"}',
    );
    const burn = golden.find((p) => p.title === 'availability: burn rate')!;
    expect(burn.targets![0]!.expr).toBe('sloe_slo_burn_rate{service="it-support-assistant", slo="availability"}');
    // The workbook tiers of a 30d window: factors 1, 6 and 14.4.
    expect(burn.fieldConfig!.defaults.thresholds!.steps.map((s) => s.value)).toEqual([null, 1, 6, 14.4]);
    for (const d of dashboards.values()) {
      const rows = d.panels.filter((p) => p.type === 'row').length;
      expect(allPanels(d).filter((p) => p.title.endsWith(': error budget left'))).toHaveLength(rows);
    }
  });
});
