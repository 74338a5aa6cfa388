/**
 * Dependencies that inhibit: what `validate` accepts and rejects (unknown references, inhibits across services,
 * cycles with their path), and the holds a dependency's page puts on its dependents, the same in `run` (the
 * escalator's postponement) and `backtest` (planEscalations).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/engine/decide.js';
import type { SloFrame } from '../../src/evaluator/frame.js';
import { inhibitPass } from '../../src/evaluator/backtest-inhibit.js';
import { replay } from '../../src/evaluator/backtest.js';
import { inhibitor } from '../../src/rules/inhibit.js';
import { formatProblem, loadRules } from '../../src/rules/index.js';
import { lint } from '../../src/rules/lint/lint.js';
import { NO_HOLDS } from '../../src/rules/silence.js';
import { parseSource } from '../../src/rules/source.js';
import { check } from '../../src/rules/check.js';
import { runSloe } from '../support/cli.js';
import { configFromText } from '../support/rules.js';

const MIN = 60_000;

const POLICY = `apiVersion: sloe/v1
kind: EscalationPolicy
name: default
page:
  - notify: slack
    channel: "#alerts"
  - after: 10m
    notify: pagerduty
`;

/** A service with SLOs `a`, `b`, … (each a threshold page on its own query); `extra` lines go under the service. */
function service(name: string, slos: Record<string, string>, extra = ''): string {
  return `---
apiVersion: sloe/v1
kind: ServiceLevels
service: ${name}
owner: platform
escalation: default
dashboards: [{ id: ${name}-main, owner: bob }]
${extra}slos:
${Object.entries(slos)
  .map(
    ([slo, more]) => `  - name: ${slo}
    signal: custom
    dashboard: ${name}-main
    query: max(${name.replaceAll('-', '_')}_${slo.replaceAll('-', '_')})
    objective: "< 3"
    alert: { when: "> 5", for: 0s, resolveAfter: 0s }
${more}`,
  )
  .join('')}`;
}

async function problems(yaml: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sloe-deps-'));
  try {
    await writeFile(join(dir, 'slos.yaml'), yaml);
    return (await loadRules([dir])).problems.map((p) => formatProblem(p).replace(`${dir}/`, ''));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('validate', () => {
  it('accepts dependsOn on a service and an SLO, inhibits within a service, and records what holds each SLO', async () => {
    const config = await configFromText(
      POLICY +
        service('db', { primary: '' }) +
        service(
          'checkout',
          {
            'error-rate': '    inhibits: [availability]\n',
            availability: '    inhibitFor: 5m\n',
            latency: '    dependsOn: [db/primary]\n',
          },
          'dependsOn: [db]\ninhibitFor: 10m\n',
        ),
    );
    const byId = new Map(config.slos.map((s) => [s.id, s]));
    expect(byId.get('checkout/availability')).toMatchObject({
      inhibitedBy: [
        { ref: 'db', via: 'dependsOn' },
        { ref: 'checkout/error-rate', via: 'inhibits' },
      ],
      inhibitForMs: 5 * MIN,
    });
    expect(byId.get('checkout/latency')).toMatchObject({
      inhibitedBy: [
        { ref: 'db', via: 'dependsOn' },
        { ref: 'db/primary', via: 'dependsOn' },
      ],
      inhibitForMs: 10 * MIN,
    });
    expect(byId.get('db/primary')?.inhibitedBy).toBeUndefined();
  });

  it('rejects unknown services and SLOs, inhibits across services and on itself, each at path:line:col', async () => {
    const found = await problems(
      POLICY +
        service('db', { primary: '    dependsOn: [nowhere, checkout/nope]\n' }) +
        service(
          'checkout',
          {
            'error-rate': '    inhibits: [db/primary, error-rate, missing]\n',
            availability: '    dependsOn: [checkout]\n',
          },
          'dependsOn: [checkout]\n',
        ),
    );
    expect(found).toEqual([
      'slos.yaml:23:17: dependsOn names service "nowhere", which is not declared (kind: ServiceLevels)',
      'slos.yaml:23:26: dependsOn names "checkout/nope": service "checkout" has no SLO "nope" (its SLOs: error-rate, availability)',
      'slos.yaml:31:13: a service cannot depend on itself',
      'slos.yaml:39:16: inhibits holds SLOs of its own service (checkout); to hold "db/primary", give that SLO dependsOn: [checkout/error-rate]',
      'slos.yaml:39:28: an SLO cannot inhibit itself',
      'slos.yaml:39:40: inhibits names SLO "missing", which service "checkout" does not declare (its SLOs: error-rate, availability)',
      'slos.yaml:46:17: dependsOn names the SLO\'s own service "checkout": name the SLOs it waits for (checkout/slo)',
    ]);
  });

  it('rejects a cycle with its path, once, through services and inhibits alike', async () => {
    const found = await problems(
      POLICY +
        service('db', { primary: '    dependsOn: [checkout/latency]\n' }) +
        service('checkout', {
          latency: '    dependsOn: [db]\n',
          'error-rate': '    inhibits: [availability]\n',
          availability: '    inhibits: [error-rate]\n',
        }),
    );
    expect(found).toEqual([
      // At the reference that starts the cycle: latency's dependsOn [db], availability's inhibits [error-rate].
      'slos.yaml:38:17: dependency cycle: checkout/latency → db/primary → checkout/latency: SLOs that wait for each other would all stay quiet through one fault',
      'slos.yaml:45:16: dependency cycle: checkout/availability → checkout/error-rate → checkout/availability: SLOs that wait for each other would all stay quiet through one fault',
    ]);
  });

  it('the double-page lint accepts a pair one of which holds the other, and names inhibits otherwise', async () => {
    const text = (inhibits: string) =>
      POLICY +
      `---
apiVersion: sloe/v1
kind: ServiceLevels
service: checkout
owner: platform
escalation: default
dashboards: [{ id: main, owner: bob }]
metrics: { requests: { counter: requests_total, errors: 'status="error"' } }
slos:
  - name: error-rate
    signal: error_rate
    dashboard: main
    objective: "< 1%"
    alert: { when: "> 3%" }
${inhibits}  - name: availability
    signal: error_rate
    dashboard: main
    objective: 99%
`;
    const warnings = (yaml: string) => {
      const docs = parseSource('slos.yaml', yaml).docs;
      const { config, problems } = check(docs);
      expect(problems).toEqual([]);
      return lint(docs, config)
        .filter((w) => w.rule === 'double-page')
        .map((w) => w.message);
    };
    expect(warnings(text(''))).toEqual([
      expect.stringContaining('let the one that fires first hold the other (inhibits: [availability] on "error-rate")'),
    ]);
    expect(warnings(text('    inhibits: [availability]\n'))).toEqual([]);
  });

  it('sloe validate prints the cycle and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sloe-deps-cli-'));
    try {
      await writeFile(
        join(dir, 'slos.yaml'),
        POLICY +
          service('api', {
            errors: '    inhibits: [latency]\n',
            latency: '    dependsOn: [api/errors, api/saturation]\n',
            saturation: '    dependsOn: [api/latency]\n',
          }),
      );
      const r = await runSloe(['validate', dir]);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toMatch(
        /slos\.yaml:\d+:\d+: dependency cycle: api\/latency → api\/saturation → api\/latency: /,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('holds', () => {
  const yaml = POLICY + service('checkout', { 'error-rate': '    inhibits: [availability]\n', availability: '' });
  const frame = (breach: boolean): SloFrame => ({
    status: 'data',
    instances: [
      {
        labels: {},
        value: breach ? 9 : 1,
        state: breach ? 'breach' : 'ok',
        severity: 'page',
        message: breach ? '9 > 5' : '1',
      },
    ],
  });
  const T = Date.parse('2026-12-01T10:00:00Z');
  const times = Array.from({ length: 121 }, (_, i) => T + i * MIN);

  it('a firing dependency holds a page; the hold lasts inhibitFor after it resolves; tickets are not held', async () => {
    const config = await configFromText(yaml);
    const holds = inhibitor(config.slos, [
      { sloId: 'checkout/error-rate', service: 'checkout', start: T, end: null, incidentId: 'dep1' },
    ]);
    const target = { service: 'checkout', slo: 'availability', signal: 'custom', labels: {} };
    expect(holds({ ...target, severity: 'page' }, T + MIN)).toMatchObject({
      by: 'checkout/error-rate',
      until: T + 2 * MIN,
      cause: { sloId: 'checkout/error-rate', incidentId: 'dep1', firing: true },
    });
    expect(holds({ ...target, severity: 'ticket' }, T + MIN)).toBeUndefined();
    expect(holds({ ...target, severity: 'page' }, T - MIN)).toBeUndefined();
    expect(holds({ ...target, slo: 'error-rate', severity: 'page' }, T + MIN)).toBeUndefined();
    const resolved = inhibitor(config.slos, [
      { sloId: 'checkout/error-rate', service: 'checkout', start: T, end: T + 30 * MIN },
    ]);
    expect(resolved({ ...target, severity: 'page' }, T + 40 * MIN)).toMatchObject({
      until: T + 45 * MIN,
      cause: { firing: false },
    });
    expect(resolved({ ...target, severity: 'page' }, T + 45 * MIN)).toBeUndefined();
  });

  it('run: a page opened while its dependency pages is recorded as held, and the dependency is named', async () => {
    const config = await configFromText(yaml);
    const slo = config.slos.find((s) => s.name === 'availability')!;
    const holds = inhibitor(config.slos, [
      { sloId: 'checkout/error-rate', service: 'checkout', start: T, end: null, incidentId: 'dep1' },
    ]);
    const d = decide(
      slo,
      config.policies.get('default')!,
      { rev: 0, evaluatedAt: 0, instances: {}, resets: [] },
      frame(true),
      T + MIN,
      { token: () => 't', traceId: () => 'x' },
      holds,
    );
    const open = d.ops[0]!;
    expect(open).toMatchObject({
      op: 'open',
      fields: { escalatedAt: String(T + 2 * MIN), heldUntil: String(T + 2 * MIN) },
    });
    expect(JSON.parse((open as { held: string }).held).detail).toBe(
      'held: caused by checkout/error-rate? its page is firing (checkout/error-rate inhibits availability); released if still firing 15m after it resolves',
    );
    expect(d.inhibited.get('checkout/availability{}')?.cause?.incidentId).toBe('dep1');
  });

  it('backtest: the dependent pages only if it still fires inhibitFor after the dependency resolved, its steps spaced as the policy says', async () => {
    const config = await configFromText(yaml);
    const policy = config.policies.get('default')!;
    const [errorRate, availability] = ['error-rate', 'availability'].map(
      (n) => config.slos.find((s) => s.name === n)!,
    ) as [(typeof config.slos)[0], (typeof config.slos)[0]];
    // error-rate breaches 10:00–10:30; availability 10:05–11:30, and 10:05–10:40 in the second case.
    const frames = (from: number, to: number) => (t: number) => frame(t >= from && t < to);
    const run = (availabilityEnds: number) => {
      const first = [
        { slo: errorRate, frames: frames(T, T + 30 * MIN) },
        { slo: availability, frames: frames(T + 5 * MIN, availabilityEnds) },
      ].map((f) => ({ ...f, policy, holds: NO_HOLDS, instances: replay(f.slo, policy, times, f.frames) }));
      return { first, second: inhibitPass(first, times) };
    };
    const steps = (instances: ReturnType<typeof replay>) =>
      instances.flatMap((i) =>
        i.incidents.flatMap((inc) => inc.steps.map((s) => `${s.notify} ${new Date(s.at).toISOString().slice(11, 16)}`)),
      );

    const long = run(T + 90 * MIN);
    expect(steps(long.first[1]!.instances)).toEqual(['slack 10:05', 'pagerduty 10:15']);
    // Released 15m after error-rate resolved at 10:30: from the first step, PagerDuty 10m after Slack.
    expect(steps(long.second[1]!)).toEqual(['slack 10:45', 'pagerduty 10:55']);
    expect(long.second[1]![0]!.incidents[0]!.held).toMatchObject({ by: 'checkout/error-rate', until: T + 45 * MIN });
    expect(steps(long.second[0]!)).toEqual(['slack 10:00', 'pagerduty 10:10']);

    // Resolved before the release: no step at all, one fault one page.
    const short = run(T + 40 * MIN);
    expect(steps(short.second[1]!)).toEqual([]);
    expect(short.second[1]![0]!.incidents).toHaveLength(1);
  });
});
