import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/engine/log.js';
import { LogCapture } from '../support/engine.js';

describe('logs', () => {
  it.each([
    ['a token', { token: 'xoxb-secret' }],
    ['a routing key', { routingKey: 'R0UT1NGKEY' }],
    ['a nested signing secret', { slack: { signingSecret: 'shhh' } }],
    ['an Authorization header', { request: { headers: { authorization: 'Bearer abc' } } }],
    ['a PagerDuty event body', { event: { data: { routing_key: 'R0UT1NGKEY' } } }],
  ])('redact %s', (_name, fields) => {
    const capture = new LogCapture();
    createLogger({ LOG_LEVEL: 'info' }, capture).info(fields, 'something happened');
    const secret = JSON.stringify(fields).match(/"(xoxb-secret|R0UT1NGKEY|shhh|Bearer abc)"/)![1]!;
    expect(capture.raw[0]).not.toContain(secret);
    expect(capture.raw[0]).toContain('[redacted]');
  });
});
