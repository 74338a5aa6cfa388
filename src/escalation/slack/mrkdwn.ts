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
  const href = escapeText(url).replace(/\|/g, '%7C').replace(/\s/g, (c) => encodeURIComponent(c));
  return `<${href}|${escapeText(label)}>`;
}
