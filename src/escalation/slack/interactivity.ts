/**
 * `POST /slack/events`: Slack interactivity (Ack / Resolve / Snooze 1h) through @slack/bolt on the engine's HTTP
 * server. sloe checks the request first — signature, and a timestamp neither older than 5 minutes nor in the future
 * (Bolt itself only rejects old ones) — then hands it to Bolt, which acknowledges the click within Slack's 3
 * seconds and runs the action after.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, type BlockAction, type ButtonAction, type Logger as BoltLogger, HTTPReceiver, LogLevel } from '@slack/bolt';
import type { Logger } from '../../engine/log.js';
import { readBody, sendJson } from '../../server/http.js';
import { ACTIONS } from './blocks.js';

/** Requests older than this are refused (a replayed request), as are requests dated later than now + skew. */
export const MAX_AGE_SECONDS = 300;
export const MAX_FUTURE_SECONDS = 5;

/** Checks a Slack request signature (`v0=` HMAC-SHA256 of `v0:timestamp:body`) and its timestamp. */
export function verifySlackRequest(secret: string, body: string, timestamp: string | undefined, signature: string | undefined, nowMs: number): string | undefined {
  if (!timestamp || !signature) return 'missing signature headers';
  if (!/^\d+$/.test(timestamp)) return 'malformed timestamp';
  const age = Math.floor(nowMs / 1000) - Number(timestamp);
  if (age > MAX_AGE_SECONDS) return 'request is older than 5 minutes';
  if (age < -MAX_FUTURE_SECONDS) return 'request is dated in the future';
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`);
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature mismatch';
  return undefined;
}

export interface SlackActions {
  acknowledge(id: string, by: string, via: string): Promise<string>;
  resolve(id: string, by: string, via: string): Promise<string>;
  snooze(id: string, ms: number, by: string, via: string): Promise<string>;
}

function boltLogger(log: Logger): BoltLogger {
  const child = log.child({ component: 'slack-bolt' });
  let level = LogLevel.INFO;
  return {
    debug: (...m: unknown[]) => child.debug(m.map(String).join(' ')),
    info: (...m: unknown[]) => child.info(m.map(String).join(' ')),
    warn: (...m: unknown[]) => child.warn(m.map(String).join(' ')),
    error: (...m: unknown[]) => child.error(m.map(String).join(' ')),
    setLevel: (l) => (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}

export interface SlackApp {
  client: InstanceType<typeof App>['client'];
  /** The route handler of POST /slack/events. */
  handler(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** The Bolt app: the Web API client (retries left to sloe) and the interactivity endpoint. */
export function createSlackApp(options: { token: string; signingSecret: string; apiUrl?: string; log: Logger; now: () => number; actions: () => SlackActions }): SlackApp {
  const { log } = options;
  const receiver = new HTTPReceiver({ signingSecret: options.signingSecret, endpoints: '/slack/events', logger: boltLogger(log) });
  const apiUrl = options.apiUrl ? (options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`) : undefined;
  const app = new App({
    receiver,
    token: options.token,
    logger: boltLogger(log),
    tokenVerificationEnabled: false,
    // The Web API client would retry for about 30 minutes and pause every call on a rate limit; sloe's retry stage
    // decides instead, per incident.
    clientOptions: { ...(apiUrl ? { slackApiUrl: apiUrl } : {}), retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 10_000 },
  });

  const clicked = (action: string, run: (id: string, by: string) => Promise<string>) =>
    app.action<BlockAction<ButtonAction>>(action, async ({ ack, body, action: button }) => {
      await ack();
      const user = body.user;
      const by = `${user.username ?? user.name ?? user.id} (${user.id})`;
      const result = await run(button.value ?? '', by).catch((e: Error) => `failed: ${e.message}`);
      log.info({ event: 'slack-action', action, incidentId: button.value, by, result }, `Slack ${action} by ${by}: ${result}`);
    });
  clicked(ACTIONS.ack, (id, by) => options.actions().acknowledge(id, by, 'slack'));
  clicked(ACTIONS.resolve, (id, by) => options.actions().resolve(id, by, 'slack'));
  clicked(ACTIONS.snooze, (id, by) => options.actions().snooze(id, 3600_000, by, 'slack'));
  app.error(async (e) => {
    log.error({ event: 'slack-error', error: e.message }, `Slack interactivity: ${e.message}`);
  });

  return {
    client: app.client,
    async handler(req, res) {
      const body = await readBody(req);
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const problem = verifySlackRequest(options.signingSecret, body, header('x-slack-request-timestamp'), header('x-slack-signature'), options.now());
      if (problem) {
        log.warn({ event: 'slack-request-rejected', reason: problem }, `Slack request refused: ${problem}`);
        return sendJson(res, 401, { error: problem });
      }
      // Bolt reads a body that was already read from rawBody.
      (req as IncomingMessage & { rawBody?: Buffer }).rawBody = Buffer.from(body);
      receiver.requestListener(req, res);
    },
  };
}
