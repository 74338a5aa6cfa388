/**
 * From a frame to incident events: advances every instance of an SLO by one frame and says which incidents open,
 * rise, change reason or resolve. Pure — ids and time are passed in — and the one place this is decided: `run`
 * (engine/decide.ts) stores the events, `backtest` lays them on its timeline.
 */
import type { IncidentEvent, IncidentIds } from '../incident/events.js';
import { incidentId } from '../incident/model.js';
import type { Severity, Slo } from '../rules/model.js';
import { type Holds, NO_HOLDS } from '../rules/silence.js';
import { type SloFrame, observe } from './frame.js';
import type { Labels } from './labels.js';
import { type InstanceState, advance } from './state.js';

export interface TransitionResult {
  /** The instances' new alert state (a new object; the one passed in is not changed). */
  instances: Record<string, InstanceState>;
  events: IncidentEvent[];
}

/**
 * Advances the instances of `slo` by `frame` at `now`. `resets` are instances resolved by hand since the last frame
 * (their instance keys): they start over from ok. `holds` says which new escalations a silence holds: their steps
 * start from the first when it ends.
 */
export function transition(
  slo: Slo,
  previous: Readonly<Record<string, InstanceState>>,
  frame: SloFrame,
  now: number,
  ids: IncidentIds,
  resets: readonly string[] = [],
  holds: Holds = NO_HOLDS,
): TransitionResult {
  const instances: Record<string, InstanceState> = { ...previous };
  for (const reset of resets) delete instances[reset.slice(slo.id.length)];
  const known = new Map<string, Labels>(Object.entries(instances).map(([key, s]) => [key, s.labels]));
  const events: IncidentEvent[] = [];
  for (const { key, labels, obs } of observe(frame, known)) {
    const before = instances[key];
    const { state: next, transitions } = advance(before, labels, obs, slo, now);
    if (next) instances[key] = next;
    else delete instances[key];
    // The instance key: the SLO id and the instance's labels.
    const instanceKey = `${slo.id}${key}`;
    const held = (severity: Severity) => {
      const hold = holds(
        { service: slo.service, slo: slo.name, signal: slo.signal, severity, labels: { ...slo.labels, ...labels } },
        now,
      );
      return hold ? { held: hold } : {};
    };
    for (const t of transitions) {
      if (t.type === 'fired') {
        events.push({
          type: 'opened',
          instanceKey,
          key,
          at: now,
          id: incidentId(instanceKey, now),
          labels,
          severity: t.severity,
          reason: t.reason,
          message: t.message,
          token: ids.token(),
          traceId: ids.traceId(),
          ...held(t.severity),
        });
      } else if (t.type === 'escalated') {
        const from = { severity: before?.severity ?? 'ticket', reason: before?.reason ?? 'breach' };
        const type = t.severity !== from.severity ? 'raised' : 'reason-changed';
        events.push({
          type,
          instanceKey,
          key,
          at: now,
          severity: t.severity,
          reason: t.reason,
          message: t.message,
          token: ids.token(),
          from,
          ...held(t.severity),
        });
      } else {
        events.push({ type: 'resolved', instanceKey, key, at: now });
      }
    }
  }
  return { instances, events };
}
