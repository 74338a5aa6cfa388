/**
 * `POST /slack/events`: Slack interactivity (Ack / Resolve / Snooze…) through @slack/bolt on the engine's HTTP
 * server. A receiver of sloe's own checks each request — signature, and a timestamp neither older than 5 minutes
 * nor in the future (Bolt's HTTP receiver only rejects old ones) — and hands the payload to Bolt, which dispatches
 * it to the action handlers; clicks arriving together are handed on together (QuietQueue). A click is answered once
 * its change is stored; when that cannot be done within ANSWER_WITHIN_MS (Slack allows 3 seconds) — Redis paused or
 * away — Slack gets its answer anyway, the user is told in an ephemeral message that nothing was recorded, and the
 * change carries that deadline so that it is not made when the command reaches Redis later. A handler acts only for
 * a responder of the incident's policy (responders.ts); anyone else gets an ephemeral answer, and the refusal is
 * audited.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  App,
  type BlockAction,
  type BlockElementAction,
  type Logger as BoltLogger,
  LogLevel,
  type Receiver,
  type RespondFn,
} from '@slack/bolt';
import { DEFAULT_SNOOZE_MS, type Incident } from '../../incident/model.js';
import type { IncidentActions, IncidentStore, Logger } from '../../incident/ports.js';
import type { Config, OnCallSchedule } from '../../rules/model.js';
import { parseDuration } from '../../rules/duration.js';
import { couldMatch, parseMatcher } from '../../rules/silence.js';
import { checkJsonDepth, readBody, sendJson } from '../../server/http.js';
import { withTimeout } from '../../util/async.js';
import { z } from 'zod';
import { ACTIONS } from './blocks.js';
import { escapeText } from './mrkdwn.js';
import { Responders, type Unresolved, refusalDetail, refusalText } from './responders.js';
import { describeSlackError } from './slack-channel.js';
import { parseSnoozeValue } from './snooze.js';

/** Requests older than this are refused (a replayed request), as are requests dated later than now + skew. */
export const MAX_AGE_SECONDS = 300;
export const MAX_FUTURE_SECONDS = 5;
/** How long the Silence button silences an SLO instance. */
export const BUTTON_SILENCE_MS = 2 * 3600_000;

/** Checks a Slack request signature (`v0=` HMAC-SHA256 of `v0:timestamp:body`) and its timestamp. */
export function verifySlackRequest(
  secret: string,
  body: string,
  timestamp: string | undefined,
  signature: string | undefined,
  nowMs: number,
): string | undefined {
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

/** How long a click may take to be stored before Slack is answered and the user told it was not recorded. */
export const ANSWER_WITHIN_MS = 2500;

/**
 * What the endpoint reads before acting: the incident (its frozen policy), where refusals are written, and the
 * replay cache (`firstSeen`: true the first time a signed request is seen within the TTL).
 */
export type SlackIncidents = Pick<IncidentStore, 'get' | 'addAudit'> & {
  firstSeen?(kind: string, id: string, ttlMs: number): Promise<boolean>;
};

/** How long the replay check may take before the request goes on unchecked (Redis answers it in milliseconds). */
const REPLAY_CHECK_MS = 500;

/** How long a seen signature is remembered: Slack's own window, within which a captured request would verify. */
export const REPLAY_TTL_MS = (MAX_AGE_SECONDS + MAX_FUTURE_SECONDS) * 1000;

/** The incident a click is about and, for Snooze, for how long (or what is wrong with the chosen duration). */
type Choice = { incidentId: string; ms: number } | { incidentId: string; problem: string };

function choice(action: string, element: BlockElementAction): Choice {
  if (action === ACTIONS.snooze && element.type === 'static_select')
    return parseSnoozeValue(element.selected_option.value);
  // Acknowledge and Resolve buttons, and the *Snooze 1h* button of a message posted before the menu existed.
  return { incidentId: element.type === 'button' ? (element.value ?? '') : '', ms: DEFAULT_SNOOZE_MS };
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
  // Too deep a payload is an HttpError 400 of its own (before JSON.parse); malformed JSON is no payload.
  checkJsonDepth(payload, 'payload');
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
export function createSlackApp(options: {
  token: string;
  signingSecret: string;
  apiUrl?: string;
  log: Logger;
  now: () => number;
  actions: () => IncidentActions;
  incidents: () => SlackIncidents;
  /** The on-call schedules of the configuration in force (their members may act on their policies' incidents). */
  schedules: () => ReadonlyMap<string, OnCallSchedule>;
  /** The configuration in force: `/sloe silence` checks its matchers against the SLOs and their policies' responders. */
  config?: () => Pick<Config, 'slos' | 'policies' | 'schedules'>;
}): SlackApp {
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
    clientOptions: {
      ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 10_000,
    },
  });
  const responders = new Responders(app.client, options.now);

  /** Tells the clicking user something only they see: an ephemeral message, or else the click's response_url. */
  const tell = async (body: BlockAction, text: string, respond: RespondFn | undefined) => {
    const channel = body.channel?.id ?? (body.container as { channel_id?: string } | undefined)?.channel_id;
    if (channel) {
      try {
        await app.client.chat.postEphemeral({ channel, user: body.user.id, text });
        return;
      } catch (e) {
        log.warn(
          { event: 'slack-ephemeral-failed', channel, error: describeSlackError(e) },
          `Slack: could not post an ephemeral answer in ${channel} (${describeSlackError(e)}); trying the response_url`,
        );
      }
    }
    try {
      if (!respond) throw new Error('the click has no response_url');
      await respond({ response_type: 'ephemeral', replace_original: false, text });
    } catch (e) {
      log.error(
        { event: 'slack-answer-failed', error: (e as Error).message },
        `Slack: could not answer ${body.user.id}: ${(e as Error).message}`,
      );
    }
  };

  /** Refuses a click by someone who may not act: the log, the audit trail and the user are told. */
  const refuse = async (incident: Incident, label: string, by: string, unresolved: readonly Unresolved[]) => {
    const policy = incident.policy.name;
    for (const u of unresolved) {
      log.error(
        { event: 'slack-responders-unresolved', group: u.group, error: u.error, policy, incidentId: incident.id },
        `Slack: cannot check user group ${u.group} of policy ${policy} (${u.error}); its members cannot act from Slack until it can`,
      );
    }
    await options.incidents().addAudit(incident.id, {
      at: options.now(),
      type: 'refused',
      by,
      detail: refusalDetail(incident.policy, label, unresolved),
    });
    log.warn(
      { event: 'slack-action-refused', action: label, incidentId: incident.id, traceId: incident.traceId, by, policy },
      `Slack ${label} by ${by} refused: not a responder of policy ${policy}`,
    );
  };

  const notRecorded = (label: string, id: string, why: string) =>
    `Your ${label} of incident ${id} was NOT recorded: ${why}. Nothing was changed; please try again in a moment.`;

  const clicked = (
    action: string,
    label: string,
    run: (id: string, by: string, ms: number, deadline: number) => Promise<string>,
  ) =>
    app.action<BlockAction>(action, async ({ ack, body, action: element, respond }) => {
      const deadline = Date.now() + ANSWER_WITHIN_MS;
      const user = body.user;
      const by = `${user.username ?? user.name ?? user.id} (${user.id})`;
      const chosen = choice(action, element);
      const id = chosen.incidentId;
      // What the click did, or what to tell the user instead.
      const work = async (): Promise<{ result: string } | { say: string }> => {
        const incident = id ? await options.incidents().get(id) : undefined;
        if (incident) {
          const verdict = await responders.check(incident.policy, options.schedules(), user.id);
          if (!verdict.allowed) {
            await refuse(incident, label, by, verdict.unresolved);
            return { say: refusalText(incident, label, verdict.unresolved) };
          }
        }
        if ('problem' in chosen) {
          log.warn(
            { event: 'slack-action-invalid', action: label, incidentId: id, by, problem: chosen.problem },
            `Slack ${label} by ${by}: ${chosen.problem}`,
          );
          return { say: `${escapeText(chosen.problem)}; nothing was changed.` };
        }
        return { result: await run(id, by, chosen.ms, deadline) };
      };
      const done = work().catch((e: Error) => ({ result: `failed: ${e.message}` }));
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        done,
        new Promise<undefined>(
          (resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()))),
        ),
      ]);
      clearTimeout(timer);
      await ack();
      if (outcome === undefined) {
        const why = `sloe could not store it within ${ANSWER_WITHIN_MS / 1000} s (Redis is not answering)`;
        log.error(
          { event: 'slack-action-not-recorded', action, incidentId: id, by },
          `Slack ${action} by ${by}: not recorded, ${why}`,
        );
        await tell(body, notRecorded(label, id, why), respond);
        // Made after all (Redis answered just in time after the deadline passed here): say so too.
        const late = await done;
        if ('result' in late && late.result === 'done') {
          log.warn(
            { event: 'slack-action', action, incidentId: id, by, result: 'done', late: true },
            `Slack ${action} by ${by}: recorded after all`,
          );
          await tell(body, `Your ${label} of incident ${id} was recorded after all.`, respond);
        }
        return;
      }
      if ('say' in outcome) return tell(body, outcome.say, respond);
      log.info(
        { event: 'slack-action', action, incidentId: id, by, result: outcome.result },
        `Slack ${action} by ${by}: ${outcome.result}`,
      );
      if (outcome.result.startsWith('failed: '))
        await tell(body, notRecorded(label, id, outcome.result.slice('failed: '.length)), respond);
      else if (outcome.result === 'expired')
        await tell(
          body,
          notRecorded(label, id, `sloe could not store it within ${ANSWER_WITHIN_MS / 1000} s`),
          respond,
        );
    });
  clicked(ACTIONS.ack, 'Ack', (id, by, _ms, deadline) => options.actions().acknowledge(id, by, 'slack', deadline));
  clicked(ACTIONS.resolve, 'Resolve', (id, by, _ms, deadline) => options.actions().resolve(id, by, 'slack', deadline));
  clicked(ACTIONS.snooze, 'Snooze', (id, by, ms, deadline) => options.actions().snooze(id, ms, by, 'slack', deadline));
  clicked(ACTIONS.silence, 'Silence 2h', async (id, by) => {
    const incident = await options.incidents().get(id);
    if (!incident) return 'missing';
    const now = options.now();
    // The SLO instance, whichever incident it opens in the next two hours.
    const matchers = [
      `service = ${incident.service}`,
      `slo = ${incident.slo}`,
      ...Object.entries(incident.labels).map(([k, v]) => `${k} = ${v}`),
    ];
    const made = await options.actions().silence(
      {
        matchers,
        reason: `Silence 2h from Slack on incident ${incident.id} (${incident.sloId})`,
        by,
        endsAt: now + BUTTON_SILENCE_MS,
      },
      'slack',
    );
    if (made instanceof Error) return `refused: ${made.message}`;
    await options
      .incidents()
      .addAudit(id, { at: now, type: 'note', by, detail: `silenced for 2h via slack (silence ${made.id})` });
    return `silence ${made.id}`;
  });
  app.error(async (e) => {
    log.error({ event: 'slack-error', error: e.message }, `Slack interactivity: ${e.message}`);
  });

  /**
   * `/sloe silence DURATION MATCHER… REASON…`: matchers are the words with an operator (`service=checkout`,
   * `slo=~latency-.*`, `model!=sonnet`), the rest is the reason. The user must be a responder of the policy of every
   * SLO the silence may match; the answer (only the user sees it) says what was done, escaped.
   */
  const slashCommand = async (form: URLSearchParams): Promise<string> => {
    const userId = form.get('user_id') ?? '';
    const by = `${form.get('user_name') ?? userId} (${userId})`;
    const words = (form.get('text') ?? '').trim().split(/\s+/).filter(Boolean);
    const usage =
      'Usage: `/sloe silence DURATION MATCHER… REASON…`, e.g. `/sloe silence 2h service=checkout slo=~latency-.* database migration` (at most 7d; a reason is required)';
    if (words[0] !== 'silence') return usage;
    const ms = parseDuration(words[1] ?? '');
    if (ms === undefined || ms <= 0)
      return `${escapeText(`"${words[1] ?? ''}" is not a duration such as 2h.`)} ${usage}`;
    let i = 2;
    const matchers: string[] = [];
    for (; i < words.length && /^[a-zA-Z_][a-zA-Z0-9_]*(=~|!~|!=|=)/.test(words[i]!); i++) matchers.push(words[i]!);
    const reason = words.slice(i).join(' ');
    if (matchers.length === 0) return `A silence needs at least one matcher. ${usage}`;
    if (!reason) return `A silence needs a reason: say why. ${usage}`;
    const config = options.config?.();
    if (!config) return 'Silences cannot be made from Slack here.';
    const parsed = matchers.map(parseMatcher);
    const bad = parsed.find((m): m is Error => m instanceof Error);
    if (bad) return escapeText(bad.message);
    const silence = { matchers: parsed.filter((m): m is Exclude<typeof m, Error> => !(m instanceof Error)) };
    const slos = config.slos.filter((slo) => couldMatch(silence, slo));
    if (slos.length === 0)
      return escapeText(`The silence would match no SLO (${matchers.join(', ')}): nothing was silenced.`);
    for (const name of new Set(slos.map((slo) => slo.escalation))) {
      const policy = config.policies.get(name);
      if (!policy) continue;
      const verdict = await responders.check(policy, config.schedules, userId);
      if (!verdict.allowed) {
        log.warn(
          { event: 'slack-action-refused', action: 'silence', by, policy: name },
          `Slack /sloe silence by ${by} refused: not a responder of policy ${name}`,
        );
        return escapeText(`Only responders of policy ${name} may silence its SLOs: nothing was silenced.`);
      }
    }
    const made = await options.actions().silence({ matchers, reason, by, endsAt: options.now() + ms }, 'slack');
    if (made instanceof Error) return escapeText(`${made.message}: nothing was silenced.`);
    const until = made.silence.window.kind === 'fixed' ? new Date(made.silence.window.endsAt).toISOString() : '';
    return escapeText(
      `Silence ${made.id} until ${until} (${slos.length} SLO(s): ${slos.map((s) => s.id).join(', ')}): ${reason}`,
    );
  };

  const work = new QuietQueue<{ payload: Record<string, unknown>; answer: () => void }>(({ payload, answer }) => {
    receiver
      .app!.processEvent({ body: payload, ack: async () => answer() })
      .catch((e: Error) => log.error({ event: 'slack-error', error: e.message }, `Slack interactivity: ${e.message}`))
      // A click no handler answered (an unknown action) is answered here.
      .finally(answer);
  });

  return {
    client: app.client,
    async handler(req, res) {
      const body = await readBody(req);
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const problem = verifySlackRequest(
        options.signingSecret,
        body,
        header('x-slack-request-timestamp'),
        header('x-slack-signature'),
        options.now(),
      );
      if (problem) {
        log.warn({ event: 'slack-request-rejected', reason: problem }, `Slack request refused: ${problem}`);
        return sendJson(res, 401, { error: problem });
      }
      // A signed request is good for 5 minutes: one seen before (by any replica) is a replay. The signature names
      // the request (it covers the timestamp and the body). When Redis does not answer the check in time, the request
      // goes on without it: whatever it asks needs Redis too, within the click's own deadline, and the user is told
      // when that deadline passes (a replay could at most repeat what its user already did, in that moment).
      const arrivedAt = Date.now();
      const incidents = options.incidents();
      if (incidents.firstSeen) {
        let first = true;
        try {
          first = await withTimeout(REPLAY_CHECK_MS, () =>
            incidents.firstSeen!('slack', header('x-slack-signature')!, REPLAY_TTL_MS),
          );
        } catch (e) {
          log.error(
            { event: 'slack-replay-check-failed', error: (e as Error).message },
            `Slack request not checked against replays: ${(e as Error).message}`,
          );
        }
        if (!first) {
          log.warn(
            { event: 'slack-request-rejected', reason: 'replayed' },
            'Slack request refused: replayed (its signature was seen within 5 minutes)',
          );
          return sendJson(res, 401, { error: 'request replayed' });
        }
      }
      const command = new URLSearchParams(body);
      if (command.get('command') !== null && !command.has('payload')) {
        const reply = await withTimeout(2500, () => slashCommand(command)).catch(
          () => 'Still working on it: `GET /api/silences` will list the silence once it is made.',
        );
        return sendJson(res, 200, { response_type: 'ephemeral', text: reply });
      }
      const payload = interactivityPayload(body);
      if (!payload) return sendJson(res, 400, { error: 'expected an interactivity payload' });
      if (!('clicks' in payload)) {
        res.writeHead(200).end();
        return log.debug(
          { event: 'slack-payload-ignored', type: payload.other },
          `Slack ${payload.other} payload ignored`,
        );
      }
      // Answered once the click is stored, or when it cannot be in time (and the user is told so); never later than
      // Slack waits for, whatever happens in between.
      let answered = false;
      const answer = () => {
        if (answered) return;
        answered = true;
        clearTimeout(guard);
        if (!res.writableEnded) res.writeHead(200).end();
      };
      const guard = setTimeout(answer, Math.max(0, arrivedAt + ANSWER_WITHIN_MS + 300 - Date.now()));
      work.add({ payload: payload.clicks, answer });
    },
  };
}
