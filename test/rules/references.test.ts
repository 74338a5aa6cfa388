import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PagerDutyChannel } from '../../src/escalation/pagerduty/pagerduty-channel.js';
import { pagerDutyConfigFromEnv } from '../../src/escalation/pagerduty/client.js';
import type { Incident } from '../../src/incident/model.js';
import { createLogger } from '../../src/observability/log.js';
import { checkOptionsFromEnv, formatProblem, loadRules } from '../../src/rules/index.js';
import { expandReferences } from '../../src/rules/env.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloe-refs-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A policy whose page steps are given, and one service with one SLO; `slo` lines are added to the SLO. */
function spec(options: { steps?: string; slo?: string; service?: string } = {}): string {
  return `apiVersion: sloe/v1
kind: EscalationPolicy
name: default
page:
${options.steps ?? `  - notify: slack
    channel: "#shop-alerts"
  - after: 10m
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}`}
---
apiVersion: sloe/v1
kind: ServiceLevels
service: shop
owner: shop-team
escalation: default
${options.service ?? ''}dashboards:
  - { id: shop-overview, title: Shop overview, url: "https://grafana.example.com/d/shop", owner: alice }
slos:
  - name: latency-p95
    signal: latency
    dashboard: shop-overview
    query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="shop"}[5m])))
    objective: "< 0.5"
${options.slo ?? ''}`;
}

let n = 0;
async function problems(text: string, env: NodeJS.ProcessEnv = {}, withEnv = false) {
  const file = join(dir, `spec-${++n}.yaml`);
  await writeFile(file, text);
  const result = await loadRules([file], { ...checkOptionsFromEnv(env), ...(withEnv ? { env } : {}) });
  return { file, result, lines: result.problems.map(formatProblem).map((l) => l.slice(file.length + 1)) };
}

const NOT_HERE = 'environment references (${…}) are filled in only in a step\'s channel and routingKey';

describe('environment references in specs', () => {
  it('a label cannot read a secret: validate reports the ${ at its line and column', async () => {
    const { lines } = await problems(spec({ slo: '    labels:\n      leak: ${SLACK_SIGNING_SECRET}\n' }));
    expect(lines).toEqual([
      `25:13: \${SLACK_SIGNING_SECRET} is not allowed in slos[0].labels.leak: ${NOT_HERE}; SLACK_SIGNING_SECRET is a credential of sloe itself and can never be referenced`,
    ]);
  });

  it('a runbook URL cannot carry a token', async () => {
    const { lines } = await problems(spec({ slo: '    runbook: https://evil.example/?k=${PAGERDUTY_API_TOKEN}\n' }));
    expect(lines).toEqual([
      `24:38: \${PAGERDUTY_API_TOKEN} is not allowed in slos[0].runbook: ${NOT_HERE}; PAGERDUTY_API_TOKEN is a credential of sloe itself and can never be referenced`,
    ]);
  });

  it('a query cannot send the API token to Prometheus', async () => {
    const text = spec().replace('{job="shop"}', '{job="${SLOE_API_TOKEN}"}');
    const { lines } = await problems(text);
    expect(lines).toEqual([
      `22:97: \${SLOE_API_TOKEN} is not allowed in slos[0].query: ${NOT_HERE}; SLOE_API_TOKEN is a credential of sloe itself and can never be referenced`,
    ]);
  });

  it('an allow-listed name is still refused outside the reference fields', async () => {
    const { lines } = await problems(spec({ service: 'description: "team ${SLOE_TEAM}"\n' }));
    expect(lines).toEqual([`16:20: \${SLOE_TEAM} is not allowed in description: ${NOT_HERE}`]);
  });

  it('the engine does not fill in a refused reference, even with the variable set', async () => {
    const env = { SLOE_TEAM: 'payments' };
    const { result } = await problems(spec({ service: 'labels: { team: "${SLOE_TEAM}" }\n' }), env, true);
    expect(result.problems.map((p) => p.message)).toEqual([expect.stringContaining('${SLOE_TEAM} is not allowed in labels.team')]);
    expect(result.config.slos[0]!.labels).toEqual({ team: '${SLOE_TEAM}' });
  });

  it.each([
    ['SLACK_BOT_TOKEN'],
    ['SLACK_SIGNING_SECRET'],
    ['PAGERDUTY_API_TOKEN'],
    ['PAGERDUTY_WEBHOOK_SECRET'],
    ['SLOE_API_TOKEN'],
  ])('a routingKey of ${%s} is refused, whatever SLOE_SPEC_ENV_ALLOW says', async (name) => {
    const steps = `  - notify: pagerduty\n    routingKey: \${${name}}`;
    const { lines } = await problems(spec({ steps }), { SLOE_SPEC_ENV_ALLOW: '*' });
    expect(lines).toEqual([`6:17: environment variable ${name} is a credential of sloe itself and can never be referenced`]);
  });

  it('a name outside the allow-list is refused in a reference field, and accepted once SLOE_SPEC_ENV_ALLOW lists it', async () => {
    const steps = '  - notify: slack\n    channel: ${OPS_CHANNEL}';
    const refused = await problems(spec({ steps }));
    expect(refused.lines).toEqual([
      '6:14: environment variable OPS_CHANNEL is not allowed in specs: allowed are SLOE_*, PAGERDUTY_*_KEY, SLACK_CHANNEL_* (set SLOE_SPEC_ENV_ALLOW to change the list)',
    ]);
    const allowed = await problems(spec({ steps }), { SLOE_SPEC_ENV_ALLOW: 'OPS_*' });
    expect(allowed.lines).toEqual([]);
  });

  it('a Slack channel reference on the allow-list is filled in when the engine loads', async () => {
    const steps = '  - notify: slack\n    channel: ${SLACK_CHANNEL_SHOP}';
    const { result } = await problems(spec({ steps }), { SLACK_CHANNEL_SHOP: '#shop-oncall' }, true);
    expect(result.problems).toEqual([]);
    expect(result.config.policies.get('default')!.page[0]).toMatchObject({ notify: 'slack', channel: '#shop-oncall' });
  });

  it('a routingKey keeps its reference in the model: it is filled in only when an event is sent', async () => {
    const { result } = await problems(spec(), { PAGERDUTY_ROUTING_KEY: 'R0UTING' }, true);
    expect(result.problems).toEqual([]);
    expect(result.config.policies.get('default')!.page[1]).toMatchObject({ routingKey: '${PAGERDUTY_ROUTING_KEY}' });
  });
});

describe('filling in references at send time', () => {
  it('fills in allow-listed names only; credentials and unlisted names stay unread', () => {
    const env = { PAGERDUTY_ROUTING_KEY: 'key', PAGERDUTY_API_TOKEN: 'secret-token', HOME_KEY: 'x' };
    expect(expandReferences('${PAGERDUTY_ROUTING_KEY}', env)).toEqual({ value: 'key', missing: [], refused: [] });
    expect(expandReferences('${PAGERDUTY_API_TOKEN}', env)).toEqual({ value: '', missing: [], refused: ['PAGERDUTY_API_TOKEN'] });
    expect(expandReferences('${HOME_KEY}', env)).toEqual({ value: '', missing: [], refused: ['HOME_KEY'] });
    expect(expandReferences('${PAGERDUTY_API_TOKEN}', { ...env, SLOE_SPEC_ENV_ALLOW: '*' }).refused).toEqual(['PAGERDUTY_API_TOKEN']);
  });

  it('a PagerDuty step whose frozen routingKey names a credential fails visibly and sends nothing', async () => {
    // An incident stored by an older configuration (its policy is frozen in Redis) must not leak either.
    const env = { PAGERDUTY_API_TOKEN: 'secret-token', PAGERDUTY_ROUTING_KEY: 'default-key', PAGERDUTY_EVENTS_SERVER: '127.0.0.1:9' };
    const channel = new PagerDutyChannel({ ...pagerDutyConfigFromEnv(env), timeoutMs: 500 }, env);
    const step = { notify: 'pagerduty' as const, afterMs: 0, routingKey: '${PAGERDUTY_API_TOKEN}', severity: 'critical' as const };
    const incident = { id: 'abc', severity: 'page', sloId: 's/x', labels: {}, message: 'm', dashboard: { id: 'd', title: 'd', owner: 'o' }, refs: {}, firedAt: 0, service: 's', slo: 'x', signal: 'latency', condition: '> 1', objective: null, owner: 'o' } as unknown as Incident;
    const result = await channel.step({ incident, step, stepKey: 'page.0', round: 0, log: createLogger({ LOG_LEVEL: 'silent' }), now: Date.now });
    expect(result).toEqual({ ok: false, retry: false, error: 'routingKey ${PAGERDUTY_API_TOKEN} names a variable that specs may not read: PAGERDUTY_API_TOKEN' });
  });
});
