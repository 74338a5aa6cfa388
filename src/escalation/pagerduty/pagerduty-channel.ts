/**
 * PagerDuty as a channel: a `pagerduty` step triggers an Events API v2 event whose dedup key is stable for the
 * incident; acknowledging and resolving the incident in sloe acknowledge and resolve it there (unless the change
 * came from PagerDuty itself). A trigger on a PagerDuty incident that is acknowledged does not page, so an incident
 * re-armed by a raise gets a key of its own (`sloe-<id>.<n>`), and the PagerDuty incidents of its earlier armings
 * are resolved.
 */
import type { Incident } from '../../incident/model.js';
import { formatLabels } from '../../evaluator/labels.js';
import { expandReferences } from '../../rules/env.js';
import type { Step } from '../../rules/model.js';
import type { Channel, DeliveryResult, StepContext, UpdateContext } from '../notifier.js';
import { MAX_LABELS, boundedLabels, truncate } from '../../util/bounds.js';
import { type PagerDutyConfig, sendEvent } from './client.js';

/** PagerDuty refuses events larger than this (512 KB); sloe's stay well below. */
export const PAGERDUTY_MAX_EVENT_BYTES = 512 * 1024;
/** The longest string sent in custom_details (the incident message, an evaluation error). */
const MAX_DETAIL = 4096;

const DEDUP_PREFIX = 'sloe-';

/** Refs under which the key of each arming that reached PagerDuty is kept: `pagerduty.key.0`, `pagerduty.key.1`… */
const ARMING_REF = 'pagerduty.key.';

/** The dedup key of an incident's current arming: PagerDuty groups every event of it into one PagerDuty incident. */
export function dedupKey(incident: Pick<Incident, 'id' | 'rearms'>): string {
  return keyOf(incident.id, incident.rearms);
}

function keyOf(id: string, arming: number): string {
  return arming > 0 ? `${DEDUP_PREFIX}${id}.${arming}` : `${DEDUP_PREFIX}${id}`;
}

/** The incident and arming behind a dedup key, or undefined for keys sloe did not make. */
export function parseDedupKey(key: string | undefined): { id: string; arming: number } | undefined {
  const m = key === undefined ? null : new RegExp(`^${DEDUP_PREFIX}([^.]+)(?:\\.(\\d+))?$`).exec(key);
  return m ? { id: m[1]!, arming: Number(m[2] ?? 0) } : undefined;
}

export class PagerDutyChannel implements Channel {
  readonly name = 'pagerduty';

  constructor(
    private readonly config: PagerDutyConfig,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * The routing key of a step: its own `${VAR}`, filled in now, or PAGERDUTY_ROUTING_KEY. A reference to a variable
   * specs may not read (a policy frozen into an incident by an older configuration, say) is never filled in: the
   * step fails, visibly, instead of sending that variable to PagerDuty.
   */
  private routingKey(step: Step | undefined): { key?: string; error?: string } {
    if (step?.notify === 'pagerduty' && step.routingKey) {
      const { value, missing, refused } = expandReferences(step.routingKey, 'routingKey', this.env);
      if (refused.length > 0)
        return {
          error: `routingKey ${step.routingKey} names a variable that specs may not read: ${refused.join(', ')}`,
        };
      if (missing.length === 0 && value) return { key: value };
    }
    return { key: this.config.routingKey };
  }

  async step({ incident, step, stepKey, group }: StepContext): Promise<DeliveryResult> {
    if (step.notify !== 'pagerduty') return { ok: false, retry: false, error: `not a PagerDuty step: ${step.notify}` };
    const { key: routingKey, error } = this.routingKey(step);
    if (error) return { ok: false, retry: false, error };
    if (!routingKey)
      return {
        ok: false,
        retry: false,
        error: "no routing key: set PAGERDUTY_ROUTING_KEY or the step's routingKey variable",
      };
    const bounded = boundedLabels(incident.labels);
    // A group's PagerDuty incident is its leader's (one dedup key per group): the summary counts the others.
    const others = group && group.length > 1 ? ` (and ${group.length - 1} more incident(s) of its group)` : '';
    const summary = truncate(
      `[${incident.severity}] ${incident.sloId}${formatLabels(bounded.labels)}: ${incident.message}${others}`,
      1024,
    );
    const links = [
      ...(incident.dashboard.url
        ? [
            {
              href: incident.dashboard.url,
              text: `Dashboard: ${incident.dashboard.title} (owner ${incident.dashboard.owner})`,
            },
          ]
        : []),
      ...(incident.runbook ? [{ href: incident.runbook, text: 'Runbook' }] : []),
      ...(incident.refs['slack.permalink'] ? [{ href: incident.refs['slack.permalink'], text: 'Slack thread' }] : []),
    ];
    const full = {
      routing_key: routingKey,
      event_action: 'trigger' as const,
      dedup_key: dedupKey(incident),
      payload: {
        summary,
        source: incident.service,
        severity: step.severity,
        timestamp: new Date(incident.firedAt).toISOString(),
        component: incident.service,
        group: incident.slo,
        class: incident.signal,
        custom_details: {
          slo: incident.sloId,
          labels: bounded.labels,
          ...(bounded.omitted > 0
            ? { labels_omitted: `${bounded.omitted} more labels (at most ${MAX_LABELS} are sent)` }
            : {}),
          value: truncate(incident.message, MAX_DETAIL),
          condition: incident.condition,
          objective: incident.objective,
          owner: incident.dashboard.owner,
          team: incident.owner,
          dashboard: incident.dashboard.url ?? incident.dashboard.id,
          runbook: incident.runbook,
          sloe_incident: incident.id,
          ...(group && group.length > 1
            ? {
                group: group
                  .slice(0, 20)
                  .map((m) => ({ slo: m.sloId, labels: boundedLabels(m.labels).labels, status: m.status })),
                group_size: group.length,
              }
            : {}),
        },
      },
      links,
    };
    // The minimal event PagerDuty needs: what a full one that is refused (400: too large, a field it does not take)
    // is sent again as, once, so that the page is never lost to its details.
    const minimal = {
      routing_key: routingKey,
      event_action: 'trigger' as const,
      dedup_key: full.dedup_key,
      payload: { summary, source: incident.service, severity: step.severity },
    };
    const oversized = Buffer.byteLength(JSON.stringify(full)) > PAGERDUTY_MAX_EVENT_BYTES;
    let result = await sendEvent(this.config, oversized ? minimal : full);
    let note = oversized ? ` (details left out: the event would be over ${PAGERDUTY_MAX_EVENT_BYTES / 1024} KB)` : '';
    if (!result.ok && !oversized && result.status === 400) {
      const refused = result.error;
      result = await sendEvent(this.config, minimal);
      note = ` (the full event was refused — ${refused} — and a minimal one sent)`;
    }
    const key = dedupKey(incident);
    if (!result.ok)
      return {
        ok: false,
        retry: result.retry,
        error: result.error,
        ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}),
      };
    return {
      ok: true,
      refs: { 'pagerduty.dedupKey': key, [`${ARMING_REF}${incident.rearms}`]: key, 'pagerduty.step': stepKey },
      detail: `PagerDuty incident triggered (${step.severity})${note}`,
    };
  }

  /** The keys PagerDuty incidents were triggered with, by arming. */
  private keys(incident: Incident): Array<{ arming: number; key: string }> {
    return Object.entries(incident.refs)
      .filter(([ref]) => ref.startsWith(ARMING_REF))
      .map(([ref, key]) => ({ arming: Number(ref.slice(ARMING_REF.length)), key }));
  }

  async update({ incident, update, origin }: UpdateContext): Promise<DeliveryResult | undefined> {
    if (!incident.refs['pagerduty.dedupKey']) return undefined;
    const current = dedupKey(incident);
    // Which PagerDuty incidents to change: the current arming's on acknowledgement; on resolution every arming's;
    // on a raise that re-armed the incident, those of the earlier armings (acknowledged, they would swallow the page).
    let action: 'acknowledge' | 'resolve';
    let keys: string[];
    if (update === 'escalated' && incident.previousAck) {
      action = 'resolve';
      keys = this.keys(incident)
        .filter((k) => k.arming < incident.rearms)
        .map((k) => k.key);
    } else if (update === 'acknowledged' || update === 'resolved') {
      if (origin === this.name) return undefined;
      action = update === 'acknowledged' ? 'acknowledge' : 'resolve';
      keys =
        update === 'acknowledged'
          ? [current]
          : [...new Set([...this.keys(incident).map((k) => k.key), incident.refs['pagerduty.dedupKey']])];
      if (update === 'acknowledged' && incident.refs['pagerduty.dedupKey'] !== current) return undefined;
    } else {
      return undefined;
    }
    if (keys.length === 0) return undefined;
    const [severity, index] = (incident.refs['pagerduty.step'] ?? '').split('.');
    const step = severity === 'page' || severity === 'ticket' ? incident.policy[severity][Number(index)] : undefined;
    const { key: routingKey, error } = this.routingKey(step);
    if (error) return { ok: false, retry: false, error };
    if (!routingKey) return { ok: false, retry: false, error: 'no routing key to tell PagerDuty' };
    for (const key of keys) {
      const summary = key === current ? incident.message : `superseded by ${current}: ${incident.message}`;
      const result = await sendEvent(this.config, {
        routing_key: routingKey,
        event_action: action,
        dedup_key: key,
        payload: { summary, source: incident.service, severity: 'info' },
      });
      if (!result.ok) return result;
    }
    const what =
      update === 'escalated'
        ? `earlier PagerDuty incident(s) resolved: ${keys.join(', ')}`
        : `PagerDuty incident ${update}`;
    return { ok: true, detail: what };
  }
}
