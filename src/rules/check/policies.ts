/**
 * An EscalationPolicy document: a unique name, page and/or ticket steps, and its `repeat`s. The schedules its
 * on-call steps name are checked once every document has been read (`checkScheduleReferences`).
 */
import { formatDuration, parseDuration } from '../duration.js';
import { MIN_REPEAT_MS, type Step } from '../model.js';
import type { EscalationPolicyDoc, StepDoc } from '../schema.js';
import { SEVERITIES } from '../schema-values.js';
import type { Path, SourceDoc } from '../source.js';
import { type CheckContext, items, parsed, where } from './context.js';
import { checkGroup } from './group.js';

/** `valid` is what the schema makes of the document when it is valid; else its parts are parsed one by one. */
export function checkPolicy(
  ctx: CheckContext,
  doc: SourceDoc,
  raw: Record<string, unknown>,
  valid: EscalationPolicyDoc | undefined,
): void {
  const schema = valid ? undefined : ctx.zod.EscalationPolicySchema;
  const name = valid ? valid.name : parsed(schema!.shape.name, raw.name);
  if (name === undefined) return;
  const whole = valid ?? parsed(schema!, raw);
  if (whole === undefined) ctx.flawed.policies.add(name);
  if (ctx.policies.has(name)) {
    ctx.problem(
      doc,
      ['name'],
      `duplicate escalation policy ${JSON.stringify(name)} (already declared at ${where(ctx.policyLocations.get(name)!)})`,
    );
    return;
  }
  ctx.policyLocations.set(name, ctx.loc(doc, ['name']));
  const steps = (severity: 'page' | 'ticket'): Step[] | undefined => {
    if (raw[severity] === undefined) return undefined;
    return items(raw[severity]).flatMap((item, i) => {
      const step = valid ? valid[severity]![i] : parsed(ctx.zod.StepSchema, item);
      return step ? [stepModel(ctx, doc, [severity, i], step)] : [];
    });
  };
  const page = steps('page');
  const ticket = steps('ticket');
  if (page === undefined && ticket === undefined) {
    ctx.problem(doc, [], 'an escalation policy needs page or ticket steps');
  }
  const repeatMs = checkRepeats(ctx, doc, raw, page === undefined ? 'ticket' : 'page');
  const group = checkGroup(
    raw.group,
    valid ? valid.group : raw.group === undefined ? undefined : (parsed(ctx.zod.GroupSchema, raw.group) ?? null),
    (path, message) => ctx.problem(doc, path, message),
  );
  ctx.policies.set(
    name,
    whole !== undefined && repeatMs !== null && group !== null
      ? {
          name,
          page: page ?? ticket ?? [],
          ticket: ticket ?? defaultTicketSteps(page ?? []),
          ...(raw.responders !== undefined ? { responders: whole.responders } : {}),
          ...(repeatMs !== undefined ? { repeatMs } : {}),
          ...(group ? { group } : {}),
          source: ctx.loc(doc, ['name']),
        }
      : undefined,
  );
}

/** Every on-call step names a declared schedule (run after all documents). */
export function checkScheduleReferences(ctx: CheckContext): void {
  for (const ref of ctx.scheduleRefs) {
    if (!ctx.schedules.has(ref.name) && !ctx.flawed.schedules.has(ref.name)) {
      ctx.problems.push(
        ref.doc.problem(
          ref.path,
          `on-call schedule ${JSON.stringify(ref.name)} is not declared (kind: OnCallSchedule)`,
        ),
      );
    }
  }
}

/**
 * Checks the `repeat`s of a policy: each at least the minimum, a step's only on the last step of its list, not on
 * the last page step as well as on the policy. Returns the policy's repeat, or null when a repeat has a problem.
 */
function checkRepeats(
  ctx: CheckContext,
  doc: SourceDoc,
  raw: Record<string, unknown>,
  pageList: 'page' | 'ticket',
): number | undefined | null {
  const before = ctx.problems.length;
  const minMs = ctx.options.minRepeatMs ?? MIN_REPEAT_MS;
  const check = (path: Path, text: unknown): number | undefined => {
    const ms = typeof text === 'string' || text === 0 ? parseDuration(text) : undefined;
    if (ms === undefined) return undefined;
    if (ms < minMs)
      ctx.problem(
        doc,
        path,
        `repeat must be at least ${formatDuration(minMs)}: re-notifying more often than that is noise (got ${formatDuration(ms)})`,
      );
    return ms;
  };
  for (const severity of SEVERITIES) {
    const list = items(raw[severity]);
    list.forEach((item, i) => {
      const repeat = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).repeat : undefined;
      if (repeat === undefined) return;
      check([severity, i, 'repeat'], repeat);
      if (i !== list.length - 1) {
        ctx.problem(
          doc,
          [severity, i, 'repeat'],
          `repeat is allowed on the last ${severity} step only (it repeats that step); to repeat the whole escalation, set repeat on the policy`,
        );
      } else if (severity === pageList && raw.repeat !== undefined) {
        ctx.problem(
          doc,
          [severity, i, 'repeat'],
          `repeat is set on the policy already (it starts the ${severity} steps over); set it in one place`,
        );
      }
    });
  }
  const repeatMs = raw.repeat === undefined ? undefined : check(['repeat'], raw.repeat);
  return ctx.problems.length > before ? null : repeatMs;
}

/** A step's model; an on-call step's schedule is remembered for `checkScheduleReferences`. */
function stepModel(ctx: CheckContext, doc: SourceDoc, path: Path, step: StepDoc): Step {
  const afterMs = step.after === undefined ? 0 : (parseDuration(step.after) ?? 0);
  const repeatMs = step.repeat === undefined ? undefined : parseDuration(step.repeat);
  const timing = { afterMs, ...(repeatMs !== undefined ? { repeatMs } : {}) };
  switch (step.notify) {
    case 'slack':
      return { notify: 'slack', ...timing, channel: step.channel };
    case 'pagerduty':
      return { notify: 'pagerduty', ...timing, routingKey: step.routingKey, severity: step.severity ?? 'critical' };
    case 'oncall':
      ctx.scheduleRefs.push({ doc, path: [...path, 'schedule'], name: step.schedule });
      return { notify: 'oncall', ...timing, schedule: step.schedule };
  }
}

/**
 * Ticket incidents of a policy without ticket steps go to its Slack steps (or, lacking those, its page steps); they
 * do not repeat.
 */
function defaultTicketSteps(page: Step[]): Step[] {
  const slack = page.filter((s) => s.notify === 'slack');
  return (slack.length > 0 ? slack : page).map(({ repeatMs: _repeat, ...step }) => step);
}
