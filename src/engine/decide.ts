/**
 * What one evaluation of one SLO changes: the instances' new alert state and the incidents to open, raise and
 * resolve. Pure: the engine stores the result atomically and schedules the steps afterwards.
 */
import { conditionText, objectiveText } from '../evaluator/describe.js';
import { type SloFrame, observe } from '../evaluator/frame.js';
import { type InstanceState, advance } from '../evaluator/state.js';
import type { EscalationPolicy, Slo } from '../rules/model.js';
import { type AuditEntry, type IncidentDoc, acknowledgedAs, incidentId, newToken, newTraceId } from '../incident/model.js';
import type { SloState, StoreOp } from './store.js';
import { incidentFields } from './store.js';

export interface Decision {
  instances: Record<string, InstanceState>;
  ops: StoreOp[];
}

/** Advances every instance of an SLO by one frame at `now`. */
export function decide(slo: Slo, policy: EscalationPolicy, state: SloState, frame: SloFrame, now: number): Decision {
  const instances: Record<string, InstanceState> = { ...state.instances };
  for (const reset of state.resets) delete instances[reset.slice(slo.id.length)];
  const known = new Map(Object.entries(instances).map(([key, s]) => [key, s.labels]));
  const ops: StoreOp[] = [];
  for (const { key, labels, obs } of observe(frame, known)) {
    const previous = instances[key];
    const { state: next, transitions } = advance(previous, labels, obs, slo, now);
    if (next) instances[key] = next;
    else delete instances[key];
    // The instance key: the SLO id and the instance's labels.
    const instanceKey = `${slo.id}${key}`;
    for (const t of transitions) {
      const audit = (entry: Omit<AuditEntry, 'at' | 'by'>) => JSON.stringify({ at: now, by: 'sloe', ...entry });
      if (t.type === 'fired') {
        const doc: IncidentDoc = {
          id: incidentId(instanceKey, now),
          sloId: slo.id,
          service: slo.service,
          slo: slo.name,
          signal: slo.signal,
          labels: { ...slo.labels, ...labels },
          instanceKey,
          owner: slo.owner,
          dashboard: { id: slo.dashboard.id, title: slo.dashboard.title, owner: slo.dashboard.owner, ...(slo.dashboard.url ? { url: slo.dashboard.url } : {}) },
          ...(slo.runbook ? { runbook: slo.runbook } : {}),
          objective: objectiveText(slo),
          condition: conditionText(slo),
          firedAt: now,
          traceId: newTraceId(),
          policy,
        };
        ops.push({
          op: 'open',
          instanceKey,
          id: doc.id,
          firedAt: String(now),
          fields: incidentFields(doc, { status: 'firing', severity: t.severity, reason: t.reason, message: t.message, token: newToken(), escalatedAt: now }),
          audit: audit({ type: 'fired', detail: `${t.severity}${t.reason === 'breach' ? '' : ` (${t.reason})`}: ${t.message}` }),
        });
      } else if (t.type === 'escalated') {
        ops.push({
          op: 'escalate',
          instanceKey,
          fields: { severity: t.severity, reason: t.reason, message: t.message, token: newToken(), escalatedAt: String(now) },
          audit: audit({ type: 'escalated', detail: `now ${t.severity}: ${t.message}` }),
          rearm: [' — firing again: it was acknowledged by ', ` as ${acknowledgedAs({ severity: previous?.severity ?? 'ticket', reason: previous?.reason ?? 'breach' })}`],
        });
      } else {
        ops.push({ op: 'resolve', instanceKey, resolvedAt: String(now), audit: audit({ type: 'resolved', detail: `healthy for ${Math.round(slo.resolveAfterMs / 1000)}s` }) });
      }
    }
  }
  return { instances, ops };
}
