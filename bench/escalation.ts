/**
 * Benchmark: escalation latency of `sloe run` against the Slack and PagerDuty stand-ins the tests use. 20 SLO
 * instances breach one by one (one every 4 s: within Slack's pace of about a message a second per channel, each
 * incident making three), then 150 at once (a storm); measured: firing → Slack post received, each step's lateness
 * against firedAt + after (Slack now, PagerDuty after 3s, Slack again after 6s), the storm's top-level Slack posts
 * per channel and its PagerDuty trigger latency, and 170 signed Ack clicks sent at once.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { globalAgent } from 'node:https';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Exporter } from '../src/local/exporter.js';
import { freePort } from '../src/local/process.js';
import { startPrometheus } from '../src/local/prometheus.js';
import { startRedis } from '../src/local/redis.js';
import { spawnSloe } from '../test/support/process.js';
import { PagerDutyStandIn } from '../test/support/stand-ins/pagerduty.js';
import { SlackStandIn } from '../test/support/stand-ins/slack.js';
import { makeTestCa } from '../test/support/tls.js';
import { sleep } from '../src/util/async.js';
import { STORM } from '../src/escalation/slack/storm.js';
import { profileFlags } from './proc.js';

/** The bearer token of sloe's API for this run. */
const API_TOKEN = randomBytes(16).toString('hex');

const ROOT = join(import.meta.dirname, '..');
/** Incidents that fire one by one, SPREAD_EVERY_MS apart; then STORM_SIZE fire together. */
const SPREAD = 20;
const SPREAD_EVERY_MS = 4000;
const STORM_SIZE = 150;
const LANES = SPREAD + STORM_SIZE;
/** Slack answers 429 (Retry-After: 1) to this many messages during the storm. */
const STORM_429 = 3;
const log = (line: string) => process.stderr.write(`bench escalation: ${line}\n`);

/** The p-th percentile (0–100) of some numbers, nearest rank. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

const SLO = `apiVersion: sloe/v1
kind: EscalationPolicy
name: bench
page:
  - { notify: slack, channel: "#bench" }
  - { after: 3s, notify: pagerduty, routingKey: "\${PAGERDUTY_ROUTING_KEY}" }
  - { after: 6s, notify: slack, channel: "#bench-escalations" }
---
apiVersion: sloe/v1
kind: ServiceLevels
service: bench
owner: sre
escalation: bench
interval: 1s
dashboards: [{ id: lanes, owner: sre-lead }]
slos:
  - name: lane-depth
    signal: queue_depth
    dashboard: lanes
    query: max by (lane) (bench_lane_depth)
    maxSeries: ${LANES}
    alert: { when: "> 200", resolveAfter: 1m }
`;

/** Clicks from a separate process: the stand-ins in this one are busy with the updates the clicks cause. */
function clickBurst(url: string, secret: string, ids: string[]): Promise<Array<{ status: number; ms: number }>> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
        join(ROOT, 'bench', 'click-burst.ts'),
        url,
        secret,
        ...ids,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as Array<{ status: number; ms: number }>)
        : reject(new Error(`click-burst exited ${code}`)),
    );
  });
}

export async function benchEscalation(): Promise<Record<string, number | string>> {
  const dir = await mkdtemp(join(tmpdir(), 'sloe-bench-esc-'));
  const ca = makeTestCa();
  globalAgent.options.ca = [ca.ca];
  const slack = new SlackStandIn('xoxb-bench');
  const pagerduty = new PagerDutyStandIn(ca, 'RKBENCH');
  const exporter = new Exporter();
  const lanes = exporter.gauge('bench_lane_depth', ['lane']);
  for (let i = 0; i < LANES; i++) lanes.set({ lane: `l${i}` }, 10);
  const target = await exporter.start();
  await Promise.all([slack.start(), pagerduty.start()]);
  const [redis, prometheus] = await Promise.all([
    startRedis(),
    startPrometheus({ scrape: { targets: [target], interval: '1s' } }),
  ]);
  const port = await freePort();
  await mkdir(join(dir, 'slos'));
  await writeFile(join(dir, 'slos', 'bench.yaml'), SLO);
  const sloe = spawnSloe(
    ['run', join(dir, 'slos')],
    {
      REDIS_URL: redis.url,
      PROMETHEUS_URL: prometheus.url,
      SLOE_REDIS_PREFIX: 'bench-escalation',
      SLOE_API_TOKEN: API_TOKEN,
      LOG_LEVEL: 'info',
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_SIGNING_SECRET: 'bench-secret',
      SLACK_API_URL: slack.url,
      PAGERDUTY_ROUTING_KEY: 'RKBENCH',
      PAGERDUTY_EVENTS_SERVER: pagerduty.server_,
      NODE_EXTRA_CA_CERTS: ca.caFile,
    },
    port,
    profileFlags(),
  );
  try {
    await sloe.waitFor('ready', (l) => l.event === 'ready', 30_000);
    await sleep(3000);
    const lastSteps = () => slack.of('chat.postMessage').filter((c) => c.args.channel === '#bench-escalations').length;
    const waitFor = async (what: string, done: () => boolean | Promise<boolean>, ms = 60_000) => {
      const deadline = Date.now() + ms;
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000}s`);
        await sleep(200);
      }
    };
    // Independent incidents: one lane breaches every SPREAD_EVERY_MS.
    log(`${SPREAD} incidents, one every ${SPREAD_EVERY_MS} ms`);
    for (let i = 0; i < SPREAD; i++) {
      lanes.set({ lane: `l${i}` }, 500);
      await sleep(SPREAD_EVERY_MS);
    }
    await waitFor(`${SPREAD} incidents reaching their last step`, () => lastSteps() >= SPREAD);
    await sleep(10_000);
    // A storm: the other lanes breach together; Slack rate-limits a few of its messages.
    log(`${STORM_SIZE} incidents at once`);
    const stormAt = Date.now();
    slack.rateLimit('chat.postMessage', STORM_429, 1);
    for (let i = SPREAD; i < LANES; i++) lanes.set({ lane: `l${i}` }, 500);
    const triggers = () =>
      pagerduty.requests.filter((r) => r.status === 202 && r.event.event_action === 'trigger').length;
    await waitFor(`${LANES} PagerDuty triggers`, () => triggers() >= LANES);
    // Every Slack step of the storm's incidents done: posted, or in its channel's summary (a 429 tried again).
    const stormIds = async () => {
      const all = (await (
        await fetch(`http://127.0.0.1:${port}/api/incidents?limit=1000`, {
          headers: { authorization: `Bearer ${API_TOKEN}` },
        })
      ).json()) as { incidents: Array<{ id: string; labels: Record<string, string> }> };
      return all.incidents.filter((i) => Number(i.labels.lane!.slice(1)) >= SPREAD).map((i) => i.id);
    };
    const undone = async () => {
      const audits = await Promise.all(
        (await stormIds()).map(
          async (id) =>
            (
              (await (
                await fetch(`http://127.0.0.1:${port}/api/incidents/${id}`, {
                  headers: { authorization: `Bearer ${API_TOKEN}` },
                })
              ).json()) as { audit: Array<{ type: string; step?: string }> }
            ).audit,
        ),
      );
      return (
        STORM_SIZE -
        audits.filter((a) => ['page.0', 'page.2'].every((step) => a.some((e) => e.type === 'step' && e.step === step)))
          .length
      );
    };
    let slackStepsUndone = STORM_SIZE;
    await waitFor('every Slack step of the storm done', async () => (slackStepsUndone = await undone()) === 0).catch(
      (e: Error) => log(e.message),
    );
    const stormSlackDoneS = (Date.now() - stormAt) / 1000;
    await sleep(STORM.refreshMs * 2);
    for (const c of slack.of('chat.postMessage').filter((c) => !c.args.thread_ts && c.at >= stormAt))
      log(`top-level post +${c.at - stormAt} ms in ${String(c.args.channel)}: ${String(c.args.text).slice(0, 70)}`);
    const summaries = (channel: string) =>
      [...slack.of('chat.postMessage'), ...slack.of('chat.update')]
        .filter((c) => String(c.args.text).includes(`more incidents in ${channel}`))
        .sort((a, b) => a.at - b.at);
    const lastSummary = (channel: string) => String(summaries(channel).at(-1)?.args.text ?? '').split(' ')[0];

    // Fired: the incidents' firedAt (the evaluation instant) from sloe's API; delivered: when the stand-ins received each step.
    const listed = (await (
      await fetch(`http://127.0.0.1:${port}/api/incidents?limit=1000`, {
        headers: { authorization: `Bearer ${API_TOKEN}` },
      })
    ).json()) as { incidents: Array<{ id: string; labels: Record<string, string>; firedAt: string }> };
    const fired = new Map(listed.incidents.map((i) => [i.labels.lane!, Date.parse(i.firedAt)]));
    const laneOf = (text: unknown) => /lane="(l\d+)"/.exec(String(text))?.[1] ?? '';
    const spread = (lane: string) => Number(lane.slice(1)) < SPREAD;
    // The storm on each channel: its top-level posts (the incidents it took, then its one summary) in the busiest
    // minute; every Slack step of the storm's incidents recorded as done (a 429 retried after its Retry-After).
    const perMinute = (channel: string) => {
      const times = slack
        .of('chat.postMessage')
        .filter((c) => c.args.channel === channel && !c.args.thread_ts && c.at >= stormAt)
        .map((c) => c.at)
        .sort((a, b) => a - b);
      return Math.max(0, ...times.map((t, i) => times.filter((u, j) => j >= i && u < t + 60_000).length));
    };
    const pagerdutyLate: number[] = [];
    const toSlack = { spread: [] as number[], storm: [] as number[] };
    const stepError = { spread: [] as number[], storm: [] as number[] };
    for (const c of slack.of('chat.postMessage')) {
      if (c.args.thread_ts) continue;
      const lane = laneOf(c.args.text);
      const firedAt = fired.get(lane);
      if (firedAt === undefined) continue;
      const group = spread(lane) ? 'spread' : 'storm';
      const after = c.args.channel === '#bench' ? 0 : 6000;
      if (after === 0) toSlack[group].push(c.at - firedAt);
      stepError[group].push(c.at - firedAt - after);
    }
    for (const r of pagerduty.requests) {
      const lane = laneOf(r.event.payload.summary);
      const firedAt = fired.get(lane);
      if (firedAt === undefined) continue;
      stepError[spread(lane) ? 'spread' : 'storm'].push(r.at - firedAt - 3000);
      if (!spread(lane) && r.event.event_action === 'trigger') pagerdutyLate.push(r.at - firedAt - 3000);
    }
    log(
      `${fired.size} incidents, ${stepError.spread.length + stepError.storm.length} steps; ${fired.size} Ack clicks at once`,
    );
    const clicks = await clickBurst(
      `http://127.0.0.1:${port}`,
      'bench-secret',
      listed.incidents.map((i) => i.id),
    );
    const round = (x: number) => Number(x.toFixed(1));
    const p = (xs: number[], q: number) => round(percentile(xs, q));
    return {
      incidents: fired.size,
      slack_post_after_firing_p50_ms: p(toSlack.spread, 50),
      slack_post_after_firing_p99_ms: p(toSlack.spread, 99),
      step_timing_error_p50_ms: p(stepError.spread, 50),
      step_timing_error_p99_ms: p(stepError.spread, 99),
      steps_measured: stepError.spread.length,
      storm_incidents_at_once: LANES - SPREAD,
      storm_slack_post_after_firing_p50_ms: p(toSlack.storm, 50),
      storm_slack_post_after_firing_p99_ms: p(toSlack.storm, 99),
      storm_step_timing_error_p99_ms: p(stepError.storm, 99),
      storm_top_level_posts_per_min_bench: perMinute('#bench'),
      storm_top_level_posts_per_min_escalations: perMinute('#bench-escalations'),
      storm_top_level_posts_bound: STORM.admit + 1,
      storm_slack_429: slack.calls.filter((c) => c.method === 'chat.postMessage (429)').length,
      storm_slack_steps_not_done: slackStepsUndone,
      storm_slack_steps_done_after_s: round(stormSlackDoneS),
      storm_summary_counts: `#bench ${lastSummary('#bench')}, #bench-escalations ${lastSummary('#bench-escalations')}`,
      storm_pagerduty_trigger_p50_ms: p(pagerdutyLate, 50),
      storm_pagerduty_trigger_p99_ms: p(pagerdutyLate, 99),
      ack_clicks_at_once: clicks.length,
      ack_clicks_failed: clicks.filter((c) => c.status !== 200).length,
      ack_answer_p50_ms: p(
        clicks.map((c) => c.ms),
        50,
      ),
      ack_answer_p99_ms: p(
        clicks.map((c) => c.ms),
        99,
      ),
      targets: `slack p99 < 1000 ms, step error p99 < 1000 ms, storm: top-level posts per channel <= ${STORM.admit + 1}, Slack steps not done 0, PagerDuty trigger p99 < 1000 ms; ack p99 < 100 ms`,
    };
  } finally {
    sloe.kill('SIGTERM');
    await sloe.exited;
    await Promise.allSettled([redis.stop(), prometheus.stop(), exporter.stop(), slack.stop(), pagerduty.stop()]);
    await rm(dir, { recursive: true, force: true });
    await rm(ca.dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchEscalation());
}
