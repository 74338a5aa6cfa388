import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/log.js';
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

describe('URLs in logs', () => {
  it('lose their credentials in any field and in the message, child loggers included', () => {
    const capture = new LogCapture();
    const log = createLogger({ LOG_LEVEL: 'info' }, capture);
    log.child({ incidentId: 'i1' }).error(
      {
        error: 'GET http://sloeuser:s3cretpass@prom:9090/api?access_token=tok-1 failed',
        nested: { url: 'redis://:hunter2@redis:6379' },
      },
      'Prometheus at http://sloeuser:s3cretpass@prom:9090 is unreachable',
    );
    const line = capture.raw[0]!;
    for (const secret of ['s3cretpass', 'sloeuser', 'tok-1', 'hunter2']) expect(line).not.toContain(secret);
    expect(capture.lines[0]).toMatchObject({
      incidentId: 'i1',
      msg: 'Prometheus at http://prom:9090 is unreachable',
      error: 'GET http://prom:9090/api?access_token=[redacted] failed',
      nested: { url: 'redis://redis:6379' },
    });
  });
});
