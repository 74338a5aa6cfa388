/**
 * The HTTP server of `sloe run`: routes (find-my-way, the router Fastify is built on) over node:http, to which the
 * engine and the channels add their endpoints. Every request gets an HTTP answer, whatever its method, path, headers
 * or body: a bad URL 400, an unknown path 404, a known path with another method 405, a body too large 413, headers
 * too large 431; a handler's typed HttpError becomes its status, anything else a 500. Nothing here knows the engine.
 */
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Router from 'find-my-way';

/** What the server logs through (pino's Logger is one). */
export interface HttpLog {
  debug(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => unknown;

/** A failure with the HTTP status it answers: thrown by handlers and body readers for bad requests. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HttpError';
  }
}

/** The largest request body read (Slack interactivity payloads and webhooks are a few KiB). */
export const MAX_BODY_BYTES = 1 << 20;

/** Writes a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Reads a request body of at most `limit` bytes. Rejects with HttpError 413 when the body is (or is declared) larger,
 * and 400 when the client goes away before sending all of it, so that no handler waits for a body that never comes.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(
        new HttpError(413, `request body of ${declared} bytes is larger than the limit of ${limit} bytes`, {
          connection: 'close',
        }),
      );
      return;
    }
    let size = 0;
    let done = false;
    const chunks: Buffer[] = [];
    const settle = (error?: HttpError) => {
      if (done) return;
      done = true;
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        settle(new HttpError(413, `request body is larger than the limit of ${limit} bytes`, { connection: 'close' }));
        // Drop the rest of the body; the answer closes the connection.
        req.resume();
      } else chunks.push(chunk);
    };
    const onEnd = () => settle();
    const onError = (e: Error) =>
      settle(new HttpError(400, `request body could not be read: ${e.message}`, {}, { cause: e }));
    const onClose = () => settle(new HttpError(400, 'the client closed the connection before sending the whole body'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * The deepest nesting of arrays and objects a JSON body may have. Slack and PagerDuty payloads nest about 10 deep;
 * a body of a megabyte of `[` would otherwise take seconds of JSON.parse on the event loop and then overflow the
 * stack of whatever walks the result.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * The offset of the first `[` or `{` nested deeper than `max`, or -1: one pass over the text, reading strings (and
 * their escapes) so that brackets inside them do not count. Malformed JSON is left to JSON.parse.
 */
export function jsonTooDeepAt(text: string, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return i;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return -1;
}

/** Throws an HttpError 400 when JSON from a request nests deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(text: string, what = 'body'): void {
  const deep = jsonTooDeepAt(text);
  if (deep >= 0)
    throw new HttpError(
      400,
      `${what} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (at offset ${deep})`,
    );
}

/** Parses JSON from a request; nesting deeper than MAX_JSON_DEPTH or malformed JSON is an HttpError 400. */
export function parseJsonBody(text: string, what = 'body'): unknown {
  checkJsonDepth(text, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(400, `${what} is not JSON: ${(e as Error).message}`, {}, { cause: e });
  }
}

/** Reads a JSON body; an empty body is `undefined`. Malformed or too deeply nested JSON is an HttpError 400. */
export async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const text = await readBody(req, limit);
  if (text.trim() === '') return undefined;
  return parseJsonBody(text);
}

/**
 * An answer given before the client sent all of its body must wait for it: a connection closed with unread data is
 * reset, and the reset loses the answer (a 413, a 401) on its way. What is left of a body is read and dropped, up to
 * LINGER_BYTES, while the client keeps sending (LINGER_MS without data ends the wait); then the answer goes out.
 */
export const LINGER_BYTES = 16 << 20;
export const LINGER_MS = 2000;

/**
 * Calls `fire` once a connection has received nothing for `ms` (its bytesRead, which counts what the HTTP parser
 * consumes too). The check runs after the event loop has read pending I/O, so a stalled process does not make a
 * client look idle.
 */
function whenIdle(socket: Socket, ms: number, fire: () => void): { cancel(): void } {
  let cancelled = false;
  let seen = socket.bytesRead;
  let timer: NodeJS.Timeout;
  const check = () => {
    if (cancelled) return;
    if (socket.bytesRead === seen) return fire();
    seen = socket.bytesRead;
    arm();
  };
  const arm = () => {
    timer = setTimeout(() => setImmediate(check), ms).unref();
  };
  arm();
  return {
    cancel: () => {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}

/** True when the request announces a body (a length above 0, or chunks). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Reads and drops what is left of the request's body (see LINGER_BYTES). */
function drain(req: IncomingMessage): Promise<void> {
  if (req.complete || req.readableEnded || req.destroyed || !hasBody(req)) return Promise.resolve();
  if (Number(req.headers['content-length']) > LINGER_BYTES) return Promise.resolve();
  return new Promise((resolve) => {
    let size = 0;
    const done = () => {
      idle.cancel();
      req.off('data', onData).off('end', done).off('close', done).off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > LINGER_BYTES) done();
    };
    const idle = whenIdle(req.socket, LINGER_MS, done);
    req.on('data', onData).on('end', done).on('close', done).on('error', done);
    req.resume();
  });
}

/** The status line and a JSON body for a request the HTTP parser refused (no request object exists for it). */
function rawAnswer(status: number, error: string): string {
  const body = JSON.stringify({ error }) + '\n';
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** The routes of a path: what `store` a route of ours carries (a bad-URL answer from the router carries none). */
interface RouteStore {
  path: string;
}

type Methods = Router.HTTPMethod;

export interface HttpOptions {
  /** A request (headers and body) must arrive within this (default 30 s); a slow or stalled client gets 408. */
  requestTimeoutMs?: number;
  /** Headers must arrive within this (default 10 s). */
  headersTimeoutMs?: number;
}

export class HttpServer {
  private readonly router: Router.Instance<Router.HTTPVersion.V1>;
  private readonly methods = new Set<Methods>();
  /** Connections already answered for a parse error: the parser reports the same error for every later chunk. */
  private readonly refused = new WeakSet<Duplex>();
  private server: Server | undefined;

  constructor(
    private readonly log: HttpLog,
    private readonly options: HttpOptions = {},
  ) {
    this.router = Router({
      ignoreTrailingSlash: true,
      onBadUrl: (path, req, res) => this.answer(req, res, 400, { error: `malformed URL: ${truncate(path)}` }),
      defaultRoute: (req, res) => this.unrouted(req, res),
    });
  }

  /**
   * Adds a route; `:name` segments become params. A GET route answers HEAD too. Handlers of GET, HEAD and DELETE
   * routes run once any body sent with the request has been read and dropped; the others read it (readBody).
   */
  route(method: Methods, path: string, handler: Handler): this {
    const readsBody = method !== 'GET' && method !== 'HEAD' && method !== 'DELETE';
    const run = (req: IncomingMessage, res: ServerResponse, params: { [k: string]: string | undefined }) => {
      if (readsBody) return this.run(handler, req, res, params as Record<string, string>);
      void drain(req).then(() => this.run(handler, req, res, params as Record<string, string>));
    };
    const store: RouteStore = { path };
    const methods: Methods[] = method === 'GET' ? ['GET', 'HEAD'] : [method];
    for (const m of methods) {
      this.router.on(m, path, run, store);
      this.methods.add(m);
    }
    return this;
  }

  /** No route for this method and path: 405 naming the allowed methods when the path exists, else 404. */
  private unrouted(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const allowed: string[] = [];
    for (const m of this.methods) {
      const found = this.router.find(m, url);
      if (found && !(found.store as RouteStore | null)?.path)
        return this.answer(req, res, 400, { error: `malformed URL: ${truncate(url)}` });
      if (found) allowed.push(m);
    }
    const path = truncate(url.split('?')[0] ?? '/');
    if (allowed.length > 0)
      this.answer(
        req,
        res,
        405,
        { error: `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}` },
        { allow: allowed.join(', ') },
      );
    else this.answer(req, res, 404, { error: `no such endpoint: ${path}` });
  }

  /** Answers once the request's body is in (see drain), unless the connection is gone or answered already. */
  private answer(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    void drain(req).then(() => {
      if (res.headersSent || res.writableEnded || !req.socket.writable) return;
      sendJson(res, status, body, headers);
    });
  }

  private run(handler: Handler, req: IncomingMessage, res: ServerResponse, params: Record<string, string>): void {
    const fail = (e: unknown) => {
      if (e instanceof HttpError) {
        this.log.debug(
          {
            event: 'http-refused',
            method: req.method,
            path: truncate(req.url ?? ''),
            status: e.status,
            error: e.message,
          },
          `request refused: ${e.message}`,
        );
        if (!res.headersSent) return this.answer(req, res, e.status, { error: e.message }, e.headers);
      } else {
        this.log.error(
          {
            event: 'http-error',
            method: req.method,
            path: truncate(req.url ?? ''),
            error: e instanceof Error ? e.message : String(e),
          },
          'request failed',
        );
        if (!res.headersSent) return this.answer(req, res, 500, { error: 'internal error' });
      }
      res.destroy();
    };
    try {
      const r = handler(req, res, params);
      if (r instanceof Promise) r.catch(fail);
    } catch (e) {
      fail(e);
    }
  }

  async listen(port: number, host?: string): Promise<number> {
    const requestTimeout = this.options.requestTimeoutMs ?? 30_000;
    const server = createServer(
      {
        requestTimeout,
        headersTimeout: Math.min(this.options.headersTimeoutMs ?? 10_000, requestTimeout),
        // How often stalled requests are looked for (Node's default, 30 s, would let one stall for a minute).
        connectionsCheckingInterval: Math.min(1000, requestTimeout),
        // node:http would answer 400 itself, closing the connection before the body is read (see drain).
        requireHostHeader: false,
      },
      (req, res) => {
        if (req.httpVersion === '1.1' && req.headers.host === undefined)
          return this.answer(req, res, 400, { error: 'an HTTP/1.1 request needs a Host header' });
        try {
          this.router.lookup(req, res);
        } catch (e) {
          // The router itself failed on this request: answer rather than let it escape.
          this.log.error(
            { event: 'http-error', path: truncate(req.url ?? ''), error: e instanceof Error ? e.message : String(e) },
            'request could not be routed',
          );
          if (!res.headersSent) this.answer(req, res, 400, { error: 'request could not be routed' });
          else res.destroy();
        }
      },
    );
    server.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => this.clientError(e, socket));
    // An Expect other than 100-continue: 417, once the body is in (node:http would close before reading it).
    server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
      this.answer(req, res, 417, { error: `unsupported expectation: ${truncate(String(req.headers.expect))}` }),
    );
    // Without a listener node:http closes a CONNECT request's connection unanswered.
    server.on('connect', (req: IncomingMessage, socket: Duplex) => {
      this.log.debug({ event: 'http-refused', method: req.method, status: 405 }, 'request refused: CONNECT');
      socket.on('error', () => socket.destroy());
      socket.end(rawAnswer(405, 'CONNECT is not supported: sloe is not a proxy'));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.log.error({ event: 'http-error', error: e.message }, `HTTP server: ${e.message}`));
    return (server.address() as AddressInfo).port;
  }

  /**
   * A request the HTTP parser refused (bad method, headers too large, a malformed request line or chunk …): 400, 408
   * or 431, unless an answer is already on its way. Bytes after a complete request (a pipelined request of garbage,
   * or data after `Connection: close`) leave that request's own answer alone. The connection then lingers, its data
   * dropped, so that the answer is not lost to a reset while the client is still sending.
   */
  private clientError(e: NodeJS.ErrnoException, socket: Duplex): void {
    if (this.refused.has(socket)) return;
    this.refused.add(socket);
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    const answered = inFlight?.headersSent || inFlight?.req.complete;
    if (e.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // Closed once the client has stopped sending for a while (it may still be sending a body nobody reads).
    const idle = whenIdle(socket as Socket, LINGER_MS, () => socket.destroy());
    socket.once('close', () => idle.cancel());
    if (answered) {
      // The request in flight answers; the connection closes after it.
      if (inFlight && !inFlight.headersSent) inFlight.shouldKeepAlive = false;
      return;
    }
    const [status, error] =
      e.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'request headers are too large']
        : e.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'the request did not arrive in time']
          : [400, `malformed HTTP request (${e.code ?? e.message})`];
    this.log.debug({ event: 'http-refused', status, error: e.code ?? e.message }, `request refused: ${error}`);
    socket.end(rawAnswer(status, error));
    socket.resume();
  }

  /** Cuts every connection, answered or not (after a close that did not end in time). */
  closeAll(): void {
    this.server?.closeAllConnections();
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }
}

/** A URL or path as it may appear in an answer or a log line: bounded. */
function truncate(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
