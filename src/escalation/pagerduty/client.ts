/**
 * PagerDuty through @pagerduty/pdjs, wrapped: pdjs only retries 429 (after a fixed delay) and its requestTimeout
 * never aborts, so every call here gets a real timeout (AbortSignal) and an answer classified for the retry stage.
 */
import type { Agent } from 'node:https';
import { api, event } from '@pagerduty/pdjs';
import type { EventPayloadV2 } from '@pagerduty/pdjs/build/src/events.js';
import { withTimeout } from '../../util/async.js';
import { redactUrls } from '../../util/redact.js';
import { type DeliveryResult, classifyHttp } from '../notifier.js';

export interface PagerDutyConfig {
  /** host[:port] of the Events API (HTTPS). */
  eventsServer: string;
  /** host[:port] of the REST API (HTTPS). */
  apiServer: string;
  routingKey?: string;
  apiToken?: string;
  /** Email of a PagerDuty user, sent as `From` on REST changes (the on-call member's own email is preferred). */
  from?: string;
  timeoutMs: number;
  /** Only for tests and proxies with their own CA; NODE_EXTRA_CA_CERTS does the same for the whole process. */
  agent?: Agent;
}

export function pagerDutyConfigFromEnv(env: NodeJS.ProcessEnv): PagerDutyConfig {
  return {
    eventsServer: env.PAGERDUTY_EVENTS_SERVER || 'events.pagerduty.com',
    apiServer: env.PAGERDUTY_API_SERVER || 'api.pagerduty.com',
    routingKey: env.PAGERDUTY_ROUTING_KEY || undefined,
    apiToken: env.PAGERDUTY_API_TOKEN || undefined,
    from: env.PAGERDUTY_FROM || undefined,
    timeoutMs: 10_000,
  };
}

/** Options pdjs passes through to fetch: our abort signal, our agent, no pdjs timer. */
function fetchOptions(config: PagerDutyConfig, signal: AbortSignal) {
  // pdjs waits this long before retrying a 429 itself; ours decides after that, honouring Retry-After.
  return { signal, requestTimeout: 0, retryTimeout: 1000, ...(config.agent ? { agent: config.agent } : {}) };
}

function failure(e: unknown, config: PagerDutyConfig, what: string): DeliveryResult {
  // pdjs rejects with the Response itself when its body is not JSON (an error page of a proxy, say).
  if (e !== null && typeof e === 'object' && 'status' in e && typeof (e as Response).status === 'number') {
    const res = e as Response;
    const verdict = classifyHttp(res.status, res.headers?.get('retry-after'));
    return {
      ok: false,
      retry: verdict.retry || verdict.ok,
      error: `${what} answered ${res.status} with a body that is not JSON`,
    };
  }
  const aborted = e instanceof Error && (e.name === 'AbortError' || /aborted/i.test(e.message));
  const message = aborted ? `no answer within ${config.timeoutMs} ms` : e instanceof Error ? e.message : String(e);
  return { ok: false, retry: true, error: `${what}: ${message}` };
}

/** Sends one Events API v2 event (trigger, acknowledge or resolve); a refusal says PagerDuty's HTTP status. */
export async function sendEvent(
  config: PagerDutyConfig,
  data: EventPayloadV2,
): Promise<DeliveryResult & { status?: number }> {
  const where = `PagerDuty Events API at ${redactUrls(`https://${config.eventsServer}`)}`;
  try {
    const res = await withTimeout(config.timeoutMs, (signal) =>
      event({ server: config.eventsServer, data, ...fetchOptions(config, signal) } as Parameters<typeof event>[0]),
    );
    const verdict = classifyHttp(res.status, res.headers.get('retry-after'));
    if (verdict.ok) return { ok: true, detail: `${data.event_action} accepted (${res.status})` };
    const reason = (res.data as { message?: string; errors?: string[] } | undefined) ?? {};
    const error = `${where} answered ${res.status}: ${[reason.message, ...(reason.errors ?? [])].filter(Boolean).join('; ') || res.statusText}`;
    return {
      ok: false,
      retry: verdict.retry,
      error,
      status: res.status,
      ...(verdict.retryAfterMs !== undefined ? { retryAfterMs: verdict.retryAfterMs } : {}),
    };
  } catch (e) {
    return failure(e, config, where);
  }
}

/** Reassigns the PagerDuty incident of a dedup key to a user (REST API). */
export async function reassign(
  config: PagerDutyConfig,
  dedupKey: string,
  userId: string,
  from: string | undefined,
): Promise<DeliveryResult> {
  if (!config.apiToken) return { ok: false, retry: false, error: 'PAGERDUTY_API_TOKEN is not set' };
  const where = `PagerDuty REST API at ${redactUrls(`https://${config.apiServer}`)}`;
  try {
    return await withTimeout(config.timeoutMs, async (signal) => {
      const pd = api({
        token: config.apiToken,
        server: config.apiServer,
        ...fetchOptions(config, signal),
      } as Parameters<typeof api>[0] & { token: string });
      const found = await pd.get('/incidents', { queryParameters: { incident_key: dedupKey } } as never);
      const verdict = classifyHttp(found.status, found.headers.get('retry-after'));
      if (!verdict.ok)
        return { ok: false, retry: verdict.retry, error: `${where} answered ${found.status} looking up the incident` };
      const incident = (found.data as { incidents?: Array<{ id: string }> }).incidents?.[0];
      if (!incident) return { ok: false, retry: true, error: `${where} has no incident with key ${dedupKey} yet` };
      const put = await pd.put(`/incidents/${incident.id}`, {
        data: {
          incident: { type: 'incident_reference', assignments: [{ assignee: { id: userId, type: 'user_reference' } }] },
        },
        headers: from ? { From: from } : {},
      } as never);
      const done = classifyHttp(put.status, put.headers.get('retry-after'));
      return done.ok
        ? { ok: true, detail: `PagerDuty incident ${incident.id} reassigned to ${userId}` }
        : { ok: false, retry: done.retry, error: `${where} answered ${put.status} reassigning ${incident.id}` };
    });
  } catch (e) {
    return failure(e, config, where);
  }
}
