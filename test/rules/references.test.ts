import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebClient } from '@slack/web-api';
import { PagerDutyChannel } from '../../src/escalation/pagerduty/pagerduty-channel.js';
import { SlackApi, SlackChannel } from '../../src/escalation/slack/slack-channel.js';
import { SlackStandIn } from '../support/stand-ins/slack.js';
import { pagerDutyConfigFromEnv } from '../../src/escalation/pagerduty/client.js';
import type { Incident } from '../../src/incident/model.js';
import { createLogger } from '../../src/observability/log.js';
import { checkOptionsFromEnv, formatProblem, loadRules } from '../../src/rules/index.js';
import { EnvAllowList, expandReferences } from '../../src/rules/env.js';
import { ROOT } from '../support/cli.js';

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
${
  options.steps ??
  `  - notify: slack
    channel: "#shop-alerts"
  - after: 10m
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}`
}
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

const NOT_HERE = "environment references (${…}) are filled in only in a step's channel and routingKey";

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
    const { lines } = await problems(spec({ service: 'description: "team ${SLACK_CHANNEL_TEAM}"\n' }));
    expect(lines).toEqual([`16:20: \${SLACK_CHANNEL_TEAM} is not allowed in description: ${NOT_HERE}`]);
  });

  it('the engine does not fill in a refused reference, even with the variable set', async () => {
    const env = { SLACK_CHANNEL_TEAM: 'payments' };
    const { result } = await problems(spec({ service: 'labels: { team: "${SLACK_CHANNEL_TEAM}" }\n' }), env, true);
    expect(result.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('${SLACK_CHANNEL_TEAM} is not allowed in labels.team'),
    ]);
    expect(result.config.slos[0]!.labels).toEqual({ team: '${SLACK_CHANNEL_TEAM}' });
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
    expect(lines).toEqual([
      `6:17: environment variable ${name} is a credential of sloe itself and can never be referenced`,
    ]);
  });

  it("SLOE_SPEC_ENV_ALLOW narrows what a reference field may name; it cannot widen it beyond the field's type", async () => {
    const steps = '  - notify: slack\n    channel: ${SLACK_CHANNEL_OPS}';
    expect((await problems(spec({ steps }))).lines).toEqual([]);
    expect((await problems(spec({ steps }), { SLOE_SPEC_ENV_ALLOW: 'SLACK_CHANNEL_SHOP_*' })).lines).toEqual([
      '6:14: environment variable SLACK_CHANNEL_OPS is not allowed in specs: allowed are SLACK_CHANNEL_SHOP_* (set SLOE_SPEC_ENV_ALLOW to change the list)',
    ]);
    const other = '  - notify: slack\n    channel: ${OPS_CHANNEL}';
    expect((await problems(spec({ steps: other }), { SLOE_SPEC_ENV_ALLOW: 'OPS_*' })).lines).toEqual([
      '6:14: a channel may reference only SLACK_CHANNEL_* variables, not OPS_CHANNEL',
    ]);
  });

  it('references are typed by field: a channel cannot read a routing key, a routingKey cannot read a channel', async () => {
    const channel = await problems(spec({ steps: '  - notify: slack\n    channel: ${PAGERDUTY_ROUTING_KEY}' }), {
      SLOE_SPEC_ENV_ALLOW: '*',
    });
    expect(channel.lines).toEqual([
      '6:14: a channel may reference only SLACK_CHANNEL_* variables, not PAGERDUTY_ROUTING_KEY',
    ]);
    const key = await problems(spec({ steps: '  - notify: pagerduty\n    routingKey: ${SLACK_CHANNEL_SHOP}' }), {
      SLOE_SPEC_ENV_ALLOW: '*',
    });
    expect(key.lines).toEqual([
      '6:17: a routingKey may reference only PAGERDUTY_*_KEY variables, not SLACK_CHANNEL_SHOP',
    ]);
  });

  it.each([
    ['SLOE_HEARTBEAT_URL'],
    ['SLOE_REDIS_PREFIX'],
    ['REDIS_SENTINELS'],
    ['PROMETHEUS_USERNAME'],
    ['SLACK_API_URL'],
    ['PAGERDUTY_EVENTS_SERVER'],
  ])('a channel of ${%s} (a setting of sloe) is refused even when allow-listed', async (name) => {
    const { lines } = await problems(spec({ steps: `  - notify: slack\n    channel: \${${name}}` }), {
      SLOE_SPEC_ENV_ALLOW: '*',
    });
    expect(lines).toEqual([
      `6:14: environment variable ${name} is a setting or credential of sloe itself and can never be referenced`,
    ]);
  });

  it('every variable sloe reads is refused in both reference fields, whatever the allow-list says', async () => {
    // The names come from the source itself, so that a new setting cannot be forgotten here.
    const { execFileSync } = await import('node:child_process');
    const grep = execFileSync('grep', ['-rhoE', "env(\\.|\\[')[A-Z][A-Z0-9_]+", 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const names = [
      ...new Set(
        grep
          .split('\n')
          .filter(Boolean)
          .map((m) => m.replace(/^env(\.|\[')/, '')),
      ),
    ];
    expect(names).toEqual(
      expect.arrayContaining([
        'SLOE_API_TOKEN',
        'SLACK_BOT_TOKEN',
        'REDIS_URL',
        'PROMETHEUS_URL',
        'SLOE_HEARTBEAT_URL',
      ]),
    );
    const allow = EnvAllowList.fromEnv({ SLOE_SPEC_ENV_ALLOW: '*' });
    for (const name of names) {
      // The default routing key is a routing key: a routingKey may name it (it is what the field is for).
      if (name === 'PAGERDUTY_ROUTING_KEY') {
        expect(allow.refusal(name, 'channel'), name).toBeDefined();
        expect(allow.refusal(name, 'routingKey'), name).toBeUndefined();
        continue;
      }
      expect(allow.refusal(name, 'channel'), name).toMatch(/can never be referenced/);
      expect(allow.refusal(name, 'routingKey'), name).toMatch(/can never be referenced/);
    }
  });

  it('a channel is checked after it is filled in, and kept as written in the model', async () => {
    const steps = '  - notify: slack\n    channel: ${SLACK_CHANNEL_SHOP}';
    const good = await problems(spec({ steps }), { SLACK_CHANNEL_SHOP: '#shop-oncall' }, true);
    expect(good.result.problems).toEqual([]);
    expect(good.result.config.policies.get('default')!.page[0]).toMatchObject({
      notify: 'slack',
      channel: '${SLACK_CHANNEL_SHOP}',
    });
    for (const value of ['<!channel>', '#shop oncall', 'shop', '#a|b']) {
      const bad = await problems(spec({ steps }), { SLACK_CHANNEL_SHOP: value }, true);
      expect(bad.lines, value).toEqual([
        '6:14: ${SLACK_CHANNEL_SHOP} does not hold a Slack channel: its value must be "#name" or a channel id such as C0123ABCD',
      ]);
      expect(bad.lines.join('\n')).not.toContain(value);
    }
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
    expect(expandReferences('${PAGERDUTY_ROUTING_KEY}', 'routingKey', env)).toEqual({
      value: 'key',
      missing: [],
      refused: [],
    });
    expect(expandReferences('${PAGERDUTY_API_TOKEN}', 'routingKey', env)).toEqual({
      value: '',
      missing: [],
      refused: ['PAGERDUTY_API_TOKEN'],
    });
    expect(expandReferences('${HOME_KEY}', 'routingKey', env)).toEqual({
      value: '',
      missing: [],
      refused: ['HOME_KEY'],
    });
    expect(
      expandReferences('${PAGERDUTY_API_TOKEN}', 'routingKey', { ...env, SLOE_SPEC_ENV_ALLOW: '*' }).refused,
    ).toEqual(['PAGERDUTY_API_TOKEN']);
    expect(expandReferences('${PAGERDUTY_ROUTING_KEY}', 'channel', env).refused).toEqual(['PAGERDUTY_ROUTING_KEY']);
  });

  it('a PagerDuty step whose frozen routingKey names a credential fails visibly and sends nothing', async () => {
    // An incident stored by an older configuration (its policy is frozen in Redis) must not leak either.
    const env = {
      PAGERDUTY_API_TOKEN: 'secret-token',
      PAGERDUTY_ROUTING_KEY: 'default-key',
      PAGERDUTY_EVENTS_SERVER: '127.0.0.1:9',
    };
    const channel = new PagerDutyChannel({ ...pagerDutyConfigFromEnv(env), timeoutMs: 500 }, env);
    const step = {
      notify: 'pagerduty' as const,
      afterMs: 0,
      routingKey: '${PAGERDUTY_API_TOKEN}',
      severity: 'critical' as const,
    };
    const incident = {
      id: 'abc',
      severity: 'page',
      sloId: 's/x',
      labels: {},
      message: 'm',
      dashboard: { id: 'd', title: 'd', owner: 'o' },
      refs: {},
      firedAt: 0,
      service: 's',
      slo: 'x',
      signal: 'latency',
      condition: '> 1',
      objective: null,
      owner: 'o',
    } as unknown as Incident;
    const result = await channel.step({
      incident,
      step,
      stepKey: 'page.0',
      round: 0,
      log: createLogger({ LOG_LEVEL: 'silent' }),
      now: Date.now,
    });
    expect(result).toEqual({
      ok: false,
      retry: false,
      error: 'routingKey ${PAGERDUTY_API_TOKEN} names a variable that specs may not read: PAGERDUTY_API_TOKEN',
    });
  });

  it('a Slack step fills in its channel when it posts, and says where as written', async () => {
    const slack = new SlackStandIn('xoxb-t');
    await slack.start();
    try {
      const client = new WebClient('xoxb-t', { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
      const env = {
        SLACK_CHANNEL_SHOP: 'C0SHOP',
        SLACK_CHANNEL_BAD: '<!channel>',
        SLOE_SPEC_ENV_ALLOW: '*',
        SLOE_HEARTBEAT_URL: 'https://hb.example/?token=t',
      };
      const channel = new SlackChannel(new SlackApi(client), env);
      const incident = {
        id: 'abc',
        severity: 'page',
        sloId: 's/x',
        labels: {},
        message: 'm',
        dashboard: { id: 'd', title: 'd', owner: 'o' },
        refs: {},
        firedAt: 0,
        service: 's',
        slo: 'x',
        signal: 'latency',
        condition: '> 1',
        objective: null,
        owner: 'o',
        status: 'firing',
        reason: 'breach',
      } as unknown as Incident;
      const context = {
        incident,
        stepKey: 'page.0',
        round: 0,
        log: createLogger({ LOG_LEVEL: 'silent' }),
        now: Date.now,
      };
      const sent = await channel.step({
        ...context,
        step: { notify: 'slack', afterMs: 0, channel: '${SLACK_CHANNEL_SHOP}' },
      });
      expect(sent).toMatchObject({
        ok: true,
        detail: 'posted in ${SLACK_CHANNEL_SHOP}',
        refs: { 'slack.target': '${SLACK_CHANNEL_SHOP}' },
      });
      expect(slack.of('chat.postMessage').map((c) => c.args.channel)).toEqual(['C0SHOP']);
      const bad = await channel.step({
        ...context,
        step: { notify: 'slack', afterMs: 0, channel: '${SLACK_CHANNEL_BAD}' },
      });
      expect(bad).toEqual({
        ok: false,
        retry: false,
        error: 'channel ${SLACK_CHANNEL_BAD} does not hold a Slack channel ("#name" or a channel id)',
      });
      const secret = await channel.step({
        ...context,
        step: { notify: 'slack', afterMs: 0, channel: '${SLOE_HEARTBEAT_URL}' },
      });
      expect(secret).toEqual({
        ok: false,
        retry: false,
        error: 'channel ${SLOE_HEARTBEAT_URL} names a variable that specs may not read: SLOE_HEARTBEAT_URL',
      });
      expect(slack.of('chat.postMessage')).toHaveLength(1);
      // A thread note (a delivery error, say) loses the credentials of the URLs in it.
      const posted = { ...incident, refs: { 'slack.channel': 'C0SHOP', 'slack.ts': '1.1' } } as Incident;
      const note = 'webhook failed: https://ops:hunter2@hooks.example/x?token=abc&q=1 answered 500';
      await channel.update({ ...context, incident: posted, update: 'note', text: note, origin: 'webhook' } as never);
      expect(slack.of('chat.postMessage').at(-1)!.args.text).toBe(
        'webhook failed: https://hooks.example/x?token=[redacted]&amp;q=1 answered 500',
      );
    } finally {
      await slack.stop();
    }
  });
});
