/**
 * Silences: which incidents a silence covers (Alertmanager-style matchers on service, slo, signal, severity and
 * labels) and when (a fixed window, or a weekly one in a time zone). Pure: `run` and `backtest` ask the same
 * questions of the same silences, so a silence has the same effect in both.
 */
import { DateTime } from 'luxon';
import {
  type Matcher,
  type MatchOp,
  type Silence,
  type SilenceWindow,
  WEEKDAYS,
  type Severity,
  type Slo,
} from './model.js';

export { type Matcher, type Silence, type SilenceWindow, WEEKDAYS };

/** What a silence is matched against: one incident. */
export interface SilenceTarget {
  service: string;
  slo: string;
  signal: string;
  severity: Severity;
  labels: Readonly<Record<string, string>>;
}

/** Why an incident's steps are held, and until when. */
export interface Hold {
  /** `silence checkout-migration (alice)`. */
  by: string;
  reason: string;
  until: number;
  /**
   * Set when a dependency's page holds the incident (inhibit.ts), not a silence: the dependency's SLO id, and its
   * incident where known (`run`), and whether it still fires (`until` is then when to look again). The steps it
   * holds keep their spacing when they are released.
   */
  cause?: { sloId: string; incidentId?: string; firing: boolean };
}

/** Which hold applies to an incident at a time; undefined when its steps may run. */
export type Holds = (target: SilenceTarget, at: number) => Hold | undefined;

export const NO_HOLDS: Holds = () => undefined;

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/;

/** Parses `name op value`; a string that is not one, or a regular expression that does not compile, is an Error. */
export function parseMatcher(text: string): Matcher | Error {
  const m = MATCHER.exec(text);
  if (!m)
    return new Error(
      `invalid matcher ${JSON.stringify(text)}: expected "name = value", "!=", "=~" or "!~" (e.g. "service = checkout", "slo =~ latency-.*")`,
    );
  const [, name, op, raw] = m as unknown as [string, string, MatchOp, string];
  const value = /^"(.*)"$/.exec(raw)?.[1] ?? raw;
  if (op === '=~' || op === '!~') {
    try {
      new RegExp(`^(?:${value})$`);
    } catch (e) {
      return new Error(`invalid regular expression in matcher ${JSON.stringify(text)}: ${(e as Error).message}`);
    }
  }
  return { name, op, value, text: text.trim() };
}

const compiled = new Map<string, RegExp>();
function regex(value: string): RegExp {
  let re = compiled.get(value);
  if (!re) {
    // Anchored, as in Alertmanager and PromQL.
    re = new RegExp(`^(?:${value})$`);
    if (compiled.size > 1000) compiled.clear();
    compiled.set(value, re);
  }
  return re;
}

/** Whether `value` (undefined: the label is absent, read as "") satisfies the matcher. */
export function matchValue(m: Matcher, value: string | undefined): boolean {
  const v = value ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return regex(m.value).test(v);
    case '!~':
      return !regex(m.value).test(v);
  }
}

function field(target: SilenceTarget, name: string): string | undefined {
  switch (name) {
    case 'service':
      return target.service;
    case 'slo':
      return target.slo;
    case 'signal':
      return target.signal;
    case 'severity':
      return target.severity;
    default:
      return target.labels[name];
  }
}

/** Whether every matcher of the silence holds for the incident. */
export function silenceMatches(silence: Pick<Silence, 'matchers'>, target: SilenceTarget): boolean {
  return silence.matchers.every((m) => matchValue(m, field(target, m.name)));
}

/** The occurrence of the silence's window that contains `t` ([start, end) in unix ms), if any. */
export function windowAt(window: SilenceWindow, t: number): { start: number; end: number } | undefined {
  if (window.kind === 'fixed')
    return t >= window.startsAt && t < window.endsAt ? { start: window.startsAt, end: window.endsAt } : undefined;
  const local = DateTime.fromMillis(t, { zone: window.timezone });
  // An occurrence that began on the day before may run past midnight into this one.
  for (const back of [0, 1]) {
    const day = local.minus({ days: back }).startOf('day');
    const occurrence = weeklyOccurrence(window, day);
    if (occurrence && t >= occurrence.start && t < occurrence.end) return occurrence;
  }
  return undefined;
}

/** The occurrence of a weekly window that starts on the local `day`, if the window runs that weekday. */
function weeklyOccurrence(
  window: Extract<SilenceWindow, { kind: 'weekly' }>,
  day: DateTime,
): { start: number; end: number } | undefined {
  if (!window.days.includes(WEEKDAYS[day.weekday - 1]!)) return undefined;
  const at = (d: DateTime, min: number) =>
    DateTime.fromObject(
      { year: d.year, month: d.month, day: d.day, hour: Math.floor(min / 60), minute: min % 60 },
      { zone: window.timezone },
    ).toMillis();
  const start = at(day, window.fromMin);
  const end = at(window.toMin > window.fromMin ? day : day.plus({ days: 1 }), window.toMin);
  return end > start ? { start, end } : undefined;
}

/** When the silence's last occurrence ends (Infinity for a recurring one). */
export function silenceEnd(silence: Silence): number {
  return silence.window.kind === 'fixed' ? silence.window.endsAt : Infinity;
}

/**
 * The holds of a list of silences: the incident is held while any matching silence is active, until the last of
 * the overlapping or back-to-back ones ends.
 */
export function silencer(silences: readonly Silence[]): Holds {
  if (silences.length === 0) return NO_HOLDS;
  return (target, at) => {
    const matching = silences.filter((s) => silenceMatches(s, target));
    let hold: Hold | undefined;
    let t = at;
    // Chained silences: the one ending at t may be followed by another active at t. Bounded: a silence counts once.
    for (let i = 0; i <= matching.length; i++) {
      let next: Hold | undefined;
      for (const s of matching) {
        const w = windowAt(s.window, t);
        if (w && w.end > (next?.until ?? -Infinity))
          next = { by: `silence ${s.name} (${s.owner})`, reason: s.reason, until: w.end };
      }
      if (!next) break;
      hold = hold ? { ...hold, until: next.until } : next;
      t = next.until;
    }
    return hold;
  };
}

/** The severities an SLO's incidents can have. */
function severities(slo: Slo): Severity[] {
  const out = new Set<Severity>(['ticket']);
  if (slo.kind === 'threshold') out.add(slo.severity);
  else for (const tier of slo.tiers) out.add(tier.severity);
  return [...out];
}

/**
 * Whether the silence can match some incident of the SLO: matchers on service, slo, signal and severity are
 * judged exactly; a label matcher on a label the SLO does not set may match an instance's labels, so it counts.
 */
export function couldMatch(silence: Pick<Silence, 'matchers'>, slo: Slo): boolean {
  return severities(slo).some((severity) =>
    silence.matchers.every((m) => {
      if (['service', 'slo', 'signal', 'severity'].includes(m.name) || m.name in slo.labels) {
        return matchValue(
          m,
          field({ service: slo.service, slo: slo.name, signal: slo.signal, severity, labels: slo.labels }, m.name),
        );
      }
      return true;
    }),
  );
}

/** `02:00` as minutes after midnight, or undefined. */
export function parseClock(text: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** The longest a silence made at run time (API, Slack) may last. */
export const MAX_RUNTIME_SILENCE_MS = 7 * 24 * 3600_000;

/** What a run-time silence is made of: who asks, why, what it covers and until when. */
export interface SilenceRequest {
  matchers: readonly string[];
  reason: string;
  by: string;
  /** Default now. */
  startsAt?: number;
  endsAt: number;
}

/**
 * A run-time silence from a request, or an Error saying what is wrong with it: a reason is mandatory, the matchers
 * must parse, and it ends after it starts, in the future, at most MAX_RUNTIME_SILENCE_MS after now.
 */
export function runtimeSilence(request: SilenceRequest, now: number, name: string): Silence | Error {
  const reason = request.reason.trim();
  if (!reason) return new Error('a silence needs a reason: say why these incidents are silenced');
  if (request.matchers.length === 0)
    return new Error('a silence needs at least one matcher, e.g. "service = checkout"');
  const matchers: Matcher[] = [];
  for (const text of request.matchers) {
    const m = parseMatcher(text);
    if (m instanceof Error) return m;
    matchers.push(m);
  }
  const startsAt = request.startsAt ?? now;
  if (!Number.isFinite(request.endsAt) || request.endsAt <= Math.max(startsAt, now))
    return new Error('a silence must end after it starts, and in the future');
  if (request.endsAt - now > MAX_RUNTIME_SILENCE_MS) {
    return new Error(
      `a silence made at run time lasts at most 7d (it would end ${new Date(request.endsAt).toISOString()}); declare a longer one as code (kind: Silence)`,
    );
  }
  return { name, owner: request.by, reason, matchers, window: { kind: 'fixed', startsAt, endsAt: request.endsAt } };
}
