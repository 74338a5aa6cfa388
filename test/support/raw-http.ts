/** HTTP requests over a raw TCP socket: what fetch cannot send (bad encodings, invalid methods, lying lengths). */
import { connect } from 'node:net';
import { sleep } from './time.js';

export interface RawAnswer {
  /** The status of a well-formed status line, or undefined when none came. */
  status: number | undefined;
  /** Everything received after any interim (1xx) answers. */
  text: string;
  /** Why the exchange ended without an answer (timeout, reset). */
  error?: string;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*\r\n/;
/** Interim answers (100 Continue) before the real one. */
const INTERIM = /^HTTP\/1\.[01] 1\d\d [^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/;

/** The received text without its interim answers. */
function finalAnswer(text: string): string {
  let rest = text;
  for (let m = INTERIM.exec(rest); m; m = INTERIM.exec(rest)) rest = rest.slice(m[0].length);
  return rest;
}

/**
 * Sends `parts` (written one after the other) and reads until the server closes or `timeoutMs` passes. With
 * `halfClose` the socket's writing side is closed after the last part (a client that stops sending); with `gapMs`
 * it waits that long between parts (a slow client). With `headOnly` (a HEAD request) the answer ends with its headers.
 */
export function rawRequest(
  port: number,
  parts: Array<string | Buffer>,
  options: { timeoutMs?: number; halfClose?: boolean; headOnly?: boolean; gapMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = finalAnswer(Buffer.concat(chunks).toString('latin1'));
      const status = STATUS_LINE.exec(text)?.[1];
      resolve({
        status: status === undefined ? undefined : Number(status),
        text,
        ...(error && status === undefined ? { error } : {}),
      });
    };
    const timer = setTimeout(() => finish('timed out'), options.timeoutMs ?? 10_000);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      // One answer is enough: stop once its head and declared body arrived.
      const text = finalAnswer(Buffer.concat(chunks).toString('latin1'));
      const head = STATUS_LINE.test(text) ? text.indexOf('\r\n\r\n') : -1;
      if (head >= 0) {
        const length = options.headOnly ? '0' : /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head))?.[1];
        if (length !== undefined && Buffer.byteLength(text.slice(head + 4), 'latin1') >= Number(length)) finish();
      }
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    socket.on('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0 && options.gapMs) await sleep(options.gapMs);
        if (socket.destroyed) return;
        const ok = socket.write(part);
        if (!ok) await new Promise((r) => socket.once('drain', r));
      }
      if (options.halfClose) socket.end();
    });
  });
}
