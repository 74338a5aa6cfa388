/**
 * Slack as a channel: a `slack` step posts the incident's message (with Ack / Resolve / Snooze) to its channel;
 * later steps and changes go into that message's thread, and acknowledgement and resolution update the message.
 */
import type { WebClient } from '@slack/web-api';
import { ErrorCode } from '@slack/web-api';
import { type Incident, acknowledgedAs } from '../../incident/model.js';
import type { Channel, DeliveryResult, StepContext, UpdateContext } from '../notifier.js';
import { classifyHttp } from '../notifier.js';
import { slackChannel } from '../../rules/env.js';
import { redactUrls } from '../../util/redact.js';
import { sleep } from '../../util/async.js';
import { SLACK_LIMITS, incidentMessage } from './blocks.js';
import { escapeText, fitMrkdwn } from './mrkdwn.js';
import { STORM, type SlackFlow, type Storm, stormMessage } from './storm.js';

/** Platform errors that may pass; the others (not_in_channel, invalid_auth, …) need a person. */
const TRANSIENT = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

type WebApiError = {
  code?: string;
  retryAfter?: number;
  statusCode?: number;
  headers?: Record<string, string>;
  data?: { error?: string; needed?: string };
  message?: string;
};

/** What went wrong in a Web API call, in a few words: "Slack said missing_scope (needs usergroups:read)". */
export function describeSlackError(e: unknown): string {
  const err = e as WebApiError;
  switch (err.code) {
    case ErrorCode.RateLimitedError:
      return `rate limited by Slack (retry after ${err.retryAfter ?? 1}s)`;
    case ErrorCode.HTTPError:
      return `Slack answered HTTP ${err.statusCode}`;
    case ErrorCode.PlatformError:
      return `Slack said ${err.data?.error ?? 'unknown_error'}${err.data?.needed ? ` (needs ${err.data.needed})` : ''}`;
    default:
      return err.message ?? String(e);
  }
}

/** Turns a Web API failure into a delivery result the retry stage understands. */
export function slackFailure(e: unknown, what: string): DeliveryResult {
  const err = e as WebApiError;
  const error = `${what}: ${describeSlackError(e)}`;
  switch (err.code) {
    case ErrorCode.RateLimitedError:
      return { ok: false, retry: true, retryAfterMs: (err.retryAfter ?? 1) * 1000, error };
    case ErrorCode.HTTPError: {
      const verdict = classifyHttp(err.statusCode ?? 0, err.headers?.['retry-after']);
      return {
        ok: false,
        retry: verdict.retry,
        ...(verdict.retryAfterMs !== undefined ? { retryAfterMs: verdict.retryAfterMs } : {}),
        error,
      };
    }
    case ErrorCode.PlatformError:
      return { ok: false, retry: TRANSIENT.has(err.data?.error ?? 'unknown_error'), error };
    default:
      return { ok: false, retry: true, error };
  }
}

/** The Slack Web API calls sloe makes, each answering a delivery result. */
export class SlackApi {
  constructor(readonly client: WebClient) {}

  /** Posts a message, or a reply in a thread; `broadcast` shows the reply in the channel too. */
  async post(
    channel: string,
    message: { text: string; blocks?: unknown[] },
    threadTs?: string,
    broadcast = false,
    shownAs = channel,
  ): Promise<DeliveryResult & { channel?: string; ts?: string }> {
    try {
      const base = {
        channel,
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks as never } : {}),
        unfurl_links: false,
      };
      const r = await this.client.chat.postMessage(
        threadTs ? { ...base, thread_ts: threadTs, reply_broadcast: broadcast } : base,
      );
      return { ok: true, channel: String(r.channel), ts: String(r.ts) };
    } catch (e) {
      return slackFailure(e, `posting to ${shownAs}`);
    }
  }

  async update(channel: string, ts: string, message: { text: string; blocks: unknown[] }): Promise<DeliveryResult> {
    try {
      await this.client.chat.update({ channel, ts, text: message.text, blocks: message.blocks as never });
      return { ok: true };
    } catch (e) {
      return slackFailure(e, 'updating the incident message');
    }
  }

  /** The DM channel with a user. */
  async openDm(user: string): Promise<DeliveryResult & { channel?: string }> {
    try {
      const r = await this.client.conversations.open({ users: user });
      return { ok: true, channel: String(r.channel?.id) };
    } catch (e) {
      return slackFailure(e, `opening a DM with ${user}`);
    }
  }

  async permalink(channel: string, ts: string): Promise<string | undefined> {
    try {
      return (await this.client.chat.getPermalink({ channel, message_ts: ts })).permalink;
    } catch {
      return undefined;
    }
  }
}

/** Slack's pace and storms (shared by the replicas), and the incidents a storm summary lists. */
export interface SlackPacing {
  flow: SlackFlow;
  incidents(ids: readonly string[]): Promise<Incident[]>;
}

/** A delivery not attempted now: run it again after `ms`. */
const later = (ms: number, why: string): DeliveryResult => ({
  ok: false,
  retry: true,
  later: Math.max(1, Math.ceil(ms)),
  error: why,
});

export class SlackChannel implements Channel {
  readonly name = 'slack';

  /**
   * `env` fills in `${SLACK_CHANNEL_…}` references when a message is sent; messages and logs show them as written.
   * With `pacing`, messages to a channel keep Slack's pace and a storm of incidents is summarised in one message.
   */
  constructor(
    private readonly api: SlackApi,
    private readonly env: NodeJS.ProcessEnv = {},
    private readonly pacing?: SlackPacing,
  ) {}

  /**
   * Waits for Slack's pace on `channel`: undefined when a message may go now (a turn within one interval is waited
   * for in place, once), else a delivery to run later, from the queue.
   */
  private async paced(channel: string): Promise<DeliveryResult | undefined> {
    if (!this.pacing) return undefined;
    let wait = await this.pacing.flow.pace(channel);
    if (wait > 0 && wait <= STORM.postIntervalMs) {
      await sleep(wait);
      wait = await this.pacing.flow.pace(channel);
    }
    return wait > 0 ? later(wait, `paced: Slack takes about one message a second in ${channel}`) : undefined;
  }

  async step({ incident, step, round, group }: StepContext): Promise<DeliveryResult> {
    if (step.notify !== 'slack') return { ok: false, retry: false, error: `not a Slack step: ${step.notify}` };
    const target = slackChannel(step.channel, this.env);
    if ('error' in target) return { ok: false, retry: false, error: target.error };
    const main = mainMessage(incident);
    if (round > 0 && main && incident.refs['slack.target'] === step.channel) {
      // A repetition into the channel of the incident's message: a reply in its thread, also shown in the channel.
      const wait = await this.paced(paceKey(incident, main));
      if (wait) return wait;
      const intro = `:repeat: Still firing and not acknowledged (reminder ${round}). Please look at it and press *Ack*.`;
      const reminded = await this.api.post(main.channel, incidentMessage(incident, intro, group), main.ts, true);
      return reminded.ok ? { ok: true, detail: `reminder ${round} in ${step.channel}` } : reminded;
    }
    if (this.pacing) {
      const admitted = await this.pacing.flow.admit(target.channel, incident.id);
      if (!admitted.post) return this.inStorm(this.pacing, target.channel, step.channel, incident, admitted.storm);
    }
    const wait = await this.paced(target.channel);
    if (wait) return wait;
    const posted = await this.api.post(
      target.channel,
      incidentMessage(incident, undefined, group),
      undefined,
      false,
      step.channel,
    );
    if (!posted.ok) return posted;
    if (main) {
      // A second Slack step (another channel): the first message stays the one that is updated; note it there.
      await this.api.post(main.channel, { text: `Also posted in ${escapeText(step.channel)}.` }, main.ts);
      return { ok: true, detail: `posted in ${step.channel}` };
    }
    const permalink = await this.api.permalink(posted.channel!, posted.ts!);
    return {
      ok: true,
      refs: {
        'slack.channel': posted.channel!,
        'slack.ts': posted.ts!,
        'slack.target': step.channel,
        'slack.pace': target.channel,
        ...(permalink ? { 'slack.permalink': permalink } : {}),
      },
      detail: `posted in ${step.channel}`,
    };
  }

  /**
   * An incident in a storm of `channel` (`shown` as the step names it): the storm's first posts the summary, the
   * one that joined last makes sure the summary shows it (the others are shown by then).
   */
  private async inStorm(
    pacing: SlackPacing,
    channel: string,
    shown: string,
    incident: Incident,
    storm: Storm,
  ): Promise<DeliveryResult> {
    const joined: DeliveryResult = {
      ok: true,
      refs: { 'slack.storm': shown },
      detail: `in the storm summary of ${shown} (${storm.count} incidents): not posted one by one`,
    };
    if (storm.creator === incident.id && !storm.message) {
      const wait = await this.paced(channel);
      if (wait) return wait;
      const posted = await this.api.post(
        channel,
        stormMessage(shown, storm, await pacing.incidents(storm.first)),
        undefined,
        false,
        shown,
      );
      if (!posted.ok) return posted;
      await pacing.flow.posted(channel, { channel: posted.channel!, ts: posted.ts! });
      return {
        ok: true,
        refs: { 'slack.storm': shown },
        detail: `storm summary posted in ${shown}: ${storm.count} incident(s) not posted one by one`,
      };
    }
    if (storm.latest !== incident.id) return joined;
    if (!storm.message) return later(STORM.refreshMs, `the storm summary of ${shown} is not posted yet`);
    const wait = (await pacing.flow.paceRefresh(channel)) ?? 0;
    if (wait > 0)
      return later(wait, `the storm summary of ${shown} was updated less than ${STORM.refreshMs / 1000}s ago`);
    const now = (await pacing.flow.storm(channel)) ?? storm;
    const updated = await this.api.update(
      storm.message.channel,
      storm.message.ts,
      stormMessage(shown, now, await pacing.incidents(now.first)),
    );
    return updated.ok ? joined : updated;
  }

  async update({ incident, update, text, origin, group }: UpdateContext): Promise<DeliveryResult | undefined> {
    const main = mainMessage(incident);
    if (!main) return undefined;
    if (update === 'note') {
      if (origin === this.name || !text) return undefined;
      const wait = await this.paced(paceKey(incident, main));
      if (wait) return wait;
      // Notes are plain text (audit details, delivery errors, names from specs): shown as written, without the
      // credentials a URL in an error may carry.
      return this.api.post(
        main.channel,
        { text: fitMrkdwn(escapeText(redactUrls(text)), SLACK_LIMITS.section) },
        main.ts,
      );
    }
    // The message is updated and a note posted in its thread: both once the channel's pace lets the note go.
    const wait = update === 'grouped' ? undefined : await this.paced(paceKey(incident, main));
    if (wait) return wait;
    const updated = await this.api.update(main.channel, main.ts, incidentMessage(incident, undefined, group));
    // A group's members changed: its message, updated in place, says so; the thread is left quiet.
    if (!updated.ok || update === 'grouped')
      return updated.ok ? { ok: true, detail: `group of ${group?.length ?? 1} shown` } : updated;
    const by =
      update === 'acknowledged' ? incident.acknowledgedBy : update === 'resolved' ? incident.resolvedBy : undefined;
    const who = by === undefined ? undefined : escapeText(by);
    const note =
      update === 'acknowledged'
        ? `:eyes: Acknowledged by ${who ?? 'someone'}${origin && origin !== 'slack' ? ` (in ${origin})` : ''}: remaining escalation steps cancelled.`
        : update === 'resolved'
          ? who && who !== 'sloe'
            ? `:white_check_mark: Resolved by ${who}${origin && origin !== 'slack' ? ` (in ${origin})` : ''}.`
            : ':white_check_mark: Resolved: healthy again.'
          : update === 'snoozed'
            ? `:zzz: Snoozed until ${new Date(incident.snoozedUntil ?? 0).toISOString()}.`
            : raisedNote(incident);
    return this.api.post(main.channel, { text: fitMrkdwn(note, SLACK_LIMITS.section) }, main.ts);
  }
}

/** The thread note of a raise; a raise that re-armed an acknowledged incident says who had acknowledged what. */
function raisedNote(i: Incident): string {
  const ack = i.previousAck;
  if (!ack) return `:arrow_up: Raised to ${i.severity}: ${escapeText(i.message)}`;
  const what = ack.severity === i.severity ? 'Now a breach' : `Raised to ${i.severity}`;
  return `:rotating_light: ${what} — was acknowledged by ${escapeText(ack.by)} as ${acknowledgedAs(ack)}; firing again, escalation starts over: ${escapeText(i.message)}`;
}

/** The channel whose pace the incident's thread keeps: as its first message was paced. */
function paceKey(i: Incident, main: { channel: string }): string {
  return i.refs['slack.pace'] ?? main.channel;
}

function mainMessage(i: Incident): { channel: string; ts: string } | undefined {
  const channel = i.refs['slack.channel'];
  const ts = i.refs['slack.ts'];
  return channel && ts ? { channel, ts } : undefined;
}
