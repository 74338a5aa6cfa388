import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/log.js';
import { pagerDutyWebhook } from '../../src/escalation/pagerduty/webhook.js';
import { createSlackApp } from '../../src/escalation/slack/interactivity.js';
import { HttpServer } from '../../src/server/http.js';
import { LogCapture } from '../support/engine.js';
import { sleep } from '../support/time.js';

const PD_SECRET = 'pd-secret';
const SLACK_SECRET = 'slack-secret';

/** The two signed endpoints on a server of their own; what they were asked to do is recorded. */
const calls: string[] = [];
const capture = new LogCapture();
let base = '';
const server = new HttpServer(createLogger({ LOG_LEVEL: 'debug' }, capture));
beforeAll(async () => {
  const log = createLogger({ LOG_LEVEL: 'debug' }, capture);
  const actions = {
    acknowledge: async (id: string, by: string) => (calls.push(`ack ${id} by ${by}`), 'done' as const),
    resolve: async (id: string, by: string) => (calls.push(`resolve ${id} by ${by}`), 'done' as const),
    snooze: async (id: string, _ms: number, by: string) => (calls.push(`snooze ${id} by ${by}`), 'done' as const),
    silence: async (request: { by: string }) => (calls.push(`silence by ${request.by}`), new Error('not here')),
    store: { get: async () => undefined },
  };
  // No incident exists and no schedule is configured: a click that got through would find nothing to act on.
  const options = {
    token: 'xoxb-x',
    signingSecret: SLACK_SECRET,
    apiUrl: 'http://127.0.0.1:9/api/',
    log,
    now: Date.now,
    actions: () => actions,
    incidents: () => ({ get: async () => undefined, addAudit: async () => undefined }),
    schedules: () => new Map(),
  };
  const slack = createSlackApp(options);
  server
    .route('POST', '/webhooks/pagerduty', pagerDutyWebhook(PD_SECRET, actions, log))
    .route('POST', '/slack/events', slack.handler);
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
});
afterAll(() => server.close());

const pagerDuty = (body: string) =>
  fetch(`${base}/webhooks/pagerduty`, {
    method: 'POST',
    headers: { 'x-pagerduty-signature': `v1=${createHmac('sha256', PD_SECRET).update(body).digest('hex')}` },
    body,
  });

const slack = (body: string) => {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return fetch(`${base}/slack/events`, {
    method: 'POST',
    headers: {
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
  });
};

describe('signed requests with bodies of the wrong shape', () => {
  it.each([
    'null',
    '5',
    '"x"',
    '[]',
    '{"event":null}',
    '{"event":5}',
    '{"event":{"data":5,"event_type":"incident.acknowledged"}}',
    '{"event":{"event_type":"incident.acknowledged","agent":{"summary":5},"data":{"incident_key":7}}}',
  ])('PagerDuty %s: 400 or ignored, never 500 or an action', async (body) => {
    const res = await pagerDuty(body);
    expect([200, 400], await res.text()).toContain(res.status);
    expect(calls).toEqual([]);
  });

  it.each([
    'payload=5',
    'payload=null',
    'payload=%5B%5D',
    'payload=%22x%22',
    'payload=%7B%7D',
    'payload=%7B%22type%22%3A5%7D',
    'payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A5%7D',
    `payload=${encodeURIComponent('{"type":"view_submission"}')}`,
  ])('Slack %s: 400, or accepted and dropped without an error', async (body) => {
    const before = capture.lines.length;
    const res = await slack(body);
    expect([200, 400]).toContain(res.status);
    await sleep(200);
    expect(capture.lines.slice(before).filter((l) => l.level === 'error')).toEqual([]);
    expect(calls).toEqual([]);
  });
});

describe('deeply nested JSON', () => {
  // Just under the body limit: half a megabyte of [ and of ]. JSON.parse would take seconds on the event loop.
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it('a signed PagerDuty body nesting deeper than 32 levels is refused with 400 before it is parsed', async () => {
    const started = performance.now();
    const res = await pagerDuty(`{"event":${deep(500_000)}}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe(
      'body nests arrays and objects deeper than 32 levels (at offset 40)',
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(calls).toEqual([]);
  });

  it('a signed Slack payload nesting deeper than 32 levels is refused with 400 before it is parsed', async () => {
    const res = await slack(`payload=${encodeURIComponent(`{"type":"block_actions","actions":${deep(100_000)}}`)}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe(
      'payload nests arrays and objects deeper than 32 levels (at offset 65)',
    );
    expect(calls).toEqual([]);
  });

  it('32 levels are fine; brackets inside strings do not count', async () => {
    const res = await pagerDuty(
      `{"event":{"event_type":"x","data":{"incident_key":"${'[{'.repeat(100)}\\\"["}},"n":${deep(30)}}`,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: 'ignored' });
  });
});
