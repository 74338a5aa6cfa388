/**
 * Credentials out of URLs: every URL inside a text loses its userinfo (`user:pass@`) and the values of query or
 * fragment parameters whose names look secret (`token`, `api_key`, `X-Amz-Signature`, …). Anything that may carry a
 * URL to a log line, a message, a metric or an HTTP answer passes it through here. Linear in the text's length.
 */

/** Placeholder of a removed parameter value. */
export const REDACTED = '[redacted]';

/** Words that make a parameter name secret-looking, wherever they stand in it (`private_token`, `X-Amz-Signature`). */
const SECRET_WORDS = new Set([
  'token',
  'key',
  'secret',
  'password',
  'passwd',
  'pwd',
  'pass',
  'auth',
  'authorization',
  'signature',
  'sig',
  'credential',
  'credentials',
  'session',
  'sessionid',
  'sid',
  'jwt',
  'bearer',
]);

/** Endings that make a word secret-looking when written without a separator (`apiKey`, `authToken`, `clientSecret`). */
const SECRET_ENDINGS = ['token', 'key', 'secret', 'password', 'passwd', 'signature'];

/** Every secret word contains one of these: names without any are let through without splitting them up. */
const SECRET_HINT = /token|key|secret|pass|pwd|auth|sig|credential|session|sid|jwt|bearer|%/i;

const SCHEME_CHAR = /[a-z0-9+.-]/i;
const LETTER = /[a-z]/i;
/** Characters that end a URL inside text: whitespace, quotes, JSON escapes, and Slack's `<url|label>` markup. */
const URL_END = /[\s"'<>\\`|{}^]/;
const MAX_SCHEME = 32;

/** True when a query parameter of this name probably carries a secret. */
export function isSecretParameter(name: string): boolean {
  if (!SECRET_HINT.test(name)) return false;
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // keep the raw name
  }
  return decoded
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .some((word) => SECRET_WORDS.has(word) || SECRET_ENDINGS.some((ending) => word.endsWith(ending)));
}

/** One URL (`scheme://…`) without its userinfo and its secret parameter values. */
export function redactUrl(url: string): string {
  const afterScheme = url.indexOf('://') + 3;
  const rest = url.slice(afterScheme);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  // The last `@` of the authority ends the userinfo, as URL parsers read it (an unencoded `@` in a password).
  const at = authority.lastIndexOf('@');
  const stripped = url.slice(0, afterScheme) + (at < 0 ? rest : rest.slice(at + 1));
  return stripped.replace(/([?&#;])([^=&#;?]*)=([^&#;]*)/g, (whole, sep: string, name: string) => (isSecretParameter(name) ? `${sep}${name}=${REDACTED}` : whole));
}

/** The text with every URL in it redacted (see redactUrl); text without `://` comes back as it is. */
export function redactUrls(text: string): string {
  let found = text.indexOf('://');
  if (found < 0) return text;
  let out = '';
  let copied = 0;
  while (found >= 0) {
    let start = found;
    while (start > copied && found - start < MAX_SCHEME && SCHEME_CHAR.test(text[start - 1]!)) start--;
    while (start < found && !LETTER.test(text[start]!)) start++;
    let end = found + 3;
    while (end < text.length && !URL_END.test(text[end]!)) end++;
    if (start < found) {
      out += text.slice(copied, start) + redactUrl(text.slice(start, end));
      copied = end;
    }
    found = text.indexOf('://', Math.max(end, found + 3));
  }
  return out + text.slice(copied);
}
