import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/log.js';
import { Readable } from 'node:stream';
import { HttpError, HttpServer, jsonTooDeepAt, readBody, readJson, sendJson } from '../../src/server/http.js';
import { LogCapture } from '../support/engine.js';
import { rawRequest } from '../support/raw-http.js';
import { sleep } from '../support/time.js';

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server with a GET, a POST echoing its JSON body, and a POST that records how its body read ended. */
async function server(options: ConstructorParameters<typeof HttpServer>[1] = {}) {
  const capture = new LogCapture();
  const settled: string[] = [];
  const http = new HttpServer(createLogger({ LOG_LEVEL: 'debug' }, capture), options)
    .route('GET', '/things/:id', (_req, res, { id }) => sendJson(res, 200, { id }))
    .route('POST', '/things/:id', async (req, res) => sendJson(res, 200, { body: await readJson(req) }))
    .route('POST', '/slow', async (req, res) => {
      try {
        await readBody(req);
        settled.push('read');
      } catch (e) {
        settled.push(e instanceof HttpError ? `HttpError ${e.status}` : 'other');
        throw e;
      }
      sendJson(res, 200, {});
    })
    .route('GET', '/boom', () => {
      throw new Error('a bug');
    });
  servers.push(http);
  const port = await http.listen(0, '127.0.0.1');
  return { port, capture, settled };
}

const req = (line: string, headers: string[] = [], body = '') =>
  `${line}\r\nhost: x\r\nconnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;

describe('HttpServer', () => {
  it('answers routes, params decoded, and HEAD for GET routes', async () => {
    const { port } = await server();
    const get = await rawRequest(port, [req('GET /things/a%20b HTTP/1.1')]);
    expect(get.status).toBe(200);
    expect(get.text).toContain('"id": "a b"');
    expect((await rawRequest(port, [req('HEAD /things/a HTTP/1.1')])).status).toBe(200);
  });

  it.each([
    ['broken percent-encoding in a param', 'GET /things/%E0%A4%A HTTP/1.1', 400],
    ['broken percent-encoding in the path', 'GET /thi%ZZngs/1 HTTP/1.1', 400],
    ['a lone percent sign', 'GET /things/% HTTP/1.1', 400],
    ['an unknown path', 'GET /nothing HTTP/1.1', 404],
    ['a known path with another method', 'DELETE /things/1 HTTP/1.1', 405],
    ['a method no route has', 'PROPFIND /things/1 HTTP/1.1', 405],
    ['an invalid method token', 'G(T /things/1 HTTP/1.1', 400],
    ['an asterisk target', 'OPTIONS * HTTP/1.1', 404],
    ['CONNECT', 'CONNECT 127.0.0.1:1 HTTP/1.1', 405],
    ['a bad URL with a method no route has', 'PATCH /%E0%A4%A HTTP/1.1', 400],
    ['a route that throws', 'GET /boom HTTP/1.1', 500],
  ])('%s: %s', async (_what, line, status) => {
    const { port } = await server();
    const answer = await rawRequest(port, [req(line)]);
    expect(answer.status, answer.text).toBe(status);
  });

  it('405 names the allowed methods', async () => {
    const { port } = await server();
    const answer = await rawRequest(port, [req('PUT /things/1 HTTP/1.1')]);
    expect(answer.text).toMatch(/\r\nallow: (GET, HEAD, POST|POST, GET, HEAD)\r\n/i);
  });

  it('bodies: malformed JSON 400, too large 413 (declared or sent), a valid one read', async () => {
    const { port } = await server();
    const post = (body: string, headers: string[] = [`content-length: ${Buffer.byteLength(body)}`]) =>
      rawRequest(port, [req('POST /things/1 HTTP/1.1', headers, body)]);
    expect((await post('{"a":')).status).toBe(400);
    const ok = await post('{"a":1}');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('"a": 1');
    const declared = await rawRequest(port, [
      req('POST /things/1 HTTP/1.1', ['content-length: 5000000'], 'x'.repeat(1000)),
    ]);
    expect(declared.status).toBe(413);
    const big = 'x'.repeat((1 << 20) + 10);
    expect((await post(big)).status).toBe(413);
    const chunked = await rawRequest(port, [
      req('POST /things/1 HTTP/1.1', ['transfer-encoding: chunked']),
      ...Array.from({ length: 20 }, () => `10000\r\n${'y'.repeat(0x10000)}\r\n`),
      '0\r\n\r\n',
    ]);
    expect(chunked.status).toBe(413);
  });

  it('a client that sends less body than it declared and leaves settles the handler with a 400', async () => {
    const { port, settled } = await server();
    const gone = await rawRequest(port, [req('POST /slow HTTP/1.1', ['content-length: 100'], 'only ten b')], {
      halfClose: true,
      timeoutMs: 3000,
    });
    // The client closed its side: it may or may not read an answer, but the handler must not wait for ever.
    expect([400, undefined]).toContain(gone.status);
    for (let i = 0; i < 50 && settled.length === 0; i++) await sleep(20);
    expect(settled).toEqual(['HttpError 400']);
  });

  it('a client that stalls mid-body gets 408 after the request timeout, and the handler settles', async () => {
    const { port, settled } = await server({ requestTimeoutMs: 1000, headersTimeoutMs: 1000 });
    const stalled = await rawRequest(port, [req('POST /slow HTTP/1.1', ['content-length: 100'], 'only ten b')], {
      timeoutMs: 5000,
    });
    expect(stalled.status).toBe(408);
    for (let i = 0; i < 50 && settled.length === 0; i++) await sleep(20);
    expect(settled).toEqual(['HttpError 400']);
  });

  it('headers too large get 431; many headers are answered', async () => {
    const { port } = await server();
    expect((await rawRequest(port, [req('GET /things/1 HTTP/1.1', [`x-big: ${'a'.repeat(20_000)}`])])).status).toBe(
      431,
    );
    const many = Array.from({ length: 3000 }, (_, i) => `x-h${i}: v`);
    expect((await rawRequest(port, [req('GET /things/1 HTTP/1.1', many)])).status).toBe(431);
    expect((await rawRequest(port, [req('GET /things/1 HTTP/1.1', many.slice(0, 200))])).status).toBe(200);
  });

  it('HTTP/1.1 without Host is 400; Expect: 100-continue gets its interim answer, then the real one', async () => {
    const { port } = await server();
    expect((await rawRequest(port, ['GET /things/1 HTTP/1.1\r\nconnection: close\r\n\r\n'])).status).toBe(400);
    const body = '{"a":1}';
    const continued = await rawRequest(port, [
      req('POST /things/1 HTTP/1.1', ['expect: 100-continue', `content-length: ${body.length}`]),
      body,
    ]);
    expect(continued.status).toBe(200);
  });

  it('bytes after a request that asked to close leave its own answer alone', async () => {
    const { port } = await server();
    const answer = await rawRequest(port, [`${req('GET /things/7 HTTP/1.1')}GARBAGE / HTTP/1.1\r\n\r\n`]);
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('"id": "7"');
  });

  it('an answer given before the body was read waits for it: the connection closes cleanly, not reset', async () => {
    const { port } = await server();
    const body = Buffer.alloc(4 << 20, 0x61);
    /** Sends a head and a body at once, then is busy for a moment (as a loaded client is) before reading. */
    const busyClient = (head: string) =>
      new Promise<{ status: string; ending: string }>((resolve) => {
        const socket = connect({ port, host: '127.0.0.1' }, () => {
          socket.write(head);
          socket.write(body);
          const until = Date.now() + 300;
          while (Date.now() < until);
        });
        let got = '';
        socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
        const done = (ending: string) => resolve({ status: got.slice(9, 12), ending });
        socket.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
        socket.on('close', () => done('closed'));
      });
    const cases: Array<[string, string]> = [
      [req('POST /things/1 HTTP/1.1', [`content-length: ${body.length}`]), '413'],
      [req('PUT /things/1 HTTP/1.1', [`content-length: ${body.length}`]), '405'],
      [req('POST /things/1 HTTP/1.1', [`content-length: ${body.length}`, 'expect: the-moon']), '417'],
      [`POST /things/1 HTTP/1.1\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n`, '400'],
    ];
    for (const [head, status] of cases) {
      expect(await busyClient(head), head.split('\r\n')[0]).toEqual({ status, ending: 'closed' });
    }
  });

  it('garbage instead of HTTP gets 400', async () => {
    const { port } = await server();
    expect((await rawRequest(port, [Buffer.from([0, 1, 2, 255, 13, 10, 13, 10])])).status).toBe(400);
  });
});

describe('JSON bodies', () => {
  it('readJson refuses nesting deeper than 32 levels with 400, in one pass, before JSON.parse', async () => {
    const body = (text: string) => Object.assign(Readable.from([Buffer.from(text)]), { headers: {} }) as never;
    await expect(readJson(body(`${'['.repeat(500_000)}${']'.repeat(500_000)}`))).rejects.toMatchObject({
      status: 400,
      message: 'body nests arrays and objects deeper than 32 levels (at offset 32)',
    });
    await expect(
      readJson(body(`{"by":"${'{'.repeat(1000)}","x":${'['.repeat(31)}${']'.repeat(31)}}`)),
    ).resolves.toMatchObject({ by: '{'.repeat(1000) });
    expect(jsonTooDeepAt('"\\\\"[[[', 2)).toBe(6);
    expect(jsonTooDeepAt('"\\"[[["', 2)).toBe(-1);
  });
});
