/** HTTP requests over a raw TCP socket: what fetch cannot send (bad encodings, invalid methods, lying lengths). */
import { connect } from 'node:net';

export interface RawAnswer {
  /** The status of a well-formed status line, or undefined when none came. */
  status: number | undefined;
  /** Everything received. */
  text: string;
  /** Why the exchange ended without an answer (timeout, reset). */
  error?: string;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*\r\n/;

/**
 * Sends `parts` (written one after the other) and reads until the server closes or `timeoutMs` passes. With
 * `halfClose` the socket's writing side is closed after the last part (a client that stops sending).
 */
export function rawRequest(port: number, parts: Array<string | Buffer>, options: { timeoutMs?: number; halfClose?: boolean } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = STATUS_LINE.exec(text)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), text, ...(error && status === undefined ? { error } : {}) });
    };
    const timer = setTimeout(() => finish('timed out'), options.timeoutMs ?? 10_000);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      // One answer is enough: stop once its head and declared body arrived.
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (head >= 0) {
        const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head))?.[1];
        if (length !== undefined && Buffer.byteLength(text.slice(head + 4), 'latin1') >= Number(length)) finish();
      }
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    socket.on('connect', async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        const ok = socket.write(part);
        if (!ok) await new Promise((r) => socket.once('drain', r));
      }
      if (options.halfClose) socket.end();
    });
  });
}
