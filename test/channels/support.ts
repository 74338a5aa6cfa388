/** An engine wired to Slack and PagerDuty stand-ins the way `sloe run` wires the real ones (channelsFromEnv). */
import { globalAgent } from 'node:https';
import { afterAll, beforeAll } from 'vitest';
import { channelsFromEnv } from '../../src/escalation/channels.js';
import type { WorkerTuning } from '../../src/scheduler/queues.js';
import { ENGINE_TEST_TUNING, type useStack, startEngine, writeSlos } from '../support/engine.js';
import { PagerDutyStandIn } from '../support/stand-ins/pagerduty.js';
import { SlackStandIn } from '../support/stand-ins/slack.js';
import { type TestCa, makeTestCa } from '../support/tls.js';

export const SLACK_TOKEN = 'xoxb-test-token';
export const SIGNING_SECRET = 'slack-signing-secret';
export const ROUTING_KEY = 'R0UTINGKEY0000000000000000000001';
export const WEBHOOK_SECRET = 'pagerduty-webhook-secret';
export const API_TOKEN = 'pd-api-token';

/** The steps of channelSlo's policy: Slack now, PagerDuty after 2s, on-call (alice) after 4s, Slack again after 10s. */
const CHANNEL_STEPS = `page:
  - notify: slack
    channel: "#ai-alerts"
  - after: 2s
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}
    severity: critical
  - after: 4s
    notify: oncall
    schedule: ai-primary
  - after: 10s
    notify: slack
    channel: "#ai-escalations"`;

/** A policy's body: Slack (#ai-alerts) at once, PagerDuty `after` later; `extra` (group:, responders:) comes first. */
export function slackThenPagerDuty(after: string, extra = ''): string {
  return `${extra ? `${extra}\n` : ''}page:
  - notify: slack
    channel: "#ai-alerts"
  - after: ${after}
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}`;
}

/** Queue depth over 200 for 2s pages, escalated by `steps` (the body of the policy; CHANNEL_STEPS by default). */
export function channelSlo(query = 'max(demo_queue_depth)', extra = '', steps = CHANNEL_STEPS): string {
  return `apiVersion: sloe/v1
kind: EscalationPolicy
name: ai-default
${steps}
---
apiVersion: sloe/v1
kind: OnCallSchedule
name: ai-primary
timezone: Europe/Berlin
rotation: { every: 1w, start: "2026-01-05T09:00" }
members:
  - { name: alice, slack: U01ALICE, pagerduty: PALICE1, email: alice@example.com }
---
apiVersion: sloe/v1
kind: ServiceLevels
service: it-support-assistant
owner: ai-platform
escalation: ai-default
interval: 1s
dashboards:
  - { id: golden, title: Assistant golden signals, url: "https://grafana.example.com/d/golden", owner: alice }
slos:
  - name: approval-queue-depth
    signal: queue_depth
    dashboard: golden
    runbook: https://wiki.example.com/runbooks/approvals
    query: ${query}
    objective: "< 50"
    alert: { when: "> 200", for: 2s, resolveAfter: 2s }
${extra}`;
}

export interface Channels {
  ca: TestCa;
  slack: SlackStandIn;
  pagerduty: PagerDutyStandIn;
  env: NodeJS.ProcessEnv;
}

/** Starts the stand-ins for the file; the PagerDuty one speaks HTTPS with a test CA this process trusts. */
export function useChannels(): Channels {
  const ctx = {} as Channels;
  beforeAll(async () => {
    ctx.ca = makeTestCa();
    // pdjs fetches through node-fetch, which uses the global HTTPS agent: trust the test CA there.
    globalAgent.options.ca = [ctx.ca.ca];
    ctx.slack = new SlackStandIn(SLACK_TOKEN);
    ctx.pagerduty = new PagerDutyStandIn(ctx.ca, ROUTING_KEY);
    await Promise.all([ctx.slack.start(), ctx.pagerduty.start()]);
    ctx.env = {
      SLACK_BOT_TOKEN: SLACK_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: ctx.slack.url,
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_SERVER: ctx.pagerduty.server_,
      PAGERDUTY_API_SERVER: ctx.pagerduty.server_,
      PAGERDUTY_API_TOKEN: API_TOKEN,
      PAGERDUTY_WEBHOOK_SECRET: WEBHOOK_SECRET,
    };
  });
  afterAll(async () => {
    await Promise.all([ctx.slack?.stop(), ctx.pagerduty?.stop()]);
  });
  return ctx;
}

/** Forgets what the stand-ins recorded, before a test. */
export function resetStandIns(channels: Channels): void {
  channels.slack.calls.length = 0;
  channels.pagerduty.requests.length = 0;
  channels.pagerduty.rest.length = 0;
  channels.pagerduty.incidents.clear();
}

/** An engine with real channels on the stack. */
export async function engineWithChannels(
  stackCtx: ReturnType<typeof useStack>,
  channels: Channels,
  slo = channelSlo(),
  options: { tuning?: Partial<WorkerTuning>; env?: NodeJS.ProcessEnv } = {},
) {
  const env = { ...channels.env, ...options.env };
  const setup = channelsFromEnv(env);
  const paths = [await writeSlos(stackCtx.stack.dir, slo)];
  const started = await startEngine(stackCtx.stack, paths, {
    env,
    channels: setup.channels,
    routes: setup.routes,
    tuning: { ...ENGINE_TEST_TUNING, ...options.tuning },
  });
  stackCtx.engines.push(started.engine);
  return { ...started, url: `http://127.0.0.1:${started.engine.port}` };
}
