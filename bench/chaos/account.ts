/**
 * The chaos run's accounting: what the plan meant to happen against what the Slack and PagerDuty stand-ins
 * received, what the API showed of the incidents, and how often Redis saw each SLO evaluated. sloe's own logs are
 * not an input: a step counts as delivered only when the stand-in of its channel received it.
 */
import { parseDedupKey } from '../../src/escalation/pagerduty/pagerduty-channel.js';
import type { PagerDutyEvent } from '../../test/support/stand-ins/pagerduty.js';
import type { SlackCall } from '../../test/support/stand-ins/slack.js';
import type { Episode, FaultKind, Plan } from './plan.js';
import { CHANNELS } from './world.js';

/** An incident as the API showed it, last seen. */
export interface SeenIncident {
  id: string;
  sloId: string;
  severity: string;
  reason: string;
  status: string;
  firedAt: number;
  acknowledgedAt?: number;
  resolvedAt?: number;
}

export interface FaultWindow {
  kind: FaultKind;
  start: number;
  end: number;
  slo?: string;
  note?: string;
}

export interface Ack {
  episode: string;
  incidentId: string;
  at: number;
  status: number;
}

export interface Records {
  plan: Plan;
  /** Epoch ms of the plan's time 0. */
  startedAt: number;
  endedAt: number;
  slackCalls: readonly SlackCall[];
  pagerDutyRequests: ReadonlyArray<{ status: number; event: PagerDutyEvent; at: number; held?: boolean }>;
  incidents: ReadonlyMap<string, SeenIncident>;
  /** Per SLO, each distinct `evaluatedAt` Redis held, in the order seen. */
  evaluations: ReadonlyMap<string, number[]>;
  faults: readonly FaultWindow[];
  acks: readonly Ack[];
  unexpectedExits: ReadonlyArray<{
    replica: number;
    at: number;
    code: number | null;
    signal: string | null;
    last: string[];
  }>;
  refusedStarts: ReadonlyArray<{ replica: number; at: number; reason: string }>;
  /** Replica processes that ran for a minute without becoming ready. */
  neverReady?: ReadonlyArray<{ replica: number; at: number }>;
  hostileRequests: ReadonlyArray<{ url: string; status: number | string }>;
  /** The machine's 1-minute load average, sampled through the run: [epoch ms, load]. */
  load?: ReadonlyArray<[number, number]>;
  /** CPUs of the machine. */
  cpus?: number;
}

interface StepSpec {
  key: string;
  notify: 'slack' | 'pagerduty';
  channel?: string;
  afterMs: number;
}

export interface EpisodeReport {
  id: string;
  slo: string;
  kind: Episode['kind'];
  fault: FaultKind;
  incidents: string[];
  /** How many incidents the episode should open: 1; 2 when Redis lost its data mid-incident (it fires again). */
  incidentsExpected: number;
  /** A raise episode: whether the acknowledged no-data ticket was raised, or a page opened anew (it had resolved). */
  raise?: 'raised' | 'opened' | 'none';
  ackedAt?: string;
  expected: string[];
  delivered: string[];
  lost: string[];
  /** Accepted PagerDuty trigger events per dedup key (one key per arming of an incident: `sloe-<id>[.<n>]`). */
  pagerDutyTriggers: Record<string, number>;
  /** Top-level posts per channel. */
  slackTopLevelPosts: Record<string, number>;
  /** Top-level posts of one incident in one channel beyond the first. */
  slackDuplicates: number;
  pagesAfterAck: number;
}

export interface Invariant {
  name: string;
  ok: boolean;
  value: number;
  detail?: string;
}

export interface ChaosReport {
  profile: string;
  minutes: number;
  replicas: number;
  figures: {
    incidents_expected: number;
    incidents_opened: number;
    incidents_unplanned: number;
    /** Incidents opened beyond what the episodes should open. */
    incidents_extra: number;
    /** Incidents opened again after Redis lost its data (as documented: they fire again once). */
    incidents_refired_after_data_loss: number;
    /** The raise episode: the acknowledged ticket raised to a page, or a page opened anew. */
    raise: string;
    steps_expected: number;
    steps_delivered: number;
    steps_lost: number;
    pagerduty_triggers_per_incident: Record<string, number>;
    pagerduty_incidents_not_exactly_one: number;
    /** Dedup keys (PagerDuty incidents) that got more than one answered, accepted trigger event. */
    pagerduty_keys_triggered_more_than_once: number;
    slack_top_level_duplicates: number;
    pages_after_ack: number;
    evaluation_gaps: number;
    evaluation_gaps_during_redis_faults: number;
    longest_evaluation_gap_s: number;
    nodata_tickets_expected: number;
    nodata_tickets_opened: number;
    unexpected_replica_exits: number;
    refused_starts: number;
    replicas_never_ready: number;
    acks_sent: number;
    /** Clicks answered 200 whose user was told the Ack was NOT recorded (Redis could not store it in time); clicked again. */
    acks_not_recorded: number;
    cpus: number;
    load_average_1m: { min: number; mean: number; max: number; samples: number };
  };
  invariants: Invariant[];
  episodes: EpisodeReport[];
  gaps: Array<{ slo: string; from: string; to: string; seconds: number; during?: string }>;
  faults: Array<{ kind: FaultKind; at_s: number; seconds: number; slo?: string; note?: string }>;
  unexpected_exits: Records['unexpectedExits'];
  refused_starts: Records['refusedStarts'];
  hostile_requests: Records['hostileRequests'];
}

/** The SLO id a Slack message or PagerDuty summary is about (`PAGE chaos/s1: …`, `[page] chaos/s1{…}: …`). */
export function sloOfText(text: string): string | undefined {
  return /^(?:\[\w+\]|[A-Z]+) ([\w-]+\/[\w-]+)[:{]/.exec(text)?.[1];
}

/** The incident id a Slack message carries in its buttons. */
export function incidentOfBlocks(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (const b of blocks as Array<{ block_id?: string }>) {
    const m = /^sloe_(.+)$/.exec(b.block_id ?? '');
    if (m) return m[1];
  }
  return undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Whether an Ack click was recorded: answered 200, and its user not told in an ephemeral message that it was NOT
 * recorded (sloe could not store it in time: Redis paused or away). That message follows the answer within moments.
 */
export function ackRecorded(calls: readonly SlackCall[], ack: Ack): boolean {
  if (ack.status !== 200) return false;
  const told = (words: string) =>
    calls.some(
      (c) =>
        c.method === 'chat.postEphemeral' &&
        c.at >= ack.at - 5000 &&
        c.at <= ack.at + 10_000 &&
        String(c.args.text ?? '').includes(`incident ${ack.incidentId} was ${words}`),
    );
  return !told('NOT recorded') || told('recorded after all');
}

/** Works out the figures and the invariants. */
export function account(r: Records): ChaosReport {
  const { plan, startedAt } = r;
  const p = plan.profile;
  const s = 1000;
  const page: StepSpec[] = [
    { key: 'page.0', notify: 'slack', channel: CHANNELS.page, afterMs: 0 },
    { key: 'page.1', notify: 'pagerduty', afterMs: p.pagerDutyAfterS * s },
    { key: 'page.2', notify: 'slack', channel: CHANNELS.escalate, afterMs: p.escalateAfterS * s },
  ];
  const ticket: StepSpec[] = [{ key: 'ticket.0', notify: 'slack', channel: CHANNELS.ticket, afterMs: 0 }];

  // What the stand-ins received, attributed to SLOs.
  const posts = r.slackCalls
    .filter((c) => c.method === 'chat.postMessage' && !c.args.thread_ts)
    .map((c) => ({
      at: c.at,
      channel: String(c.args.channel),
      slo: sloOfText(String(c.args.text ?? '')),
      incident: incidentOfBlocks(c.args.blocks),
    }));
  const triggers = r.pagerDutyRequests
    .filter((q) => q.status === 202 && q.event.event_action === 'trigger')
    .map((q) => ({
      at: q.at,
      key: q.event.dedup_key ?? '',
      incident: parseDedupKey(q.event.dedup_key)?.id,
      slo: sloOfText(q.event.payload.summary),
      held: q.held === true,
    }));
  const wipes = r.faults.filter((f) => f.kind === 'redis-restart-empty');

  // An episode's window: from its start to the next episode of the same SLO (or the end of the run). A no-data
  // episode's tickets are told apart from the raise that follows by their channel: its window runs on past the
  // raise's start, as Prometheus may come back (and the ticket fire) later than planned.
  const windows = new Map<string, [number, number]>();
  for (const e of plan.episodes) {
    const next = plan.episodes
      .filter((o) => o.slo === e.slo && o.start > e.start && !(e.kind === 'nodata' && o.kind === 'raise'))
      .map((o) => o.start);
    windows.set(e.id, [startedAt + e.start - s, next.length ? startedAt + Math.min(...next) : r.endedAt + s]);
  }
  const inWindow = (e: Episode, at: number) => {
    const [from, to] = windows.get(e.id)!;
    return at >= from && at < to;
  };

  const attributed = new Set<string>();
  const episodes: EpisodeReport[] = [];
  let pagesAfterAckTotal = 0;
  for (const e of plan.episodes) {
    const specs = e.kind === 'nodata' ? ticket : page;
    const ack = r.acks.find((a) => a.episode === e.id && ackRecorded(r.slackCalls, a));
    const myPosts = posts.filter(
      (x) =>
        x.slo === e.slo &&
        inWindow(e, x.at) &&
        (e.kind === 'nodata' ? x.channel === CHANNELS.ticket : x.channel !== CHANNELS.ticket),
    );
    const myTriggers = e.kind === 'nodata' ? [] : triggers.filter((x) => x.slo === e.slo && inWindow(e, x.at));
    const ids = new Set<string>();
    for (const x of myPosts) if (x.incident) ids.add(x.incident);
    for (const x of myTriggers) if (x.incident) ids.add(x.incident);
    for (const i of r.incidents.values()) {
      if (i.sloId !== e.slo || !inWindow(e, i.firedAt)) continue;
      const noData = i.reason !== 'breach' && i.severity === 'ticket';
      if ((e.kind !== 'nodata' && noData) || (e.kind === 'nodata' && !noData)) continue;
      ids.add(i.id);
    }
    // The raise episode is the no-data incident of the same SLO, raised: its incidents are those of the page posts.
    for (const id of ids) attributed.add(id);
    const firedAt = Math.min(
      ...[...ids].map((id) => r.incidents.get(id)?.firedAt ?? Infinity),
      ...myPosts.map((x) => x.at),
      ...(e.kind === 'raise' ? [startedAt + e.start + p.forS * s] : []),
    );
    const escalatedAt =
      e.kind === 'raise'
        ? Math.min(...myPosts.filter((x) => x.channel === CHANNELS.page).map((x) => x.at), Infinity)
        : firedAt;
    // A step is owed when it fell due while the incident had to be firing — before the breach (or the outage) had
    // been over for resolveAfter — and more than 2 s before an acknowledgement (one due just before may run just
    // after it, and be skipped). The first step is always owed (the Ack button is on its message); an episode that
    // never fired owes every step.
    const owedUntil = Math.min((ack?.at ?? Infinity) - 2 * s, startedAt + e.end + (p.resolveAfterS - 1) * s);
    const expected = specs
      .filter((spec) => !Number.isFinite(escalatedAt) || spec.afterMs === 0 || escalatedAt + spec.afterMs < owedUntil)
      .map((x) => x.key);
    const delivered: string[] = [];
    const slackTopLevelPosts: Record<string, number> = {};
    for (const spec of specs) {
      const got =
        spec.notify === 'slack' ? myPosts.filter((x) => x.channel === spec.channel).length : myTriggers.length;
      if (spec.notify === 'slack') slackTopLevelPosts[spec.channel!] = got;
      if (got > 0) delivered.push(spec.key);
    }
    const pagerDutyTriggers: Record<string, number> = {};
    for (const x of myTriggers) pagerDutyTriggers[x.key] = (pagerDutyTriggers[x.key] ?? 0) + 1;
    const perIncidentChannel = new Map<string, number>();
    for (const x of myPosts)
      if (x.incident)
        perIncidentChannel.set(
          `${x.incident} ${x.channel}`,
          (perIncidentChannel.get(`${x.incident} ${x.channel}`) ?? 0) + 1,
        );
    const slackDuplicates = [...perIncidentChannel.values()].reduce((n, c) => n + c - 1, 0);
    // Redis emptied while the episode's incident was open: sloe no longer knows it, and it fires again once.
    const [from, to] = windows.get(e.id)!;
    const wiped =
      e.kind === 'breach' && wipes.some((w) => w.start >= from && w.start < Math.min(to, startedAt + e.end));
    const own =
      e.kind === 'raise'
        ? [...ids].filter(
            (id) =>
              !plan.episodes.some(
                (o) =>
                  o.kind === 'nodata' && o.slo === e.slo && episodes.find((x) => x.id === o.id)?.incidents.includes(id),
              ),
          )
        : [...ids];
    const raise = e.kind === 'raise' ? (myPosts.length === 0 ? 'none' : own.length ? 'opened' : 'raised') : undefined;
    // A page is a PagerDuty trigger; one already under way when the click landed (2 s) is not counted.
    const pagesAfterAck = ack && e.kind !== 'raise' ? myTriggers.filter((x) => x.at > ack.at + 2 * s).length : 0;
    pagesAfterAckTotal += pagesAfterAck;
    episodes.push({
      id: e.id,
      slo: e.slo,
      kind: e.kind,
      fault: e.fault,
      incidents: [...ids],
      incidentsExpected: e.kind === 'raise' ? own.length : wiped ? 2 : 1,
      ...(raise ? { raise } : {}),
      ...(ack ? { ackedAt: iso(ack.at) } : {}),
      expected,
      delivered: delivered.filter((k) => expected.includes(k)),
      lost: expected.filter((k) => !delivered.includes(k)),
      pagerDutyTriggers,
      slackTopLevelPosts,
      slackDuplicates,
      pagesAfterAck,
    });
  }

  // Evaluation gaps: consecutive evaluations of an SLO (as stored in Redis) further apart than two intervals (with
  // a second of slack for a tick that starts late), and the time after the last one to the end of the run.
  const limit = 2 * p.intervalS * s + s;
  const excusing = r.faults.filter(
    (f) => f.kind === 'redis-pause' || f.kind === 'redis-restart' || f.kind === 'redis-restart-empty',
  );
  const grace = 2 * p.intervalS * s + 5 * s;
  const gaps: ChaosReport['gaps'] = [];
  for (const slo of plan.slos) {
    const seen = [...(r.evaluations.get(slo) ?? [])].sort((a, b) => a - b);
    const points = [startedAt, ...seen.filter((t) => t >= startedAt), r.endedAt - p.intervalS * s];
    for (let i = 1; i < points.length; i++) {
      const [from, to] = [points[i - 1]!, points[i]!];
      if (to - from <= limit) continue;
      // Excused by the Redis fault it overlaps most, if it ends within that fault's grace.
      const overlap = (f: FaultWindow) => Math.min(to, f.end + grace) - Math.max(from, f.start - p.intervalS * s);
      const during = excusing
        .filter((f) => overlap(f) > 0 && to <= f.end + grace)
        .sort((a, b) => overlap(b) - overlap(a))[0];
      gaps.push({
        slo,
        from: iso(from),
        to: iso(to),
        seconds: Math.round((to - from) / 100) / 10,
        ...(during ? { during: during.kind } : {}),
      });
    }
  }

  const allIds = new Set<string>([
    ...r.incidents.keys(),
    ...posts.flatMap((x) => (x.incident ? [x.incident] : [])),
    ...triggers.flatMap((x) => (x.incident ? [x.incident] : [])),
  ]);
  const stepsExpected = episodes.reduce((n, e) => n + e.expected.length, 0);
  const stepsLost = episodes.reduce((n, e) => n + e.lost.length, 0);
  const perIncident: Record<string, number> = {};
  for (const x of triggers) perIncident[x.key] = (perIncident[x.key] ?? 0) + 1;
  const pdWrong = episodes.filter(
    (e) => e.expected.includes('page.1') && Object.keys(e.pagerDutyTriggers).length !== 1,
  );
  const duplicates = episodes.reduce((n, e) => n + e.slackDuplicates, 0);
  // A trigger whose answer never came (held until the client gave up) is rightly sent again: not counted twice.
  const answered: Record<string, number> = {};
  for (const x of triggers) if (!x.held) answered[x.key] = (answered[x.key] ?? 0) + 1;
  const retriggered = Object.values(answered).filter((n) => n > 1).length;
  const refired = episodes.filter(
    (e) => e.kind === 'breach' && e.incidentsExpected === 2 && e.incidents.length === 2,
  ).length;
  const extra = episodes.reduce(
    (n, e) => n + Math.max(0, e.incidents.length - (e.kind === 'raise' ? 1 : e.incidentsExpected)),
    0,
  );
  const raiseEpisode = episodes.find((e) => e.kind === 'raise');
  const loads = (r.load ?? []).map(([, l]) => l);
  const round2 = (n: number) => Math.round(n * 100) / 100;
  const nodata = episodes.filter((e) => e.kind === 'nodata');
  const unexcused = gaps.filter((g) => !g.during);
  const figures: ChaosReport['figures'] = {
    incidents_expected:
      episodes.reduce((n, e) => n + (e.kind === 'raise' ? 0 : e.incidentsExpected), 0) +
      (raiseEpisode?.raise === 'opened' ? 1 : 0),
    incidents_opened: allIds.size,
    incidents_unplanned: [...allIds].filter((id) => !attributed.has(id)).length,
    incidents_extra: extra,
    incidents_refired_after_data_loss: refired,
    raise:
      raiseEpisode?.raise === 'raised'
        ? 'the acknowledged no-data ticket was raised to a page'
        : raiseEpisode?.raise === 'opened'
          ? 'the no-data ticket had resolved first; a page opened anew'
          : raiseEpisode
            ? 'no page'
            : 'not planned',
    steps_expected: stepsExpected,
    steps_delivered: stepsExpected - stepsLost,
    steps_lost: stepsLost,
    pagerduty_triggers_per_incident: perIncident,
    pagerduty_incidents_not_exactly_one: pdWrong.length,
    pagerduty_keys_triggered_more_than_once: retriggered,
    slack_top_level_duplicates: duplicates,
    pages_after_ack: pagesAfterAckTotal,
    evaluation_gaps: unexcused.length,
    evaluation_gaps_during_redis_faults: gaps.length - unexcused.length,
    longest_evaluation_gap_s: Math.max(0, ...unexcused.map((g) => g.seconds)),
    nodata_tickets_expected: nodata.length,
    nodata_tickets_opened: nodata.filter((e) => e.delivered.includes('ticket.0')).length,
    unexpected_replica_exits: r.unexpectedExits.length,
    refused_starts: r.refusedStarts.length,
    replicas_never_ready: r.neverReady?.length ?? 0,
    acks_sent: r.acks.filter((a) => ackRecorded(r.slackCalls, a)).length,
    acks_not_recorded: r.acks.filter((a) => a.status === 200 && !ackRecorded(r.slackCalls, a)).length,
    cpus: r.cpus ?? 0,
    load_average_1m: {
      min: round2(Math.min(...loads, Infinity) === Infinity ? 0 : Math.min(...loads)),
      mean: round2(loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)),
      max: round2(Math.max(0, ...loads)),
      samples: loads.length,
    },
  };
  const lostList = episodes
    .filter((e) => e.lost.length)
    .map((e) => `${e.id} ${e.slo} (${e.fault}): ${e.lost.join(', ')}`);
  const invariants: Invariant[] = [
    {
      name: 'steps lost = 0',
      ok: stepsLost === 0,
      value: stepsLost,
      ...(lostList.length ? { detail: lostList.join('; ') } : {}),
    },
    {
      name: 'PagerDuty incidents per paging incident = 1',
      ok: pdWrong.length === 0,
      value: pdWrong.length,
      ...(pdWrong.length
        ? {
            detail: pdWrong
              .map((e) => `${e.id} ${e.slo} (${e.fault}): ${Object.keys(e.pagerDutyTriggers).length} dedup key(s)`)
              .join('; '),
          }
        : {}),
    },
    {
      name: 'trigger events per PagerDuty incident (dedup key) = 1, apart from a retry after an answer that never came',
      ok: retriggered === 0,
      value: retriggered,
      ...(retriggered
        ? {
            detail: Object.entries(answered)
              .filter(([, n]) => n > 1)
              .map(([k, n]) => `${k}: ${n}`)
              .join('; '),
          }
        : {}),
    },
    { name: 'pages after acknowledgement = 0', ok: pagesAfterAckTotal === 0, value: pagesAfterAckTotal },
    {
      name: 'evaluation gaps > 2 intervals = 0',
      ok: unexcused.length === 0,
      value: unexcused.length,
      ...(unexcused.length
        ? {
            detail: unexcused
              .slice(0, 6)
              .map((g) => `${g.slo} ${g.from} +${g.seconds}s`)
              .join('; '),
          }
        : {}),
    },
    {
      name: 'no-data tickets while Prometheus is down = one per SLO',
      ok: figures.nodata_tickets_opened === figures.nodata_tickets_expected,
      value: figures.nodata_tickets_opened,
    },
    {
      name: 'unexpected replica exits = 0',
      ok: r.unexpectedExits.length === 0,
      value: r.unexpectedExits.length,
      ...(r.unexpectedExits.length
        ? {
            detail: r.unexpectedExits
              .map(
                (x) =>
                  `replica ${x.replica} at ${iso(x.at)}: ${x.code ?? x.signal} ${x.last.join(' | ').slice(0, 200)}`,
              )
              .join('; '),
          }
        : {}),
    },
  ];
  return {
    profile: p.name,
    minutes: Math.round((r.endedAt - startedAt) / 6000) / 10,
    replicas: p.replicas,
    figures,
    invariants,
    episodes,
    gaps,
    faults: r.faults.map((f) => ({
      kind: f.kind,
      at_s: Math.round((f.start - startedAt) / 100) / 10,
      seconds: Math.round((f.end - f.start) / 100) / 10,
      ...(f.slo ? { slo: f.slo } : {}),
      ...(f.note ? { note: f.note } : {}),
    })),
    unexpected_exits: r.unexpectedExits,
    refused_starts: r.refusedStarts,
    hostile_requests: r.hostileRequests,
  };
}

/** The report as a few lines for a terminal. */
export function formatReport(report: ChaosReport): string {
  const f = report.figures;
  const lines = [
    `chaos run (${report.profile}, ${report.minutes} min, ${report.replicas} replicas)`,
    f.load_average_1m.samples
      ? `  machine: ${f.cpus} CPUs, load average (1 min) ${f.load_average_1m.min}–${f.load_average_1m.max}, mean ${f.load_average_1m.mean} (${f.load_average_1m.samples} samples)`
      : '  machine: load not recorded',
    `  incidents expected ${f.incidents_expected}, opened ${f.incidents_opened} (${f.incidents_unplanned} not from a planned episode, ${f.incidents_extra} extra; ${f.incidents_refired_after_data_loss} fired again after Redis lost its data; raise: ${f.raise})`,
    `  steps expected ${f.steps_expected}, delivered ${f.steps_delivered}, lost ${f.steps_lost}`,
    `  PagerDuty: ${f.pagerduty_incidents_not_exactly_one} paging incident(s) without exactly one PagerDuty incident; accepted trigger events per dedup key: ${Object.values(f.pagerduty_triggers_per_incident).join(',') || '—'}`,
    `  Slack top-level duplicates (same incident, same channel) ${f.slack_top_level_duplicates}; pages after acknowledgement ${f.pages_after_ack} (${f.acks_sent} acks recorded; ${f.acks_not_recorded} click(s) told "NOT recorded", clicked again)`,
    `  evaluation gaps > 2 intervals: ${f.evaluation_gaps} (longest ${f.longest_evaluation_gap_s}s), ${f.evaluation_gaps_during_redis_faults} more while Redis was down`,
    `  no-data tickets while Prometheus was down: ${f.nodata_tickets_opened}/${f.nodata_tickets_expected}; unexpected replica exits ${f.unexpected_replica_exits} (and ${f.refused_starts} start(s) refused while an invalid file was in place; ${f.replicas_never_ready} replica start(s) running but never ready)`,
    '  invariants:',
    ...report.invariants.map(
      (i) => `    ${i.ok ? 'ok  ' : 'FAIL'} ${i.name}: ${i.value}${i.detail ? ` — ${i.detail}` : ''}`,
    ),
  ];
  return lines.join('\n');
}

/** The records as JSON (maps as entry lists), to account for a run again later. */
export function saveRecords(r: Records): string {
  return JSON.stringify({ ...r, incidents: [...r.incidents], evaluations: [...r.evaluations] });
}

/** Records saved by saveRecords(). */
export function loadRecords(text: string): Records {
  const raw = JSON.parse(text) as Omit<Records, 'incidents' | 'evaluations'> & {
    incidents: Array<[string, SeenIncident]>;
    evaluations: Array<[string, number[]]>;
  };
  return { ...raw, incidents: new Map(raw.incidents), evaluations: new Map(raw.evaluations) };
}
