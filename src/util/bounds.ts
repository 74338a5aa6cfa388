/**
 * Caps on what reaches Slack and PagerDuty. Label values come from the monitored application (and so from its
 * users) and may be of any length and number; each is cut to a documented length, and only so many are shown.
 */

/** The longest label value shown in Slack or sent to PagerDuty (longer ones end in `…`). */
export const MAX_LABEL_VALUE = 256;
/** The most labels shown or sent; the others are counted (`…and N more`). */
export const MAX_LABELS = 32;

/** `text` cut to at most `max` characters (code points kept whole), ending in `…` when it was cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const c = text.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--; // a high surrogate without its pair
  return `${text.slice(0, cut)}…`;
}

/** The labels with their values cut to MAX_LABEL_VALUE, at most MAX_LABELS of them (by name), and how many were left out. */
export function boundedLabels(labels: Readonly<Record<string, string>>): {
  labels: Record<string, string>;
  omitted: number;
} {
  const names = Object.keys(labels).sort();
  const kept = names.slice(0, MAX_LABELS);
  return {
    labels: Object.fromEntries(
      kept.map((n) => [truncate(n, MAX_LABEL_VALUE), truncate(String(labels[n]), MAX_LABEL_VALUE)]),
    ),
    omitted: names.length - kept.length,
  };
}
