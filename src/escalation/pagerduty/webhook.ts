/**
 * `POST /webhooks/pagerduty`: PagerDuty v3 webhooks. The `X-PagerDuty-Signature` header carries one or more
 * `v1=<hex>` HMAC-SHA256 signatures of the raw body (several while a secret is being rotated); one must match,
 * compared in constant time. incident.acknowledged and incident.resolved are mirrored into sloe.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncidentActions, IncidentStore, Logger } from '../../incident/ports.js';
import { z } from 'zod';
import { checkJsonDepth, readBody, sendJson } from '../../server/http.js';
import { parseDedupKey } from './pagerduty-channel.js';

/** True when one of the `v1=` signatures in the header is the HMAC of the body with the secret. */
export function verifyPagerDutySignature(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return header
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .some((s) => {
      const given = Buffer.from(s.slice(3), 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/** What the webhook acts with; it reads the incident first: one about an earlier arming of it is ignored. */
export type WebhookActions = Pick<IncidentActions, 'acknowledge' | 'resolve'> & {
  readonly store: Pick<IncidentStore, 'get'>;
};

/** The parts of a v3 webhook event sloe reads; anything else in it may be there or not. */
const WebhookBody = z.looseObject({
  event: z.looseObject({
    event_type: z.string(),
    agent: z.looseObject({ summary: z.string().optional() }).nullish(),
    data: z.looseObject({ incident_key: z.string().nullish() }).nullish(),
  }),
});

/** The route handler; `secret` from PAGERDUTY_WEBHOOK_SECRET. */
export function pagerDutyWebhook(secret: string, actions: WebhookActions, log: Logger) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const signature = req.headers['x-pagerduty-signature'];
    if (!verifyPagerDutySignature(secret, body, Array.isArray(signature) ? signature.join(',') : signature)) {
      log.warn(
        { event: 'webhook-rejected', source: 'pagerduty' },
        'PagerDuty webhook with a missing or wrong signature refused',
      );
      return sendJson(res, 401, { error: 'invalid signature' });
    }
    let json: unknown;
    try {
      checkJsonDepth(body);
    } catch (e) {
      return sendJson(res, 400, { error: (e as Error).message });
    }
    try {
      json = JSON.parse(body);
    } catch {
      return sendJson(res, 400, { error: 'body is not JSON' });
    }
    const parsed = WebhookBody.safeParse(json);
    if (!parsed.success)
      return sendJson(res, 400, { error: 'body is not a PagerDuty v3 webhook event ({"event":{"event_type":…}})' });
    const { event } = parsed.data;
    const type = event.event_type;
    const key = parseDedupKey(event.data?.incident_key ?? undefined);
    const by = event.agent?.summary ?? 'PagerDuty';
    if (!key || (type !== 'incident.acknowledged' && type !== 'incident.resolved')) {
      return sendJson(res, 200, { result: 'ignored' });
    }
    const { id } = key;
    const incident = await actions.store.get(id);
    if (incident && incident.rearms !== key.arming) {
      log.info(
        { event: 'webhook-superseded', source: 'pagerduty', incidentId: id, type },
        `PagerDuty ${type} about an earlier arming of incident ${id}: ignored`,
      );
      return sendJson(res, 200, { result: 'ignored' });
    }
    const result =
      type === 'incident.acknowledged'
        ? await actions.acknowledge(id, by, 'pagerduty')
        : await actions.resolve(id, by, 'pagerduty');
    sendJson(res, 200, { result });
  };
}
