/**
 * The URL settings of `sloe run`, checked before anything starts: a malformed one (`http://%ZZ`, a missing scheme, a
 * wrong one) is a usage error naming the variable, instead of a feature that silently does nothing or a connection
 * that retries forever. Messages name the variable and the reason, never the value (it may carry credentials).
 */

interface UrlSetting {
  name: string;
  /** Allowed schemes, with their colon. */
  schemes: readonly string[];
  /** A bare `host[:port]`, read as if it followed `https://`. */
  hostOnly?: boolean;
}

const URL_SETTINGS: readonly UrlSetting[] = [
  { name: 'PROMETHEUS_URL', schemes: ['http:', 'https:'] },
  { name: 'REDIS_URL', schemes: ['redis:', 'rediss:'] },
  { name: 'SLOE_HEARTBEAT_URL', schemes: ['http:', 'https:'] },
  { name: 'SLACK_API_URL', schemes: ['http:', 'https:'] },
  { name: 'PAGERDUTY_EVENTS_SERVER', schemes: ['https:'], hostOnly: true },
  { name: 'PAGERDUTY_API_SERVER', schemes: ['https:'], hostOnly: true },
];

/** What is wrong with one setting's value, or undefined when it is usable. */
function urlProblem(setting: UrlSetting, raw: string): string | undefined {
  const expected = setting.hostOnly ? 'host[:port]' : `a URL (${setting.schemes.map((s) => `${s}//…`).join(' or ')})`;
  if (/[\s\u0000-\u001f\u007f]/.test(raw))
    return `${setting.name} must be ${expected}: it contains whitespace or control characters`;
  let url: URL;
  try {
    url = new URL(setting.hostOnly ? `https://${raw}` : raw);
  } catch {
    return `${setting.name} must be ${expected}: it cannot be parsed (a % not followed by two hex digits, a bad host or port?)`;
  }
  if (!setting.schemes.includes(url.protocol)) return `${setting.name} must be ${expected}, not ${url.protocol}`;
  if (!url.hostname) return `${setting.name} must be ${expected}: it has no host`;
  if (
    setting.hostOnly &&
    (url.pathname !== '/' || url.search || url.hash || url.username || url.password || raw.includes('/'))
  ) {
    return `${setting.name} must be ${expected} only, without a scheme, path or credentials`;
  }
  try {
    // Userinfo is decoded later (basic auth, Redis AUTH): a malformed escape there must fail now, not then.
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return `${setting.name} must be ${expected}: its user name or password holds a malformed %-escape`;
  }
  return undefined;
}

/** Every malformed URL setting of `env`, one message each. */
export function urlSettingProblems(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const setting of URL_SETTINGS) {
    const raw = env[setting.name];
    if (raw === undefined || raw === '') continue;
    const problem = urlProblem(setting, raw);
    if (problem) problems.push(problem);
  }
  return problems;
}
