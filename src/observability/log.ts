/** Structured JSON logs (pino) with secrets redacted wherever they may travel. */
import { pino, type DestinationStream, type Logger } from 'pino';
import { redactUrls } from '../util/redact.js';

export type { Logger };

/** Fields that may hold secrets; their values are replaced before a line is written. */
export const REDACTED_PATHS = [
  'token',
  'routingKey',
  'routing_key',
  'signingSecret',
  'secret',
  'password',
  'authorization',
  '*.token',
  '*.routingKey',
  '*.routing_key',
  '*.signingSecret',
  '*.secret',
  '*.password',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.data.routing_key',
];

/**
 * The logger of `sloe run`: level from LOG_LEVEL, one JSON object per line. Secret fields are replaced, and every
 * URL in a line, whatever field or message carries it, loses its credentials (redactUrls) before it is written.
 */
export function createLogger(env: NodeJS.ProcessEnv, destination?: DestinationStream): Logger {
  return pino(
    {
      level: env.LOG_LEVEL || 'info',
      base: { name: 'sloe' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: redactUrls },
    },
    destination,
  );
}
