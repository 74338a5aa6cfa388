/**
 * Slack text escaping. Slack reads `&`, `<` and `>` as control characters in message text (mentions such as
 * `<!channel>` and `<@U123>`, links such as `<https://…|label>`), so every value sloe interpolates — from specs, from
 * Prometheus label values, from whoever acknowledged — is escaped as Slack documents it: those three characters
 * become `&amp;`, `&lt;` and `&gt;`, and nothing else changes.
 */

/** A value shown as written, never read as markup. */
export function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A link `<url|label>` with the label escaped. The URL is escaped too, and a `|` or whitespace in it (which a spec
 * cannot contain, but an incident stored by an older version might) is percent-encoded so the label stays the label.
 */
export function slackLink(url: string, label: string): string {
  const href = escapeText(url)
    .replace(/\|/g, '%7C')
    .replace(/\s/g, (c) => encodeURIComponent(c));
  return `<${href}|${escapeText(label)}>`;
}

/**
 * Escaped mrkdwn cut to at most `max` characters without breaking it: never inside an entity (`&amp;`), a link or
 * a date (`<…>`), or a surrogate pair; ends in `…` when cut.
 */
export function fitMrkdwn(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp >= 0 && text.indexOf(';', amp) >= cut) cut = amp;
  const open = text.lastIndexOf('<', cut - 1);
  if (open >= 0 && text.indexOf('>', open) >= cut) cut = open;
  const c = text.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}
