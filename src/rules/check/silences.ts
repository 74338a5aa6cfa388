/**
 * A Silence document: a unique name, matchers that parse, and exactly one bounded window (fixed or weekly). Once the
 * SLOs are built, a silence that has expired or matches none of them is a warning (`silenceWarnings`).
 */
import { DateTime, IANAZone } from 'luxon';
import type { Slo } from '../model.js';
import type { SilenceDoc } from '../schema.js';
import { type SilenceWindow, couldMatch, parseClock, parseMatcher, silenceEnd } from '../silence.js';
import type { Path, SourceDoc } from '../source.js';
import { type CheckContext, parsed, where } from './context.js';

/** `valid` is what the schema makes of the document when it is valid; else it is parsed here. */
export function checkSilence(
  ctx: CheckContext,
  doc: SourceDoc,
  raw: Record<string, unknown>,
  valid: SilenceDoc | undefined,
): void {
  const s = valid ?? parsed(ctx.zod.SilenceSchema, raw);
  if (!s) return;
  const first = ctx.silenceLocations.get(s.name);
  if (first)
    return ctx.problem(
      doc,
      ['name'],
      `duplicate silence ${JSON.stringify(s.name)} (already declared at ${where(first)})`,
    );
  ctx.silenceLocations.set(s.name, ctx.loc(doc, ['name']));
  let ok = true;
  const fail = (path: Path, message: string) => {
    ok = false;
    ctx.problem(doc, path, message);
  };
  const matchers = s.matchers.flatMap((text, i) => {
    const m = parseMatcher(text);
    if (m instanceof Error) {
      fail(['matchers', i], m.message);
      return [];
    }
    return [m];
  });
  const fixed = s.startsAt !== undefined || s.endsAt !== undefined;
  const recurring = (['every', 'days', 'from', 'to', 'timezone'] as const).filter((k) => s[k] !== undefined);
  let window: SilenceWindow | undefined;
  if (fixed && recurring.length) {
    fail(
      [recurring[0]!],
      'a silence has either a fixed window (startsAt, endsAt) or a recurring one (every, days, from, to, timezone), not both',
    );
  } else if (fixed) {
    const time = (key: 'startsAt' | 'endsAt') => {
      const v = s[key];
      if (v === undefined)
        return (fail([], `unbounded silence: ${key} is missing (a silence needs both startsAt and endsAt)`), undefined);
      const t = DateTime.fromISO(v, { setZone: true });
      if (!t.isValid || !/(Z|[+-]\d{2}:\d{2})$/.test(v))
        return (
          fail([key], `invalid time ${JSON.stringify(v)}: expected RFC 3339 with a zone, e.g. 2026-12-01T02:00:00Z`),
          undefined
        );
      return t.toMillis();
    };
    const startsAt = time('startsAt');
    const endsAt = time('endsAt');
    if (startsAt !== undefined && endsAt !== undefined) {
      if (endsAt <= startsAt) fail(['endsAt'], 'endsAt must be after startsAt');
      else window = { kind: 'fixed', startsAt, endsAt };
    }
  } else if (recurring.length) {
    const missing = (['every', 'days', 'from', 'to', 'timezone'] as const).filter((k) => s[k] === undefined);
    if (missing.length)
      fail([], `a recurring silence needs every, days, from, to and timezone: ${missing.join(', ')} missing`);
    else if (!IANAZone.isValidZone(s.timezone!))
      fail(
        ['timezone'],
        `unknown time zone ${JSON.stringify(s.timezone)}: expected an IANA name such as Europe/Berlin`,
      );
    else
      window = {
        kind: 'weekly',
        days: s.days!,
        fromMin: parseClock(s.from!)!,
        toMin: parseClock(s.to!)!,
        timezone: s.timezone!,
      };
  } else {
    fail(
      [],
      'unbounded silence: give startsAt and endsAt, or a recurring window (every: weekly, days, from, to, timezone)',
    );
  }
  if (!ok || !window) return;
  ctx.silences.push({
    doc,
    silence: { name: s.name, owner: s.owner, reason: s.reason, matchers, window, source: ctx.loc(doc, ['name']) },
  });
}

/** Valid silences that are probably not meant: expired (at `options.now`), or matching none of `slos`. */
export function silenceWarnings(ctx: CheckContext, slos: Slo[]): void {
  for (const { doc, silence } of ctx.silences) {
    if (silenceEnd(silence) <= (ctx.options.now ?? Date.now())) {
      ctx.warnings.push({
        ...doc.problem(
          ['endsAt'],
          `silence ${JSON.stringify(silence.name)} has expired (it ended ${new Date(silenceEnd(silence)).toISOString()}): remove it`,
        ),
        rule: 'silence-expired',
      });
    }
    if (!slos.some((slo) => couldMatch(silence, slo))) {
      ctx.warnings.push({
        ...doc.problem(
          ['matchers'],
          `silence ${JSON.stringify(silence.name)} matches no SLO (${silence.matchers.map((m) => m.text).join(', ')})`,
        ),
        rule: 'silence-matches-nothing',
      });
    }
  }
}
