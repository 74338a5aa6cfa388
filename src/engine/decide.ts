/**
 * What one evaluation of one SLO changes, as the store applies it: the instances' new alert state and the
 * transition function's incident events encoded as operations of the APPLY script. Pure: ids and time are passed
 * in; the engine stores the result atomically and schedules the steps afterwards.
 */
import { conditionText, objectiveText } from '../evaluator/describe.js';
import type { SloFrame } from '../evaluator/frame.js';
import type { InstanceState } from '../evaluator/state.js';
import { transition } from '../evaluator/transition.js';
import type { IncidentEvent, IncidentIds } from '../incident/events.js';
import { groupKey } from '../incident/group.js';
import { type AuditEntry, type IncidentDoc, acknowledgedAs } from '../incident/model.js';
import type { EscalationPolicy, Slo } from '../rules/model.js';
import { type Hold, type Holds, NO_HOLDS } from '../rules/silence.js';
import { holdText } from '../rules/inhibit.js';
import type { SloState, StoreOp } from './store.js';
import { incidentFields } from './store.js';

export interface Decision {
  instances: Record<string, InstanceState>;
  ops: StoreOp[];
  /** The escalations a dependency's page holds, by instance key: that incident's Slack thread is told. */
  inhibited: Map<string, Hold>;
}

/** Advances every instance of an SLO by one frame at `now`. */
export function decide(
  slo: Slo,
  policy: EscalationPolicy,
  state: SloState,
  frame: SloFrame,
  now: number,
  ids: IncidentIds,
  holds: Holds = NO_HOLDS,
): Decision {
  const { instances, events } = transition(slo, state.instances, frame, now, ids, state.resets, holds);
  const inhibited = new Map(
    events.flatMap((e) => (e.type !== 'resolved' && e.held?.cause ? [[e.instanceKey, e.held] as const] : [])),
  );
  return { instances, ops: events.map((e) => encode(slo, policy, e)), inhibited };
}

/** One incident event as an operation of the APPLY script (times as strings: Lua prints large numbers oddly). */
function encode(slo: Slo, policy: EscalationPolicy, e: IncidentEvent): StoreOp {
  const audit = (entry: Omit<AuditEntry, 'at' | 'by'>) => JSON.stringify({ at: e.at, by: 'sloe', ...entry });
  // A held escalation counts its steps from the end of the hold, and says why in the audit trail.
  const hold = (held: Hold | undefined) =>
    held
      ? {
          fields: {
            escalatedAt: String(held.until),
            heldUntil: String(held.until),
            heldBy: held.cause ? `dependency ${held.by}: ${held.reason}` : `${held.by}: ${held.reason}`,
          },
          held: audit({ type: 'note', detail: heldText(held) }),
        }
      : { fields: { escalatedAt: String(e.at), heldUntil: '', heldBy: '' } };
  switch (e.type) {
    case 'opened': {
      const doc: IncidentDoc = {
        id: e.id,
        sloId: slo.id,
        service: slo.service,
        slo: slo.name,
        signal: slo.signal,
        labels: { ...slo.labels, ...e.labels },
        instanceKey: e.instanceKey,
        owner: slo.owner,
        dashboard: {
          id: slo.dashboard.id,
          title: slo.dashboard.title,
          owner: slo.dashboard.owner,
          ...(slo.dashboard.url ? { url: slo.dashboard.url } : {}),
        },
        ...(slo.runbook ? { runbook: slo.runbook } : {}),
        objective: objectiveText(slo),
        condition: conditionText(slo),
        firedAt: e.at,
        traceId: e.traceId,
        policy,
      };
      const h = hold(e.held);
      return {
        op: 'open',
        instanceKey: e.instanceKey,
        id: doc.id,
        firedAt: String(e.at),
        fields: {
          ...incidentFields(doc, {
            status: 'firing',
            severity: e.severity,
            reason: e.reason,
            message: e.message,
            token: e.token,
            escalatedAt: e.at,
          }),
          ...h.fields,
        },
        audit: audit({
          type: 'fired',
          detail: `${e.severity}${e.reason === 'breach' ? '' : ` (${e.reason})`}: ${e.message}`,
        }),
        ...(h.held ? { held: h.held } : {}),
        ...(policy.group
          ? {
              group: {
                key: groupKey(policy.name, policy.group, { service: slo.service, slo: slo.name }),
                waitMs: String(policy.group.waitMs),
              },
            }
          : {}),
      };
    }
    case 'raised':
    case 'reason-changed': {
      const h = hold(e.held);
      return {
        op: 'escalate',
        instanceKey: e.instanceKey,
        fields: { severity: e.severity, reason: e.reason, message: e.message, token: e.token, ...h.fields },
        audit: audit({ type: 'escalated', detail: `now ${e.severity}: ${e.message}` }),
        rearm: [' — firing again: it was acknowledged by ', ` as ${acknowledgedAs(e.from)}`],
        ...(h.held ? { held: h.held } : {}),
      };
    }
    case 'resolved':
      return {
        op: 'resolve',
        instanceKey: e.instanceKey,
        resolvedAt: String(e.at),
        audit: audit({ type: 'resolved', detail: `healthy for ${Math.round(slo.resolveAfterMs / 1000)}s` }),
      };
  }
}

/**
 * The audit line of a held escalation: `silenced by silence db-migration (alice): planned migration; steps from …`,
 * or `held: caused by checkout/availability? its page is firing …` (a dependency that still fires: no time yet).
 */
export function heldText(held: Hold): string {
  if (held.cause?.firing) return holdText(held);
  return `${holdText(held)}; steps start ${new Date(held.until).toISOString()} if still firing`;
}
