/**
 * The loaded model keeps one copy of what many SLOs have alike: `sloe run` holds the model for as long as it runs,
 * and 10,000 SLOs with the Workbook's tiers would otherwise hold 10,000 copies of the same three tiers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RatioSlo, loadRules } from '../../src/rules/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloe-sharing-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const slo = (name: string, extra: string[] = [], ratio = 'bad') => [
  `  - name: ${name}`,
  '    signal: error_rate',
  '    dashboard: d',
  '    ratio:',
  `      ${ratio}: sum(rate(requests_total{app="${name}", status${ratio === 'bad' ? '' : '!'}="error"}[$window]))`,
  `      total: sum(rate(requests_total{app="${name}"}[$window]))`,
  '    objective: 99.9%',
  ...extra,
];

async function load(): Promise<Map<string, RatioSlo>> {
  const text = [
    'apiVersion: sloe/v1',
    'kind: EscalationPolicy',
    'name: p',
    'page: [{ notify: slack, channel: "#a" }]',
    '---',
    'apiVersion: sloe/v1',
    'kind: ServiceLevels',
    'service: shop',
    'owner: sre',
    'escalation: p',
    'dashboards: [{ id: d, owner: alice }]',
    'slos:',
    ...slo('checkout'),
    ...slo('search', [], 'good'),
    ...slo('cart', ['    window: 7d']),
    ...slo('login', [
      '    alert:',
      '      burnRate:',
      '        - { severity: page, budget: 2%, long: 1h, short: 5m }',
      '        - { severity: page, budget: 5%, long: 6h, short: 30m }',
      '        - { severity: ticket, budget: 10%, long: 3d, short: 6h }',
    ]),
  ].join('\n');
  const file = join(dir, 'shop.yaml');
  await writeFile(file, `${text}\n`);
  const { config, problems } = await loadRules([file]);
  expect(problems).toEqual([]);
  return new Map(config.slos.map((s) => [s.name, s as RatioSlo]));
}

describe('parts of the model that SLOs have alike', () => {
  it('SLOs with the same burn-rate tiers share one list of them; other tiers are their own', async () => {
    const slos = await load();
    const [checkout, search, cart, login] = ['checkout', 'search', 'cart', 'login'].map((n) => slos.get(n)!);
    // The Workbook's tiers over 30 days, written out or by name: one list.
    expect(search!.tiers).toBe(checkout!.tiers);
    expect(login!.tiers).toBe(checkout!.tiers);
    expect(checkout!.tiers.map((t) => [t.severity, t.budget, t.longMs, t.shortMs, t.factor])).toEqual([
      ['page', 0.02, 3600_000, 300_000, 14.4],
      ['page', 0.05, 21_600_000, 1800_000, 6],
      ['ticket', 0.1, 259_200_000, 21_600_000, 1],
    ]);
    // Over 7 days the factors differ: a list of its own.
    expect(cart!.tiers).not.toBe(checkout!.tiers);
    expect(cart!.tiers.map((t) => Number(t.factor.toFixed(6)))).toEqual([3.36, 1.4, 0.233333]);
  });

  it('a ratio holds only the parts it was given', async () => {
    const slos = await load();
    expect(Object.keys(slos.get('checkout')!.ratio)).toEqual(['bad', 'total']);
    expect(Object.keys(slos.get('search')!.ratio)).toEqual(['good', 'total']);
    expect(slos.get('search')!.ratio).toEqual({
      good: 'sum(rate(requests_total{app="search", status!="error"}[$window]))',
      total: 'sum(rate(requests_total{app="search"}[$window]))',
    });
  });
});
