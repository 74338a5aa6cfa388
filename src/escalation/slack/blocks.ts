/** The Slack message of an incident: what broke, against what, since when, whose dashboard, and the buttons. */
import { groupStatus } from '../../incident/group.js';
import type { Incident } from '../../incident/model.js';
import { formatLabels } from '../../evaluator/labels.js';
import { SNOOZE_CHOICES, snoozeValue } from './snooze.js';
import { MAX_LABELS, boundedLabels, truncate } from '../../util/bounds.js';
import { escapeText, fitMrkdwn, slackLink } from './mrkdwn.js';

/** Slack's limits: a header's text, a section's text, one field of a section, blocks in a message. */
export const SLACK_LIMITS = { header: 150, section: 3000, field: 2000, blocks: 50 } as const;
/** The longest incident message (value, or evaluation error) shown. */
const MAX_MESSAGE = 1500;
/** A link longer than this is shown as its label only (a link cannot be cut without breaking it). */
const MAX_LINK = 1500;

export const ACTIONS = {
  ack: 'sloe_ack',
  resolve: 'sloe_resolve',
  snooze: 'sloe_snooze',
  silence: 'sloe_silence',
} as const;

// Block Kit objects, typed loosely: the Web API takes them as JSON.
type Block = Record<string, unknown>;

const SEVERITY_ICON = { page: ':rotating_light:', ticket: ':large_yellow_circle:' } as const;

/** `<!date^…>` shows a time in the reader's own time zone. */
function slackTime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `<!date^${s}^{date_short_pretty} {time}|${new Date(ms).toISOString()}>`;
}

/** The state line: firing, or who acknowledged / resolved / snoozed it when. */
export function statusLine(i: Incident): string {
  if (i.status === 'resolved')
    return `:white_check_mark: *Resolved* ${i.resolvedAt ? slackTime(i.resolvedAt) : ''}${i.resolvedBy && i.resolvedBy !== 'sloe' ? ` by ${escapeText(i.resolvedBy)}` : ' (healthy again)'}`;
  if (i.status === 'acknowledged')
    return `:eyes: *Acknowledged* by ${escapeText(i.acknowledgedBy ?? 'someone')} ${i.acknowledgedAt ? slackTime(i.acknowledgedAt) : ''}`;
  if (i.snoozedUntil && i.snoozedUntil > Date.now())
    return `:zzz: *Snoozed* until ${slackTime(i.snoozedUntil)}: escalation resumes then`;
  if (i.heldUntil && i.heldUntil > Date.now())
    return `:mute: *Silenced* until ${slackTime(i.heldUntil)} by ${escapeText(i.heldBy ?? 'a silence')}: escalation starts then if still firing`;
  return `:fire: *Firing* since ${slackTime(i.firedAt)}`;
}

/** The most members of a group listed in its message, one line each; the others are counted. */
const MAX_GROUP_LINES = 20;

const MEMBER_ICON = { firing: ':fire:', acknowledged: ':eyes:', resolved: ':white_check_mark:' } as const;

/** One line per member of a group: its state, its labels and its value (`:fire: {model="a"} 1.2s`). */
function groupLines(group: readonly Incident[]): string {
  const lines = group.slice(0, MAX_GROUP_LINES).map((m) => {
    const bounded = boundedLabels(m.labels);
    const what = m.sloId === group[0]!.sloId ? '' : `${m.sloId} `;
    return `${MEMBER_ICON[m.status]} ${escapeText(truncate(`${what}${formatLabels(bounded.labels)}`, 300))}: ${escapeText(truncate(m.message, 200))}`;
  });
  const more = group.length - MAX_GROUP_LINES;
  return [...lines, ...(more > 0 ? [`…and ${more} more`] : [])].join('\n');
}

/**
 * The message posted by a Slack step (and updated as the incident changes). `intro` starts an on-call DM. With a
 * `group` of more than one incident (the leader first) it speaks for the group: its state is the group's, and a line
 * per member follows the leader's details.
 */
export function incidentMessage(
  leader: Incident,
  intro?: string,
  group?: readonly Incident[],
): { text: string; blocks: Block[] } {
  const grouped = group !== undefined && group.length > 1;
  const i: Incident = grouped ? { ...leader, status: groupStatus(group) } : leader;
  // Every value below comes from a spec, from Prometheus (label values) or from a person: escaped where it is put in
  // mrkdwn, and bounded (label values, their number, the message) so that every block stays within Slack's limits.
  const bounded = boundedLabels(i.labels);
  const plainLabels =
    formatLabels(bounded.labels) +
    (bounded.omitted > 0 ? ` …and ${bounded.omitted} more labels (at most ${MAX_LABELS} are shown)` : '');
  const labels = escapeText(plainLabels);
  const message = escapeText(truncate(i.message, MAX_MESSAGE));
  // A header is plain_text: Slack shows it as written and parses no markup in it, so it is not escaped.
  const count = grouped ? ` — ${group.length} incidents` : '';
  const title = truncate(
    `${SEVERITY_ICON[i.severity]} ${i.severity.toUpperCase()} ${i.service} / ${i.slo}${grouped ? count : plainLabels}`,
    SLACK_LIMITS.header,
  );
  const text = fitMrkdwn(
    `${i.severity.toUpperCase()} ${escapeText(i.sloId)}${grouped ? count : labels}: ${message}`,
    SLACK_LIMITS.section,
  );
  const link = (url: string, label: string) => (url.length <= MAX_LINK ? slackLink(url, label) : escapeText(label));
  const dashboard = i.dashboard.url ? link(i.dashboard.url, i.dashboard.title) : escapeText(i.dashboard.title);
  const fields = [
    `*Value*\n${i.reason === 'breach' ? message : `${i.reason}: ${message}`}`,
    `*Alert when*\n${escapeText(i.condition)}`,
    `*Objective*\n${escapeText(i.objective ?? '—')}`,
    `*Since*\n${slackTime(i.firedAt)}`,
    `*Severity*\n${i.severity}`,
    `*Dashboard*\n${dashboard} — owner *${escapeText(i.dashboard.owner)}*`,
    `*Service owner*\n${escapeText(i.owner)}`,
    `*Runbook*\n${i.runbook ? link(i.runbook, 'runbook') : '—'}`,
  ];
  const blocks: Block[] = [
    ...(intro ? [{ type: 'section', text: { type: 'mrkdwn', text: fitMrkdwn(intro, SLACK_LIMITS.section) } }] : []),
    { type: 'header', text: { type: 'plain_text', text: title, emoji: true } },
    { type: 'section', fields: fields.map((f) => ({ type: 'mrkdwn', text: fitMrkdwn(f, SLACK_LIMITS.field) })) },
    ...(grouped
      ? [{ type: 'section', text: { type: 'mrkdwn', text: fitMrkdwn(groupLines(group), SLACK_LIMITS.section) } }]
      : []),
    { type: 'context', elements: [{ type: 'mrkdwn', text: fitMrkdwn(statusLine(i), SLACK_LIMITS.section) }] },
  ];
  const buttons: Block[] = [];
  if (i.status === 'firing') {
    buttons.push({
      type: 'button',
      action_id: ACTIONS.ack,
      text: { type: 'plain_text', text: 'Ack' },
      style: 'primary',
      value: i.id,
    });
  }
  if (i.status !== 'resolved') {
    buttons.push({
      type: 'button',
      action_id: ACTIONS.resolve,
      text: { type: 'plain_text', text: 'Resolve' },
      style: 'danger',
      value: i.id,
    });
  }
  if (i.status === 'firing') {
    buttons.push({
      type: 'static_select',
      action_id: ACTIONS.snooze,
      placeholder: { type: 'plain_text', text: 'Snooze…' },
      options: SNOOZE_CHOICES.map(([duration, label]) => ({
        text: { type: 'plain_text', text: label },
        value: snoozeValue(i.id, duration),
      })),
    });
    // A silence covers this SLO instance, whichever incident it opens next, not only this one.
    buttons.push({
      type: 'button',
      action_id: ACTIONS.silence,
      text: { type: 'plain_text', text: 'Silence 2h' },
      value: i.id,
    });
  }
  if (buttons.length) blocks.push({ type: 'actions', block_id: `sloe_${i.id}`, elements: buttons });
  return { text, blocks };
}
