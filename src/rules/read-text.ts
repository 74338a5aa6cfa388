/**
 * Reads an SLO file as UTF-8 text, or says at which line and column it stops being that: too large, not a regular
 * file, UTF-16, binary (a NUL byte), or a byte sequence that is not UTF-8. Never reads more than the size limit.
 */
import { isUtf8 } from 'node:buffer';
import { open, stat } from 'node:fs/promises';

/** The largest SLO file read: a real one is a few kilobytes; parsing a megabyte of YAML takes a second already. */
export const MAX_FILE_BYTES = 1024 * 1024;

export type ReadResult = { text: string } | { problem: { line: number; col: number; message: string } };

export async function readText(file: string): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    // Looked at before opening: opening a FIFO would wait for a writer, and a device never ends.
    const info = await stat(file);
    if (!info.isFile()) return at1('not a regular file: SLO files are read from plain files (or links to them)');
    if (info.size > MAX_FILE_BYTES) return at1(tooLarge(info.size));
    const handle = await open(file, 'r');
    try {
      // The file may grow between stat and read: read at most one byte beyond the limit.
      const buffer = Buffer.alloc(Math.min(MAX_FILE_BYTES + 1, Math.max(info.size, 0) + 1));
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length === buffer.length) break;
      }
      if (length > MAX_FILE_BYTES) return at1(tooLarge(length));
      bytes = buffer.subarray(0, length);
    } finally {
      await handle.close();
    }
  } catch (e) {
    return at1(`cannot read the file: ${describe(e)}`);
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return at1('the file is UTF-16 (or UTF-32) encoded: SLO files must be UTF-8; save it as UTF-8');
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    return {
      problem: {
        ...position(bytes, nul),
        message:
          'the file contains a NUL byte: it is binary, or UTF-16 without a byte order mark; SLO files are UTF-8 text',
      },
    };
  }
  if (!isUtf8(bytes)) {
    const bad = firstInvalidUtf8(bytes);
    return {
      problem: {
        ...position(bytes, bad),
        message: `invalid UTF-8 (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')}): SLO files must be UTF-8; save the file as UTF-8`,
      },
    };
  }
  return { text: bytes.toString('utf8') };
}

function at1(message: string): ReadResult {
  return { problem: { line: 1, col: 1, message } };
}

function tooLarge(size: number): string {
  return `the file is ${(size / 1024 / 1024).toFixed(1)} MiB; an SLO file may be at most ${MAX_FILE_BYTES / 1024 / 1024} MiB: split it into several files`;
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return 'symbolic link loop';
  if (code === 'ENOENT') return 'it does not exist (a broken symbolic link?)';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return e instanceof Error ? e.message : String(e);
}

/** Line and column (1-based, in characters) of a byte offset in valid UTF-8 up to that offset. */
function position(bytes: Buffer, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < offset; i = bytes.indexOf(0x0a, i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: bytes.subarray(lineStart, offset).toString('utf8').length + 1 };
}

/** The offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const length = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    const second = bytes[i + 1]!;
    // Overlong forms, surrogates and code points beyond U+10FFFF are not UTF-8.
    if (
      (b === 0xe0 && second < 0xa0) ||
      (b === 0xed && second > 0x9f) ||
      (b === 0xf0 && second < 0x90) ||
      (b === 0xf4 && second > 0x8f)
    )
      return i;
    for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return bytes.length;
}
