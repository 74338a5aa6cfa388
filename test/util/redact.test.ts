import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSecretParameter, redactUrls } from '../../src/util/redact.js';

describe('redactUrls', () => {
  it.each([
    ['userinfo', 'Prometheus at http://sloeuser:s3cretpass@127.0.0.1:9090 is unreachable', 'Prometheus at http://127.0.0.1:9090 is unreachable'],
    ['a user without a password', 'GET https://deploy@git.example.com/x.git', 'GET https://git.example.com/x.git'],
    ['an unencoded @ in the password', 'http://u:p@ss@host:1/path', 'http://host:1/path'],
    ['a Redis URL', 'redis://:hunter2@redis:6379/0 closed', 'redis://redis:6379/0 closed'],
    ['a token parameter', 'http://h/api?query=up&access_token=abc123&x=1', 'http://h/api?query=up&access_token=[redacted]&x=1'],
    ['camelCase and prefixed names', 'https://h/?apiKey=k1&private_token=k2&X-Amz-Signature=k3&sig=k4', 'https://h/?apiKey=[redacted]&private_token=[redacted]&X-Amz-Signature=[redacted]&sig=[redacted]'],
    ['a fragment', 'https://h/cb#access_token=abc&state=1', 'https://h/cb#access_token=[redacted]&state=1'],
    ['a URL in JSON', '{"msg":"at http://a:b@h:1/?password=x\\"","n":1}', '{"msg":"at http://h:1/?password=[redacted]\\"","n":1}'],
    ['Slack link markup', '<http://a:b@h/?token=t|the dashboard>', '<http://h/?token=[redacted]|the dashboard>'],
    ['several URLs', 'from http://a:b@one/ to https://c:d@two/?key=e', 'from http://one/ to https://two/?key=[redacted]'],
  ])('removes %s', (_what, text, expected) => {
    expect(redactUrls(text)).toBe(expected);
  });

  it.each([
    ['text without URLs', 'no urls here: a=b&token=c'],
    ['harmless parameters', 'https://grafana.example.com/d/queue?var-signal=latency&from=now-1h'],
    ['a scheme-less separator', 'ratio :// odd'],
  ])('keeps %s as it is', (_what, text) => {
    expect(redactUrls(text)).toBe(text);
  });

  it('names secret-looking parameters', () => {
    for (const name of ['token', 'key', 'secret', 'password', 'passwd', 'auth', 'signature', 'sig', 'api_key', 'apikey', 'access_token', 'client_secret', 'X-Amz-Security-Token', 'access%5Ftoken']) {
      expect(isSecretParameter(name), name).toBe(true);
    }
    for (const name of ['query', 'time', 'var-signal', 'step', 'design']) expect(isSecretParameter(name), name).toBe(false);
  });

  it('never lets a generated credential through, and never throws on any text', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{8,20}$/);
    fc.assert(
      fc.property(fc.string(), secret, secret, fc.constantFrom('http', 'https', 'redis', 'rediss'), fc.string(), (before, user, pass, scheme, after) => {
        const clean = (s: string) => s.split(user).join('').split(pass).join('');
        const text = `${clean(before)} ${scheme}://${user}:${pass}@h.example:1/p?token=${pass}&q=1 ${clean(after)}`;
        const out = redactUrls(text);
        expect(out).not.toContain(pass);
        expect(out).not.toContain(`${user}:`);
        expect(redactUrls(out)).toBe(out);
      }),
      { seed: 20260511, numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        expect(typeof redactUrls(text)).toBe('string');
      }),
      { seed: 20260511, numRuns: 2000 },
    );
  });

  it('is linear: a megabyte of near-URLs takes milliseconds', () => {
    const hostile = 'a.'.repeat(250_000) + ':/' + 'x:'.repeat(100_000) + '://' + 'b'.repeat(200_000);
    const started = performance.now();
    redactUrls(hostile);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
