/**
 * Slack's pace, shared by every replica: about one message a second per channel (short bursts allowed), and storms.
 * When more incidents open on a channel than it can take — more than STORM.admit first messages within
 * STORM.windowMs — the channel is in a storm: the incidents after that are not posted one by one but counted and
 * listed in one summary message ("N more incidents: see the status page"), updated in place at most every
 * STORM.refreshMs, until no incident has joined for STORM.quietMs. PagerDuty is not paced: it is another channel.
 */
import type { Incident } from '../../incident/model.js';
import { formatLabels } from '../../evaluator/labels.js';
import { boundedLabels, truncate } from '../../util/bounds.js';
import { SLACK_LIMITS } from './blocks.js';
import { escapeText, fitMrkdwn } from './mrkdwn.js';

export const STORM = {
  /** Messages to one channel: one per postIntervalMs, up to postBurst at once. */
  postIntervalMs: 1000,
  postBurst: 3,
  /** First messages of incidents a channel takes within windowMs before it is in a storm. */
  admit: 10,
  windowMs: 10_000,
  /** A storm ends when no incident has joined it for this long. */
  quietMs: 60_000,
  /** The storm summary is updated at most this often. */
  refreshMs: 2000,
  /** Incidents listed in the summary, one line each; the others are counted. */
  lines: 20,
} as const;

/** A channel's storm as stored: who started it, who joined last, its summary message once posted. */
export interface Storm {
  /** The incident whose step posts the summary. */
  creator: string;
  /** The incident that joined last: its step makes sure the summary shows it. */
  latest: string;
  since: number;
  count: number;
  /** The first incidents, in the order they joined (at most STORM.lines). */
  first: string[];
  /** Where the summary is, once posted. */
  message?: { channel: string; ts: string };
}

/**
 * Slack's pace and storms per channel, kept where every replica sees them (Redis: engine/slack-flow.ts). A channel
 * is named by its target as written in the step, filled in (`#ai-alerts`, `C0123`).
 */
export interface SlackFlow {
  /** 0 when a message may go to `channel` now (it is counted), else how long until one may (ms). */
  pace(channel: string): Promise<number>;
  /** 0 when the storm summary of `channel` may be updated now (it is counted), else how long until it may. */
  paceRefresh(channel: string): Promise<number>;
  /** Whether an incident's first message in `channel` is posted, or the incident joins the channel's storm. */
  admit(channel: string, incidentId: string): Promise<{ post: true } | { post: false; storm: Storm }>;
  /** The storm of `channel`, while it lasts. */
  storm(channel: string): Promise<Storm | undefined>;
  /** Records where the storm summary of `channel` was posted. */
  posted(channel: string, message: { channel: string; ts: string }): Promise<void>;
}

/** The storm summary: how many incidents, since when, a line for each of the first, and where to see them all. */
export function stormMessage(
  target: string,
  storm: Storm,
  first: readonly Incident[],
): { text: string; blocks: unknown[] } {
  const since = new Date(storm.since).toISOString();
  const head = `:cyclone: *${storm.count} more incident(s)* in ${escapeText(target)} since <!date^${Math.floor(storm.since / 1000)}^{time}|${since}>: a storm. Slack takes about one message a second per channel, so they are not posted one by one; each is on sloe's status page (and \`GET /api/incidents\`), and PagerDuty steps run as usual.`;
  const lines = first.slice(0, STORM.lines).map((i) => {
    const labels = formatLabels(boundedLabels(i.labels).labels);
    return `• ${i.severity.toUpperCase()} ${escapeText(truncate(`${i.sloId}${labels}`, 300))}: ${escapeText(truncate(i.message, 200))}`;
  });
  const more = storm.count - lines.length;
  const list = [...lines, ...(more > 0 ? [`…and ${more} more`] : [])].join('\n');
  const text = fitMrkdwn(
    `${storm.count} more incidents in ${escapeText(target)}: see the status page`,
    SLACK_LIMITS.section,
  );
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: fitMrkdwn(head, SLACK_LIMITS.section) } },
      ...(list ? [{ type: 'section', text: { type: 'mrkdwn', text: fitMrkdwn(list, SLACK_LIMITS.section) } }] : []),
    ],
  };
}
