/**
 * Runs a chaos plan: starts the world, changes the gauges and strikes the faults on the plan's timeline, clicks Ack
 * in Slack where the plan says, watches Redis and the API, and hands everything to the accounting.
 */
import { unlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { click } from '../../test/support/stand-ins/slack.js';
import {
  type Ack,
  type ChaosReport,
  type FaultWindow,
  type Records,
  type SeenIncident,
  account,
  ackRecorded,
  incidentOfBlocks,
  saveRecords,
  sloOfText,
} from './account.js';
import { type Episode, type PlannedFault, type Profile, makePlan, wipeWaitMs } from './plan.js';
import { sleep } from '../../src/util/async.js';
import { API_TOKEN, CHANNELS, REDIS_PREFIX, SIGNING_SECRET, World } from './world.js';

export interface ChaosOptions {
  say?: (line: string) => void;
  /** Keep the replicas' logs here, and what the run recorded (records.json, for `chaos --account`). */
  logDir?: string;
}

/** A ServiceLevels file that `validate` accepts on this branch but whose interval is 400 digits of seconds. */
function hugeIntervalFile(): string {
  return `apiVersion: sloe/v1
kind: ServiceLevels
service: chaos-huge
owner: reliability
escalation: chaos
interval: ${'9'.repeat(400)}s
dashboards: [{ id: chaos-huge, title: Chaos, owner: carol }]
slos:
  - { name: huge, signal: custom, dashboard: chaos-huge, query: "max(chaos_value)", objective: "< 50", alert: { when: "> 100" } }
`;
}

export async function runChaos(profile: Profile, options: ChaosOptions = {}): Promise<ChaosReport> {
  const plan = makePlan(profile);
  let startedAt = Date.now();
  const say = (line: string) =>
    (options.say ?? ((l: string) => process.stderr.write(`${l}\n`)))(
      `chaos ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s  ${line}`,
    );
  const world = new World(plan, say, options.logDir);
  const faults: FaultWindow[] = [];
  const acks: Ack[] = [];
  const incidents = new Map<string, SeenIncident>();
  const evaluations = new Map<string, number[]>(plan.slos.map((slo) => [slo, []]));
  const hostileRequests: Array<{ url: string; status: number | string }> = [];
  // The machine's load through the run: a run on a loaded machine is recognisable as one.
  const load: Array<[number, number]> = [];
  const timers: NodeJS.Timeout[] = [];
  let done = false;
  let probe: Redis | undefined;
  say(
    `plan: ${plan.episodes.length} episodes, ${plan.faults.length} faults over ${Math.round(plan.endMs / 1000)} s, ${profile.replicas} replicas`,
  );
  try {
    await world.start();
    const startup = Date.now() - startedAt;
    startedAt = Date.now();
    say(
      `world up in ${(startup / 1000).toFixed(1)} s: Redis ${world.redis.url}, Prometheus :${world.prometheusPort}, replicas on ${world.replicas.map((r) => r.port).join(', ')}`,
    );
    const at = (ms: number, what: () => Promise<void> | void) => {
      timers.push(
        setTimeout(
          () =>
            void Promise.resolve()
              .then(what)
              .catch((e: Error) => say(`error: ${e.message}`)),
          Math.max(0, startedAt + ms - Date.now()),
        ),
      );
    };
    for (const g of plan.gauges) at(g.at, () => world.setGauge(g.slo, g.bad));
    for (const e of plan.episodes)
      if (e.kind !== 'raise')
        at(e.start, () => say(`${e.id}: ${e.kind} ${e.slo} (${e.fault}${e.ack ? ', to be acknowledged' : ''})`));
    for (const f of plan.faults) at(f.at, () => strike(world, f, faults, hostileRequests, say));

    // Watchers: evaluations as Redis stores them, incidents as the API shows them, and the Ack clicks.
    probe = new Redis(world.redis.url, {
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      enableOfflineQueue: false,
      retryStrategy: () => 200,
    });
    probe.on('error', () => undefined);
    const watch = async (everyMs: number, what: () => Promise<void>) => {
      while (!done) {
        await what().catch(() => undefined);
        await sleep(everyMs);
      }
    };
    const watchers = [
      watch(Math.max(200, (profile.intervalS * 1000) / 4), () => pollEvaluations(probe!, plan.slos, evaluations)),
      watch(1000, () => pollIncidents(world, incidents)),
      watch(200, () => clickAcks(world, plan.episodes, startedAt, profile, acks, say)),
      watch(5000, async () => void load.push([Date.now(), loadavg()[0]!])),
    ];

    await sleep(startedAt + plan.endMs - Date.now());
    // The watchers stop; faults still under way (a kill still waiting for its held request) end with the run.
    done = true;
    for (const t of timers) clearTimeout(t);
    await Promise.race([Promise.all(watchers), sleep(3000)]);
    await pollIncidents(world, incidents).catch(() => undefined);
    const endedAt = Date.now();
    say('run over: accounting');
    const records: Records = {
      plan,
      startedAt,
      endedAt,
      slackCalls: world.slack.calls,
      pagerDutyRequests: world.pagerduty.requests,
      incidents,
      evaluations,
      faults,
      acks,
      unexpectedExits: world.unexpectedExits,
      refusedStarts: world.refusedStarts,
      neverReady: world.neverReady,
      hostileRequests,
      load,
      cpus: cpus().length,
    };
    if (options.logDir) await writeFile(join(options.logDir, 'records.json'), saveRecords(records));
    return account(records);
  } finally {
    done = true;
    for (const t of timers) clearTimeout(t);
    probe?.disconnect();
    const stopping = Date.now();
    await world.stop().catch((e: Error) => say(`stopping: ${e.message}`));
    say(`world stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
  }
}

/** Carries out one fault, recording when it struck and for how long. */
async function strike(
  world: World,
  f: PlannedFault,
  windows: FaultWindow[],
  hostile: Array<{ url: string; status: number | string }>,
  say: (l: string) => void,
): Promise<void> {
  const p = world.profile;
  const s = 1000;
  const window = (start: number, note?: string) =>
    windows.push({ kind: f.kind, start, end: Date.now(), ...(f.slo ? { slo: f.slo } : {}), ...(note ? { note } : {}) });
  const start = Date.now();
  const about = (text: unknown) => sloOfText(String(text ?? '')) === f.slo;
  switch (f.kind) {
    case 'kill-mid-slack':
    case 'kill-mid-pagerduty': {
      const slack = f.kind === 'kill-mid-slack';
      // The request is lost with its sender: the stand-in acts on it only if it is released, and it is dropped.
      if (slack)
        world.slack.hold('chat.postMessage', { match: (args) => !args.thread_ts && about(args.text), mode: 'request' });
      else world.pagerduty.hold((e) => e.event_action === 'trigger' && about(e.payload.summary), 1, 'request');
      const wait = (p.forS + 3 * p.intervalS + (slack ? 0 : p.pagerDutyAfterS) + 30) * s;
      const held = await (slack ? world.slack.nextHeld(wait) : world.pagerduty.nextHeld(wait)).catch(() => undefined);
      if (!held) return void window(start, 'the delivery never came');
      const replica = await world.replicaOfConnection(held.remotePort, slack ? world.slack.port : world.pagerduty.port);
      if (!replica) {
        held.drop();
        return void window(start, 'could not tell which replica sent it');
      }
      say(
        `${f.kind}: SIGKILL replica ${replica.index + 1} while its ${slack ? 'Slack post' : 'PagerDuty trigger'} for ${f.slo} is in flight`,
      );
      await world.stopReplica(replica, 'SIGKILL');
      held.drop();
      window(Date.now(), `replica ${replica.index + 1}`);
      await sleep(p.replicaDownS * s);
      await world.startReplica(replica);
      return;
    }
    case 'replica-restart': {
      const replica = world.replicas[world.replicas.length - 1]!;
      say(`replica-restart: SIGTERM replica ${replica.index + 1}, start again in ${p.replicaDownS}s`);
      await world.stopReplica(replica, 'SIGTERM');
      await sleep(p.replicaDownS * s);
      await world.startReplica(replica);
      return void window(start, `replica ${replica.index + 1}`);
    }
    case 'slack-errors': {
      say('slack-errors: chat.postMessage answers 500, 500, then 429 (Retry-After) twice');
      world.slack.fail('chat.postMessage', 500, 500);
      world.slack.rateLimit('chat.postMessage', 2, Math.max(1, Math.round(p.intervalS / 2)));
      return void window(start);
    }
    case 'pagerduty-errors': {
      say(`pagerduty-errors: the Events API answers 500, 429${p.pagerDutyTimeout ? ', then no answer (timeout)' : ''}`);
      world.pagerduty.answer(500, 429);
      if (p.pagerDutyTimeout) {
        world.pagerduty.hold((e) => e.event_action === 'trigger' && about(e.payload.summary));
        const held = await world.pagerduty.nextHeld((p.forS + p.pagerDutyAfterS + 60) * s).catch(() => undefined);
        // sloe gives up waiting after 10 s; the connection is closed some time after that.
        await sleep(15 * s);
        held?.drop();
      }
      return void window(start);
    }
    case 'redis-pause': {
      say(`redis-pause: Redis stopped (SIGSTOP) for ${p.redisPauseS}s`);
      world.redis.pause();
      await sleep(p.redisPauseS * s);
      world.redis.resume();
      return void window(start);
    }
    case 'redis-restart':
    case 'redis-restart-empty': {
      const wipe = f.kind === 'redis-restart-empty';
      if (wipe && !(await world.replicasSteady(wipeWaitMs(p))))
        say(`${f.kind}: not every replica is up; emptying Redis anyway`);
      say(`${f.kind}: Redis killed and started again ${wipe ? 'WITHOUT its data' : 'with its data'}`);
      await world.redis.restart({ wipe });
      return void window(start);
    }
    case 'reload-invalid': {
      // A request with a malformed percent-encoding, to one replica (as a load balancer would pass it on).
      const url = world.liveUrls()[0];
      if (url) {
        const target = `${url}/api/incidents/%E0%A4%A`;
        say(`reload-invalid: GET ${target.slice(url.length)} to one replica`);
        const status = await fetch(target, {
          headers: { authorization: `Bearer ${API_TOKEN}` },
          signal: AbortSignal.timeout(5000),
        }).then(
          (r) => r.status,
          (e: Error) => `error: ${e.message}`,
        );
        hostile.push({ url: target, status });
      }
      // Invalid files, picked up by the file watch and by SIGHUP: each must be refused, the last good config kept.
      for (const [name, text, what] of [
        ['broken.yaml', 'apiVersion: sloe/v1\nkind: ServiceLevels\nservice: [unclosed\n', 'an unparsable file'],
        ['huge-interval.yaml', hugeIntervalFile(), 'a file whose interval is 400 digits of seconds'],
      ] as const) {
        const file = join(world.slosDir, name);
        say(`reload-invalid: ${what} in slos/`);
        await writeFile(file, text);
        await sleep(500);
        await world.hangUpReplicas();
        await sleep(p.invalidFileS * s);
        await unlink(file);
        await world.hangUpReplicas();
        await sleep(s);
      }
      return void window(start);
    }
    case 'prometheus-down': {
      say(`prometheus-down: Prometheus stopped for ${p.prometheusDownS}s`);
      await world.stopPrometheus();
      await sleep(p.prometheusDownS * s);
      await world.startPrometheus(true);
      say('prometheus-down: Prometheus back');
      return void window(start);
    }
  }
}

async function pollEvaluations(redis: Redis, slos: string[], seen: Map<string, number[]>): Promise<void> {
  const values = await Promise.all(
    slos.map((slo) => redis.hget(`${REDIS_PREFIX}:state:${slo}`, 'evaluatedAt').catch(() => null)),
  );
  slos.forEach((slo, i) => {
    const v = Number(values[i]);
    const list = seen.get(slo)!;
    if (v > 0 && list[list.length - 1] !== v) list.push(v);
  });
}

interface ApiIncident {
  id: string;
  sloId: string;
  severity: string;
  reason: string;
  status: string;
  firedAt: string;
  acknowledgedAt?: string;
  resolvedAt?: string;
}

async function pollIncidents(world: World, seen: Map<string, SeenIncident>): Promise<void> {
  const urls = world.liveUrls();
  const url = urls[Math.floor(Math.random() * urls.length)];
  if (!url) return;
  const res = await fetch(`${url}/api/incidents?limit=1000`, {
    headers: { authorization: `Bearer ${API_TOKEN}` },
    signal: AbortSignal.timeout(3000),
  });
  if (!res.ok) return;
  const body = (await res.json()) as { incidents: ApiIncident[] };
  const t = (v: string | undefined) => (v ? Date.parse(v) : undefined);
  for (const i of body.incidents) {
    const acknowledgedAt = t(i.acknowledgedAt);
    const resolvedAt = t(i.resolvedAt);
    seen.set(i.id, {
      id: i.id,
      sloId: i.sloId,
      severity: i.severity,
      reason: i.reason,
      status: i.status,
      firedAt: Date.parse(i.firedAt),
      ...(acknowledgedAt ? { acknowledgedAt } : {}),
      ...(resolvedAt ? { resolvedAt } : {}),
    });
  }
}

/** Clicks Ack (signed, as Slack does) on the first message of each episode the plan acknowledges. */
async function clickAcks(
  world: World,
  episodes: Episode[],
  startedAt: number,
  p: Profile,
  acks: Ack[],
  say: (l: string) => void,
): Promise<void> {
  const now = Date.now();
  for (const e of episodes) {
    // Clicked already and recorded, or clicked less than two seconds ago (a click that failed — its replica went
    // away, or sloe said it was NOT recorded — is clicked again after that).
    if (!e.ack || acks.some((a) => a.episode === e.id && (a.at > now - 2000 || ackRecorded(world.slack.calls, a))))
      continue;
    if (now < startedAt + e.start) continue;
    const channel = e.kind === 'nodata' ? CHANNELS.ticket : CHANNELS.page;
    const post = world.slack.calls.find(
      (c) =>
        c.method === 'chat.postMessage' &&
        !c.args.thread_ts &&
        c.args.channel === channel &&
        c.at >= startedAt + e.start &&
        sloOfText(String(c.args.text ?? '')) === e.slo,
    );
    const incidentId = post && incidentOfBlocks(post.args.blocks);
    if (!post || !incidentId || now < post.at + p.ackDelayS * 1000) continue;
    const url = world.liveUrls()[0];
    if (!url) continue;
    const res = await click(url, {
      action: 'sloe_ack',
      incidentId,
      secret: SIGNING_SECRET,
      user: { id: 'U0CAROL', username: 'carol' },
    }).catch((err: Error) => ({ status: 0, body: err.message }));
    acks.push({ episode: e.id, incidentId, at: Date.now(), status: res.status });
    say(`${e.id}: Ack clicked on ${e.slo} (${incidentId}): HTTP ${res.status}`);
  }
}
