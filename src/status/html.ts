/** HTML building blocks of the status page: every value that reaches the page goes through `esc`. */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML text and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** An http(s) URL as an escaped attribute value, or undefined for anything else (javascript:, data:, relative). */
export function safeUrl(url: string | undefined): string | undefined {
  if (!url || !/^https?:\/\//i.test(url)) return undefined;
  try {
    return esc(new URL(url).href);
  } catch {
    return undefined;
  }
}

/** A path of the status page with escaped, URL-encoded segments. */
export function href(...segments: string[]): string {
  return esc('/' + segments.map(encodeURIComponent).join('/'));
}

/** An external link that opens with no referrer, or the plain text when the URL is not http(s). */
export function externalLink(url: string | undefined, text: string): string {
  const safe = safeUrl(url);
  return safe ? `<a href="${safe}" rel="noopener noreferrer">${esc(text)}</a>` : esc(text);
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** A time for people, machine-readable too: `2026-11-01 09:30 UTC`. */
export function time(ms: number): string {
  return `<time datetime="${iso(ms)}">${iso(ms).slice(0, 16).replace('T', ' ')} UTC</time>`;
}

export interface PageOptions {
  title: string;
  /** Breadcrumbs after "sloe": [text, path] pairs; the last is the current page. */
  crumbs?: Array<[string, string?]>;
  now: number;
  /** Signed in with a cookie: offer to sign out. */
  signedIn?: boolean;
}

/** The page around a body: no script, one stylesheet served by sloe. */
export function page(options: PageOptions, body: string): string {
  const crumbs = (options.crumbs ?? []).map(([text, path]) =>
    path ? `<a href="${esc(path)}">${esc(text)}</a>` : `<span aria-current="page">${esc(text)}</span>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">
<title>${esc(options.title)} · sloe</title><link rel="stylesheet" href="/status.css"><link rel="icon" href="/favicon.svg" type="image/svg+xml"></head>
<body><header><nav aria-label="breadcrumb"><a href="/" class="brand">sloe</a>${crumbs.map((c) => ` <span aria-hidden="true">/</span> ${c}`).join('')}</nav><div class="asof">as of ${time(options.now)}${options.signedIn ? ' · <form method="post" action="/logout"><button type="submit">sign out</button></form>' : ''}</div></header>
<main>
${body}
</main></body></html>
`;
}
