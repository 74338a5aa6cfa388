/**
 * Serves the status page: `/`, `/services/:service`, `/slos/:service/:slo`, `/incidents/:id`, its stylesheet and
 * icon. Reads follow the API's token rule: open with SLOE_API_PUBLIC_READ=1; otherwise the bearer token, or a
 * cookie set by signing in with the token (a form posting to /login, or `?token=` once, which is then dropped from
 * the address). The cookie holds a digest of the token, never the token.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BudgetKeeper } from '../budget/keeper.js';
import { sameSecret } from '../util/secret.js';
import type { Incident } from '../incident/model.js';
import type { IncidentStore } from '../incident/ports.js';
import type { Config, Slo } from '../rules/model.js';
import { type HttpServer, readBody } from '../server/http.js';
import { withTimeout } from '../util/async.js';
import { describeError } from '../util/errors.js';
import { FAVICON_SVG, STATUS_CSS } from './css.js';
import {
  type StatusModel,
  renderClosed,
  renderIncident,
  renderIndex,
  renderLogin,
  renderNotFound,
  renderService,
  renderSlo,
} from './pages.js';

export interface StatusDeps {
  config: () => Config;
  store: Pick<IncidentStore, 'list' | 'get' | 'audit'>;
  budgets: BudgetKeeper;
  env: NodeJS.ProcessEnv;
  now: () => number;
}

const COOKIE = 'sloe_session';
const SESSION_SECONDS = 12 * 3600;

/** Headers of every page: no script may run, nothing is framed, nothing is cached by shared caches. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'private, no-store',
};

function send(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, ...headers, location, 'content-length': 0 });
  res.end();
}

/** The session digest of a token. */
function session(token: string): string {
  return createHash('sha256').update(`sloe-status-session:${token}`).digest('base64url');
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function sessionCookie(req: IncomingMessage, value: string, maxAge: number): Record<string, string> {
  const secure = req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
  return { 'set-cookie': `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}` };
}

/** Only paths of this site: `/x`, never `//host` or a URL. */
function localPath(next: string | null | undefined): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.includes('\\') ? next : '/';
}

/** The request target as a URL; a target that is not one (`//`, an absolute form) reads as `/`. */
function requestUrl(target: string | undefined): URL {
  try {
    return new URL(`http://localhost${target?.startsWith('/') ? target : '/'}`);
  } catch {
    return new URL('http://localhost/');
  }
}

type Access = { ok: true; signedIn: boolean } | { ok: false; status: 401 | 403; problem?: string };

function access(req: IncomingMessage, env: NodeJS.ProcessEnv): Access {
  if (env.SLOE_API_PUBLIC_READ === '1') return { ok: true, signedIn: false };
  const token = env.SLOE_API_TOKEN;
  if (!token) return { ok: false, status: 403 };
  const bearer = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer !== undefined && sameSecret(bearer, token)) return { ok: true, signedIn: false };
  const cookie = cookieOf(req, COOKIE);
  if (cookie !== undefined && sameSecret(cookie, session(token))) return { ok: true, signedIn: true };
  return {
    ok: false,
    status: 401,
    ...(cookie !== undefined ? { problem: 'Your session ended (the token changed?): sign in again.' } : {}),
  };
}

/** Adds the status page's routes. */
export function serveStatus(http: HttpServer, deps: StatusDeps): void {
  const { env, now } = deps;

  /** The page's model; `drawn` picks the SLOs whose burn-down lines it draws (budgets.drawable). */
  const model = async (signedIn: boolean, drawn?: (slo: Slo) => boolean): Promise<StatusModel> => {
    const config = deps.config();
    const [budgets, open] = await Promise.all([
      deps.budgets.fresh(5000).then(async (b) => {
        if (drawn) await deps.budgets.drawable(b, config.slos.filter(drawn), 5000);
        return b;
      }),
      withTimeout(5000, () => deps.store.list({ open: true, limit: 1000 })).catch((e: unknown) => ({
        error: describeError(e),
      })),
    ]);
    return { now: now(), config, budgets, open, signedIn };
  };

  /** Runs a page handler once the reader is allowed; `?token=` signs in and comes back without it. */
  const pageRoute =
    (
      render: (
        req: IncomingMessage,
        params: Record<string, string>,
        signedIn: boolean,
      ) => Promise<{ status: number; html: string }>,
    ) =>
    async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
      const url = requestUrl(req.url);
      const given = url.searchParams.get('token');
      if (given !== null) {
        url.searchParams.delete('token');
        const back = localPath(url.pathname + url.search);
        const token = env.SLOE_API_TOKEN;
        if (token && sameSecret(given, token))
          return redirect(res, back, sessionCookie(req, session(token), SESSION_SECONDS));
        return send(
          res,
          token ? 401 : 403,
          token ? renderLogin(now(), back, 'That token is not the API token.') : renderClosed(now()),
        );
      }
      const allowed = access(req, env);
      if (!allowed.ok) {
        return allowed.status === 403
          ? send(res, 403, renderClosed(now()))
          : send(res, 401, renderLogin(now(), localPath(url.pathname), allowed.problem));
      }
      try {
        const { status, html } = await render(req, params, allowed.signedIn);
        send(res, status, html);
      } catch (e) {
        send(res, 500, renderNotFound(now(), `This page could not be built: ${describeError(e)}`));
      }
    };

  http.route('GET', '/status.css', (_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'public, max-age=300',
      'x-content-type-options': 'nosniff',
      'content-length': Buffer.byteLength(STATUS_CSS),
    });
    res.end(STATUS_CSS);
  });
  http.route('GET', '/favicon.svg', (_req, res) => {
    res.writeHead(200, {
      'content-type': 'image/svg+xml',
      'cache-control': 'public, max-age=86400',
      'x-content-type-options': 'nosniff',
      'content-length': Buffer.byteLength(FAVICON_SVG),
    });
    res.end(FAVICON_SVG);
  });

  http.route(
    'GET',
    '/',
    pageRoute(async (_req, _p, signedIn) => ({ status: 200, html: renderIndex(await model(signedIn)) })),
  );
  http.route(
    'GET',
    '/services/:service',
    pageRoute(async (_req, { service }, signedIn) => {
      const html = renderService(await model(signedIn, (s) => s.service === service), service!);
      return html
        ? { status: 200, html }
        : { status: 404, html: renderNotFound(now(), `No service ${service} is declared.`) };
    }),
  );
  http.route(
    'GET',
    '/slos/:service/:slo',
    pageRoute(async (_req, { service, slo }, signedIn) => {
      const m = await model(signedIn, (s) => s.service === service && s.name === slo);
      const recent = await withTimeout(5000, () => deps.store.list({ limit: 1000 })).catch((): Incident[] => []);
      const html = renderSlo(m, service!, slo!, recent);
      return html
        ? { status: 200, html }
        : { status: 404, html: renderNotFound(now(), `No SLO ${service}/${slo} is declared.`) };
    }),
  );
  http.route(
    'GET',
    '/incidents/:id',
    pageRoute(async (_req, { id }, signedIn) => {
      const incident = /^[0-9a-f]{1,64}$/.test(id!) ? await withTimeout(5000, () => deps.store.get(id!)) : undefined;
      if (!incident) return { status: 404, html: renderNotFound(now(), `No incident ${id}.`) };
      const audit = await withTimeout(5000, () => deps.store.audit(id!));
      return { status: 200, html: renderIncident(now(), incident, audit, signedIn) };
    }),
  );

  http.route('POST', '/login', async (req, res) => {
    const form = new URLSearchParams(await readBody(req, 16 * 1024));
    const next = localPath(form.get('next'));
    const token = env.SLOE_API_TOKEN;
    if (!token) return send(res, 403, renderClosed(now()));
    const given = form.get('token') ?? '';
    if (!sameSecret(given, token)) return send(res, 401, renderLogin(now(), next, 'That token is not the API token.'));
    redirect(res, next, sessionCookie(req, session(token), SESSION_SECONDS));
  });
  http.route('POST', '/logout', (req, res) => redirect(res, '/', sessionCookie(req, '', 0)));
}
