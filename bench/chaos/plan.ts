/**
 * The chaos run's script: the timings (a profile), and the plan made from it — which SLO breaches when, which
 * incidents are acknowledged, and which fault strikes when. Pure data, so the accounting knows what was meant to
 * happen without asking sloe.
 */

/** Every kind of fault the run can inject. */
export const FAULTS = [
  'kill-mid-slack',
  'kill-mid-pagerduty',
  'replica-restart',
  'slack-errors',
  'pagerduty-errors',
  'redis-pause',
  'redis-restart',
  'redis-restart-empty',
  'reload-invalid',
  'prometheus-down',
] as const;
export type FaultKind = (typeof FAULTS)[number];

export interface Profile {
  name: string;
  /** How long the run should last, roughly (the acts are spread over it). */
  minutes: number;
  replicas: number;
  /** The SLOs' evaluation interval, `for`, `resolveAfter` and `noDataFor`. */
  intervalS: number;
  forS: number;
  resolveAfterS: number;
  noDataForS: number;
  /** `after` of the PagerDuty step and of the second Slack step (the first Slack step runs at once). */
  pagerDutyAfterS: number;
  escalateAfterS: number;
  /** How long each breach lasts; longer than the last step's `after`, so every unacknowledged step falls due. */
  breachS: number;
  /** Seconds between the Slack message appearing and the Ack click. */
  ackDelayS: number;
  redisPauseS: number;
  prometheusDownS: number;
  /** How long an invalid file stays in place before it is removed again. */
  invalidFileS: number;
  /** How long a killed or stopped replica stays down before it is started again. */
  replicaDownS: number;
  /** Seconds to wait at the end for the last deliveries. */
  settleS: number;
  /** How long emptying Redis may wait for every replica to be up (a replica starting anew hides a lost scheduler). */
  wipeWaitS: number;
  /** The faults of the breach acts, in order; `prometheus-down` comes last when listed. */
  faults: FaultKind[];
  /** The faults whose incident is acknowledged through Slack. */
  acked: FaultKind[];
  /** Whether `pagerduty-errors` includes a timeout (the client waits 10 s for it). */
  pagerDutyTimeout: boolean;
  /** BullMQ lock and stalled-check times of the replicas (how soon a dead replica's jobs are taken over). */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How long a delivery claim lasts unless extended (SLOE_CLAIM_TTL_MS): how soon a killed replica's step is sent. */
  claimTtlMs: number;
}

const ALL_BREACH_FAULTS: FaultKind[] = [
  'kill-mid-slack',
  'slack-errors',
  'kill-mid-pagerduty',
  'pagerduty-errors',
  'replica-restart',
  'redis-pause',
  'redis-restart',
  'reload-invalid',
  'redis-restart-empty',
  'prometheus-down',
];

/** `npm run chaos`: three replicas, every fault, at least 10 minutes. */
export const FULL: Profile = {
  name: 'full',
  minutes: 10,
  replicas: 3,
  intervalS: 5,
  forS: 10,
  resolveAfterS: 10,
  noDataForS: 30,
  pagerDutyAfterS: 20,
  escalateAfterS: 45,
  breachS: 75,
  ackDelayS: 5,
  redisPauseS: 30,
  prometheusDownS: 120,
  invalidFileS: 20,
  replicaDownS: 10,
  settleS: 45,
  wipeWaitS: 15,
  faults: ALL_BREACH_FAULTS,
  acked: ['slack-errors', 'redis-pause', 'redis-restart'],
  pagerDutyTimeout: true,
  lockDurationMs: 10_000,
  stalledIntervalMs: 5_000,
  claimTtlMs: 10_000,
};

/** The version in `npm test`: two replicas, one or two faults of each kind, about a minute. */
export const SHORT: Profile = {
  name: 'short',
  minutes: 1,
  replicas: 2,
  intervalS: 1,
  forS: 2,
  resolveAfterS: 2,
  noDataForS: 3,
  pagerDutyAfterS: 3,
  escalateAfterS: 5,
  breachS: 9,
  ackDelayS: 0.5,
  redisPauseS: 4,
  prometheusDownS: 6,
  invalidFileS: 2,
  replicaDownS: 2,
  settleS: 1,
  wipeWaitS: 2,
  // The faults that crash replicas on purpose come first: their restarts are over before Redis is emptied.
  faults: [
    'reload-invalid',
    'kill-mid-slack',
    'slack-errors',
    'pagerduty-errors',
    'redis-pause',
    'redis-restart-empty',
    'prometheus-down',
  ],
  acked: ['slack-errors'],
  pagerDutyTimeout: false,
  lockDurationMs: 2_000,
  stalledIntervalMs: 1_000,
  // Scaled with the breaches (9 s): a claim of 30 s would outlast the incident its step belongs to.
  claimTtlMs: 2_000,
};

/**
 * The profile the environment asks for: CHAOS_PROFILE (full | short) and overrides CHAOS_MINUTES, CHAOS_REPLICAS,
 * CHAOS_INTERVAL_S, CHAOS_FAULTS (comma-separated kinds), CHAOS_PROMETHEUS_DOWN_S, CHAOS_REDIS_PAUSE_S.
 */
export function profileFromEnv(
  env: NodeJS.ProcessEnv,
  base: Profile = env.CHAOS_PROFILE === 'short' ? SHORT : FULL,
): Profile {
  const num = (name: string, min: number): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${JSON.stringify(v)}: expected a number ≥ ${min}`);
    return n;
  };
  const faults = env.CHAOS_FAULTS
    ? env.CHAOS_FAULTS.split(',')
        .map((f) => f.trim())
        .filter(Boolean)
        .map((f) => {
          if (!(FAULTS as readonly string[]).includes(f))
            throw new Error(`CHAOS_FAULTS: unknown fault "${f}" (known: ${FAULTS.join(', ')})`);
          return f as FaultKind;
        })
    : undefined;
  const p = { ...base };
  p.minutes = num('CHAOS_MINUTES', 0.5) ?? p.minutes;
  p.replicas = num('CHAOS_REPLICAS', 1) ?? p.replicas;
  p.intervalS = num('CHAOS_INTERVAL_S', 1) ?? p.intervalS;
  p.prometheusDownS = num('CHAOS_PROMETHEUS_DOWN_S', 1) ?? p.prometheusDownS;
  p.redisPauseS = num('CHAOS_REDIS_PAUSE_S', 1) ?? p.redisPauseS;
  if (faults) p.faults = faults;
  return p;
}

export interface Episode {
  id: string;
  /** The SLO (`chaos/sN`). */
  slo: string;
  /** breach: the gauge goes bad; nodata: Prometheus goes away; raise: a breach seen on an SLO holding a no-data ticket. */
  kind: 'breach' | 'nodata' | 'raise';
  /** Milliseconds from the start of the run. */
  start: number;
  end: number;
  ack: boolean;
  /** The fault of the act the episode belongs to. */
  fault: FaultKind;
}

export interface PlannedFault {
  kind: FaultKind;
  /** Milliseconds from the start of the run. */
  at: number;
  /** The SLO whose incident the fault aims at, if any. */
  slo?: string;
}

export interface Plan {
  profile: Profile;
  slos: string[];
  episodes: Episode[];
  faults: PlannedFault[];
  /** When the exporter's gauge of an SLO changes: [ms from start, slo, bad]. */
  gauges: Array<{ at: number; slo: string; bad: boolean }>;
  /** Milliseconds from the start of the run to its end (after settling). */
  endMs: number;
}

export const SLO_COUNT = 6;
export const sloId = (i: number) => `chaos/s${i + 1}`;

/**
 * Lays the acts out: one breach act per fault (a breach on the next SLO, round-robin, with its fault), starting at
 * even spacing so that acts overlap. Emptying Redis erases every open incident, so that act runs alone, after the
 * others, with a breach long enough for its incident to fire again and escalate in full. The Prometheus-down act
 * comes last, when every SLO is healthy. Over 20 minutes the overlapping acts repeat.
 */
export function makePlan(profile: Profile): Plan {
  const s = 1000;
  const slos = Array.from({ length: SLO_COUNT }, (_, i) => sloId(i));
  const overlapping = profile.faults.filter((f) => f !== 'prometheus-down' && f !== 'redis-restart-empty');
  const withWipe = profile.faults.includes('redis-restart-empty');
  const withPrometheus = profile.faults.includes('prometheus-down');
  const rounds = Math.max(1, Math.floor(profile.minutes / 20) + 1);
  const acts = Array.from({ length: rounds }, () => overlapping).flat();
  const lead = (2 * profile.intervalS + 1) * s;
  const tail = (profile.resolveAfterS + 2 * profile.intervalS) * s;
  const episodeMs = profile.breachS * s + tail;
  // Emptying Redis waits (up to WIPE_WAIT) for every replica to be up; then the incident fires again and escalates.
  const wipeBreachMs =
    profile.breachS * s +
    faultOffset('redis-restart-empty', profile) +
    wipeWaitMs(profile) +
    (profile.forS + 2 * profile.intervalS) * s;
  const wipeActMs = withWipe ? wipeBreachMs + tail : 0;
  // Prometheus takes a few seconds to come back: the raised page's breach lasts that much longer.
  const raiseMs = profile.breachS * s + PROMETHEUS_START_MS;
  const prometheusActMs = withPrometheus ? (2 * profile.intervalS + profile.prometheusDownS) * s + raiseMs + tail : 0;
  const budget = profile.minutes * 60 * s - lead - episodeMs - wipeActMs - prometheusActMs - profile.settleS * s;
  // Acts of one SLO must not overlap: the same SLO comes back every SLO_COUNT acts. While Redis is paused nothing is
  // evaluated, so a recovery that falls in the pause is not seen: the next breach of that SLO would meet its last
  // incident still open (acknowledged, say) and open none. The pause is kept out of that interval too.
  // With no more acts than SLOs, no SLO comes back.
  const pauseMs = profile.faults.includes('redis-pause') ? profile.redisPauseS * s : 0;
  const comesBack = acts.length > SLO_COUNT;
  const minSpacing = Math.max(
    (profile.forS + profile.intervalS) * s,
    comesBack ? Math.ceil((episodeMs + pauseMs + 5 * s) / SLO_COUNT) : 0,
  );
  const spacing = acts.length > 1 ? Math.max(minSpacing, Math.floor(budget / (acts.length - 1))) : 0;
  const episodes: Episode[] = [];
  const faults: PlannedFault[] = [];
  const gauges: Plan['gauges'] = [];
  const breach = (fault: FaultKind, slo: string, start: number, lengthMs: number) => {
    const end = start + lengthMs;
    episodes.push({
      id: `e${episodes.length + 1}`,
      slo,
      kind: 'breach',
      start,
      end,
      ack: profile.acked.includes(fault),
      fault,
    });
    gauges.push({ at: start, slo, bad: true }, { at: end, slo, bad: false });
    faults.push({ kind: fault, at: start + faultOffset(fault, profile), slo });
  };
  acts.forEach((fault, i) => breach(fault, slos[i % SLO_COUNT]!, lead + i * spacing, profile.breachS * s));
  let endMs = lead + Math.max(0, acts.length - 1) * spacing + (acts.length ? episodeMs : 0);
  if (withWipe) {
    // Redis is emptied once the other acts' incidents have resolved (the act starts that much earlier).
    const start = Math.max(lead, endMs - faultOffset('redis-restart-empty', profile));
    breach('redis-restart-empty', slos[acts.length % SLO_COUNT]!, start, wipeBreachMs);
    endMs = start + wipeActMs;
  }
  if (withPrometheus) {
    const down = endMs + 2 * profile.intervalS * s;
    const back = down + profile.prometheusDownS * s;
    faults.push({ kind: 'prometheus-down', at: down });
    // Every SLO opens a no-data ticket; two are acknowledged, and the first of those breaches meanwhile: when
    // Prometheus is back, its acknowledged ticket must be raised to a page that escalates.
    slos.forEach((slo, i) =>
      episodes.push({
        id: `e${episodes.length + 1}`,
        slo,
        kind: 'nodata',
        start: down,
        end: back,
        ack: i < 2,
        fault: 'prometheus-down',
      }),
    );
    const raised = slos[0]!;
    const raiseEnd = back + raiseMs;
    gauges.push(
      { at: down + Math.floor((profile.prometheusDownS * s) / 2), slo: raised, bad: true },
      { at: raiseEnd, slo: raised, bad: false },
    );
    episodes.push({
      id: `e${episodes.length + 1}`,
      slo: raised,
      kind: 'raise',
      start: back,
      end: raiseEnd,
      ack: false,
      fault: 'prometheus-down',
    });
    endMs = raiseEnd + tail;
  }
  endMs += profile.settleS * s;
  return {
    profile,
    slos,
    episodes,
    faults: faults.sort((a, b) => a.at - b.at),
    gauges: gauges.sort((a, b) => a.at - b.at),
    endMs,
  };
}

/** How long Prometheus may take to start and be scraped again. */
const PROMETHEUS_START_MS = 4000;

export function wipeWaitMs(p: Profile): number {
  return p.wipeWaitS * 1000;
}

/** When, after its breach starts, a fault strikes. */
function faultOffset(fault: FaultKind, p: Profile): number {
  const s = 1000;
  const fired = (p.forS + p.intervalS) * s;
  switch (fault) {
    case 'kill-mid-slack':
    case 'kill-mid-pagerduty':
    case 'slack-errors':
    case 'pagerduty-errors':
    case 'reload-invalid':
      // Armed before the incident fires: they act on its deliveries.
      return 0;
    case 'replica-restart':
      return fired + s;
    case 'redis-pause':
      // After the first step, before the PagerDuty step falls due.
      return fired + Math.min(2 * s, (p.pagerDutyAfterS * s) / 3);
    case 'redis-restart':
    case 'redis-restart-empty':
      return fired + (p.pagerDutyAfterS * s) / 2;
    case 'prometheus-down':
      return 0;
  }
}
