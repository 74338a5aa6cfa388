/** An OnCallSchedule document: a unique name, a known time zone, a rotation, distinct members, overrides and fallback. */
import { DateTime, IANAZone } from 'luxon';
import { parseDuration } from '../duration.js';
import type { Location, OnCallSchedule } from '../model.js';
import type { OnCallScheduleDoc } from '../schema.js';
import type { Path, SourceDoc } from '../source.js';
import { type CheckContext, parsed, where } from './context.js';

/** `valid` is what the schema makes of the document when it is valid; else its parts are parsed one by one. */
export function checkSchedule(
  ctx: CheckContext,
  doc: SourceDoc,
  raw: Record<string, unknown>,
  valid: OnCallScheduleDoc | undefined,
): void {
  const schema = valid ? undefined : ctx.zod.OnCallScheduleSchema;
  const name = valid ? valid.name : parsed(schema!.shape.name, raw.name);
  if (name === undefined) return;
  const s = valid ?? parsed(schema!, raw);
  if (s === undefined) ctx.flawed.schedules.add(name);
  if (ctx.schedules.has(name)) {
    ctx.problem(
      doc,
      ['name'],
      `duplicate on-call schedule ${JSON.stringify(name)} (already declared at ${where(ctx.scheduleLocations.get(name)!)})`,
    );
    return;
  }
  ctx.scheduleLocations.set(name, ctx.loc(doc, ['name']));
  ctx.schedules.set(name, s ? scheduleModel(ctx, doc, s) : undefined);
}

/** The schedule's model; undefined when it has a problem. */
function scheduleModel(ctx: CheckContext, doc: SourceDoc, s: OnCallScheduleDoc): OnCallSchedule | undefined {
  let ok = true;
  const fail = (path: Path, message: string) => {
    ok = false;
    ctx.problem(doc, path, message);
  };
  const zoneOk = IANAZone.isValidZone(s.timezone);
  if (!zoneOk)
    fail(['timezone'], `unknown time zone ${JSON.stringify(s.timezone)}: expected an IANA name such as Europe/Berlin`);
  const everyMs = parseDuration(s.rotation.every) ?? 0;
  if (everyMs <= 0) fail(['rotation', 'every'], 'rotation.every must be longer than 0');
  const zone = zoneOk ? s.timezone : 'UTC';
  const local = (path: Path, text: string): number | undefined => {
    const t = DateTime.fromISO(text, { zone });
    if (!t.isValid) {
      fail(path, `invalid local time ${JSON.stringify(text)}`);
      return undefined;
    }
    return t.toMillis();
  };
  local(['rotation', 'start'], s.rotation.start);
  const members = new Map<string, Location>();
  s.members.forEach((m, i) => {
    const first = members.get(m.name);
    if (first)
      fail(['members', i, 'name'], `duplicate member ${JSON.stringify(m.name)} (already listed at ${where(first)})`);
    else members.set(m.name, ctx.loc(doc, ['members', i, 'name']));
  });
  const memberList = [...members.keys()].join(', ') || 'none';
  (s.overrides ?? []).forEach((o, i) => {
    if (!members.has(o.member)) {
      fail(
        ['overrides', i, 'member'],
        `override names ${JSON.stringify(o.member)}, who is not a member of schedule ${JSON.stringify(s.name)} (members: ${memberList})`,
      );
    }
    const from = local(['overrides', i, 'from'], o.from);
    const to = local(['overrides', i, 'to'], o.to);
    if (from !== undefined && to !== undefined && to <= from)
      fail(['overrides', i, 'to'], 'override must end after it starts');
  });
  if (s.fallback !== undefined && !members.has(s.fallback)) {
    fail(
      ['fallback'],
      `fallback ${JSON.stringify(s.fallback)} is not a member of schedule ${JSON.stringify(s.name)} (members: ${memberList})`,
    );
  }
  if (!ok) return undefined;
  return {
    name: s.name,
    timezone: s.timezone,
    rotation: { everyMs, start: s.rotation.start },
    members: s.members,
    overrides: s.overrides ?? [],
    fallback: s.fallback,
    source: ctx.loc(doc, ['name']),
  };
}
