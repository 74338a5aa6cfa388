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
  'p',
  'pw',
  'passphrase',
  'hmac',
  'code',
  'sessid',
  'jsessionid',
  'apikey',
]);

/** Endings that make a word secret-looking when written without a separator (`apiKey`, `authToken`, `clientSecret`). */
const SECRET_ENDINGS = ['token', 'key', 'secret', 'password', 'passwd', 'signature', 'sessid', 'sessionid'];

/** Every secret word contains one of these: names without any are let through without splitting them up. */
const SECRET_HINT = /token|key|secret|pass|pwd|pw|auth|sig|credential|sess|sid|jwt|bearer|hmac|code|^p$|%/i;

const SCHEME_CHAR = /[a-z0-9+.-]/i;
const LETTER = /[a-z]/i;
/** Characters that end a URL inside text: whitespace, quotes, JSON escapes, and Slack's `<url|label>` markup. */
const URL_END = /[\s"'<>\\`|]/;
const MAX_SCHEME = 32;
/**
 * How far after `scheme://` an `@` still ends a userinfo. Passwords may hold any character but `/?#@` and line
 * breaks (`{}|^\`"'<>` and spaces included, as written in a careless log line), so the userinfo is read up to its
 * last `@` before one of those, whatever URL_END says. In text shaped as a JSON object (a log line) an unescaped `"`
 * ends it too: there it closes a string, and the next field is never taken for a password.
 */
const MAX_USERINFO = 256;

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
  // Path parameters (`;jsessionid=…`) end at the query; query and fragment parameters at `&`, `#` or `;`.
  const queryAt = stripped.search(/[?#]/);
  const path = queryAt < 0 ? stripped : stripped.slice(0, queryAt);
  const query = queryAt < 0 ? '' : stripped.slice(queryAt);
  const secret = (whole: string, sep: string, name: string) =>
    isSecretParameter(name) ? `${sep}${name}=${REDACTED}` : whole;
  return path.replace(/(;)([^=;/]*)=([^;/]*)/g, secret) + query.replace(/([?&#;])([^=&#;?]*)=([^&#;]*)/g, secret);
}

/**
 * Where the userinfo after `scheme://` (at `from`) ends: the offset of its last `@`, or -1 when there is none. Reads at
 * most MAX_USERINFO characters.
 */
function userinfoEnd(text: string, from: number, json: boolean): number {
  const limit = Math.min(text.length, from + MAX_USERINFO);
  let at = -1;
  let backslashes = 0;
  for (let i = from; i < limit; i++) {
    const c = text[i]!;
    if (c === '/' || c === '?' || c === '#' || c === '\n' || c === '\r') break;
    if (c === '@') at = i;
    else if (c === '"' && json && backslashes % 2 === 0) break;
    backslashes = c === '\\' ? backslashes + 1 : 0;
  }
  return at;
}

/** Text that is a JSON object (a log line): its strings hold no unescaped `"`. */
function looksLikeJson(text: string): boolean {
  return text.startsWith('{') && text.trimEnd().endsWith('}');
}

/** The text with every URL in it redacted (see redactUrl); text without `://` comes back as it is. */
export function redactUrls(text: string): string {
  let found = text.indexOf('://');
  if (found < 0) return text;
  let out = '';
  let copied = 0;
  const json = looksLikeJson(text);
  while (found >= 0) {
    let start = found;
    while (start > copied && found - start < MAX_SCHEME && SCHEME_CHAR.test(text[start - 1]!)) start--;
    while (start < found && !LETTER.test(text[start]!)) start++;
    // A userinfo is dropped whatever characters it holds; the rest of the URL ends at URL_END.
    const at = start < found ? userinfoEnd(text, found + 3, json) : -1;
    const hostStart = at < 0 ? found + 3 : at + 1;
    let end = hostStart;
    while (end < text.length && !URL_END.test(text[end]!)) end++;
    if (start < found) {
      out += text.slice(copied, start) + redactUrl(text.slice(start, found + 3) + text.slice(hostStart, end));
      copied = end;
    }
    found = text.indexOf('://', Math.max(end, found + 3));
  }
  return out + text.slice(copied);
}
