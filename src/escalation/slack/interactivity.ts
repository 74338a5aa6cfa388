/**
 * `POST /slack/events`: Slack interactivity (Ack / Resolve / Snooze 1h) through @slack/bolt on the engine's HTTP
 * server. A receiver of sloe's own checks each request — signature, and a timestamp neither older than 5 minutes
 * nor in the future (Bolt's HTTP receiver only rejects old ones) — answers Slack at once, and hands the payload to
 * Bolt, which dispatches it to the action handlers. Answering before any work keeps clicks answered in
 * milliseconds even when hundreds arrive together (Slack allows 3 seconds).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, type BlockAction, type ButtonAction, type Logger as BoltLogger, LogLevel, type Receiver } from '@slack/bolt';
import type { Logger } from '../../engine/log.js';
import { readBody, sendJson } from '../../server/http.js';
import { z } from 'zod';
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

/** Bolt's side of sloe's receiver: Bolt gets events from the route handler, which has already answered Slack. */
class SloeReceiver implements Receiver {
  app: App | undefined;
  init(app: App): void {
    this.app = app;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

/**
 * Work to do after answering: run when requests stop arriving for `quietMs`, or `maxWaitMs` after the first item
 * waited, so that a burst of clicks is answered before any of them is acted on.
 */
export class QuietQueue<T> {
  private items: T[] = [];
  private quiet: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly run: (item: T) => void,
    private readonly quietMs = 5,
    private readonly maxWaitMs = 100,
  ) {}

  add(item: T): void {
    this.items.push(item);
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.drain(), this.quietMs);
    this.deadline ??= setTimeout(() => this.drain(), this.maxWaitMs);
  }

  private drain(): void {
    clearTimeout(this.quiet);
    clearTimeout(this.deadline);
    this.quiet = this.deadline = undefined;
    const items = this.items;
    this.items = [];
    for (const item of items) this.run(item);
  }
}

/** What sloe acts on: button clicks, with the user who clicked and at least one action (Bolt reads no less). */
const BlockActions = z.looseObject({
  type: z.literal('block_actions'),
  user: z.looseObject({ id: z.string() }),
  actions: z.array(z.looseObject({ action_id: z.string() })).min(1),
});
const AnyPayload = z.looseObject({ type: z.string() });

/**
 * The payload of an interactivity request (`payload=<json>`, form-encoded): button clicks to act on, another kind
 * of payload to acknowledge and drop, or undefined when the body is no payload at all.
 */
function interactivityPayload(body: string): { clicks: Record<string, unknown> } | { other: string } | undefined {
  const payload = new URLSearchParams(body).get('payload');
  if (!payload) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const clicks = BlockActions.safeParse(parsed);
  if (clicks.success) return { clicks: clicks.data };
  const other = AnyPayload.safeParse(parsed);
  return other.success && other.data.type !== 'block_actions' ? { other: other.data.type } : undefined;
}

/** The Bolt app: the Web API client (retries left to sloe) and the interactivity endpoint. */
export function createSlackApp(options: { token: string; signingSecret: string; apiUrl?: string; log: Logger; now: () => number; actions: () => SlackActions }): SlackApp {
  const { log } = options;
  const receiver = new SloeReceiver();
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

  const work = new QuietQueue<Record<string, unknown>>((payload) => {
    receiver.app!.processEvent({ body: payload, ack: async () => undefined }).catch((e: Error) => {
      log.error({ event: 'slack-error', error: e.message }, `Slack interactivity: ${e.message}`);
    });
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
      const payload = interactivityPayload(body);
      if (!payload) return sendJson(res, 400, { error: 'expected an interactivity payload' });
      // Slack has its answer; the work follows once the clicks arriving with this one are answered too.
      res.writeHead(200).end();
      if ('clicks' in payload) work.add(payload.clicks);
      else log.debug({ event: 'slack-payload-ignored', type: payload.other }, `Slack ${payload.other} payload ignored`);
    },
  };
}
