import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSecretParameter, redactUrls } from '../../src/util/redact.js';

describe('redactUrls', () => {
  it.each([
    [
      'userinfo',
      'Prometheus at http://sloeuser:s3cretpass@127.0.0.1:9090 is unreachable',
      'Prometheus at http://127.0.0.1:9090 is unreachable',
    ],
    ['a user without a password', 'GET https://deploy@git.example.com/x.git', 'GET https://git.example.com/x.git'],
    ['an unencoded @ in the password', 'http://u:p@ss@host:1/path', 'http://host:1/path'],
    ['a Redis URL', 'redis://:hunter2@redis:6379/0 closed', 'redis://redis:6379/0 closed'],
    [
      'a token parameter',
      'http://h/api?query=up&access_token=abc123&x=1',
      'http://h/api?query=up&access_token=[redacted]&x=1',
    ],
    [
      'camelCase and prefixed names',
      'https://h/?apiKey=k1&private_token=k2&X-Amz-Signature=k3&sig=k4',
      'https://h/?apiKey=[redacted]&private_token=[redacted]&X-Amz-Signature=[redacted]&sig=[redacted]',
    ],
    ['a fragment', 'https://h/cb#access_token=abc&state=1', 'https://h/cb#access_token=[redacted]&state=1'],
    [
      'a URL in JSON',
      '{"msg":"at http://a:b@h:1/?password=x\\"","n":1}',
      '{"msg":"at http://h:1/?password=[redacted]\\"","n":1}',
    ],
    ['Slack link markup', '<http://a:b@h/?token=t|the dashboard>', '<http://h/?token=[redacted]|the dashboard>'],
    [
      'several URLs',
      'from http://a:b@one/ to https://c:d@two/?key=e',
      'from http://one/ to https://two/?key=[redacted]',
    ],
    ['markup characters in the password', 'at http://u:p{a}s|s^w`o"r\'d<x>@h:1/ down', 'at http://h:1/ down'],
    ['spaces in the userinfo', 'at redis://my user:pass word@redis:6379 down', 'at redis://redis:6379 down'],
    ['a backslash in the password', 'http://u:a\\b@h/', 'http://h/'],
    ['an escaped quote in a JSON password', '{"msg":"at http://u:a\\"b@h/x","n":1}', '{"msg":"at http://h/x","n":1}'],
    ['braces in a token value', 'https://h/?token=ab{c}d^e&x=1', 'https://h/?token=[redacted]&x=1'],
    [
      'more secret parameter names',
      'https://h/?p=1&pw=2&passphrase=3&hmac=4&code=5&sessid=6&jsessionid=7&sig=8&signature=9&key=10&apikey=11&api_key=12&access_token=13&auth=14&page=2',
      'https://h/?p=[redacted]&pw=[redacted]&passphrase=[redacted]&hmac=[redacted]&code=[redacted]&sessid=[redacted]&jsessionid=[redacted]&sig=[redacted]&signature=[redacted]&key=[redacted]&apikey=[redacted]&api_key=[redacted]&access_token=[redacted]&auth=[redacted]&page=2',
    ],
    ['a path parameter', 'https://h/app;jsessionid=ABC123?x=1', 'https://h/app;jsessionid=[redacted]?x=1'],
  ])('removes %s', (_what, text, expected) => {
    expect(redactUrls(text)).toBe(expected);
  });

  it.each([
    ['text without URLs', 'no urls here: a=b&token=c'],
    ['harmless parameters', 'https://grafana.example.com/d/queue?var-signal=latency&from=now-1h'],
    ['a scheme-less separator', 'ratio :// odd'],
    ['the next field of a JSON log line', '{"url":"http://prom:9090","by":"ops@example.com"}'],
    ['an email after a URL on another line', 'http://prom:9090\nmail ops@example.com'],
  ])('keeps %s as it is', (_what, text) => {
    expect(redactUrls(text)).toBe(text);
  });

  it('names secret-looking parameters', () => {
    for (const name of [
      'token',
      'key',
      'secret',
      'password',
      'passwd',
      'auth',
      'signature',
      'sig',
      'api_key',
      'apikey',
      'access_token',
      'client_secret',
      'X-Amz-Security-Token',
      'access%5Ftoken',
      'p',
      'pw',
      'passphrase',
      'hmac',
      'code',
      'sessid',
      'jsessionid',
      'JSESSIONID',
      'PHPSESSID',
    ]) {
      expect(isSecretParameter(name), name).toBe(true);
    }
    for (const name of ['query', 'time', 'var-signal', 'step', 'design'])
      expect(isSecretParameter(name), name).toBe(false);
  });

  it('never lets a generated credential through, and never throws on any text', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{8,20}$/);
    fc.assert(
      fc.property(
        fc.string(),
        secret,
        secret,
        fc.constantFrom('http', 'https', 'redis', 'rediss'),
        fc.string(),
        (before, user, pass, scheme, after) => {
          const clean = (s: string) => s.split(user).join('').split(pass).join('');
          const text = `${clean(before)} ${scheme}://${user}:${pass}@h.example:1/p?token=${pass}&q=1 ${clean(after)}`;
          const out = redactUrls(text);
          expect(out).not.toContain(pass);
          expect(out).not.toContain(`${user}:`);
          expect(redactUrls(out)).toBe(out);
        },
      ),
      { seed: 20260511, numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        expect(typeof redactUrls(text)).toBe('string');
      }),
      { seed: 20260511, numRuns: 2000 },
    );
  });

  it('no secret substring survives, whatever characters the userinfo holds (quotes, markup, spaces)', () => {
    // Passwords of any printable character a userinfo can hold as written (not / ? # @ or line breaks); tokens of
    // the characters a query value holds. Each is marked so that it cannot occur by chance in the text around it.
    const odd = fc.constantFrom(...'{}|^`"\'<> \\%!$&()*+,;=:~'.split(''));
    const userinfoChar = fc.oneof(fc.constantFrom(...'abcXYZ0189-._'.split('')), odd);
    const password = fc.array(userinfoChar, { minLength: 1, maxLength: 20 }).map((cs) => `Q7${cs.join('')}Z`);
    const token = fc.stringMatching(/^[A-Za-z0-9._~{}^-]{1,20}$/).map((t) => `Q8${t}`);
    const name = fc.constantFrom(
      'p',
      'pw',
      'passphrase',
      'hmac',
      'code',
      'sessid',
      'jsessionid',
      'sig',
      'signature',
      'key',
      'apikey',
      'api_key',
      'access_token',
      'auth',
      'token',
      'X-Amz-Signature',
    );
    const around = fc.string({ maxLength: 30 }).map((s) => s.replace(/Q[78]/g, ''));
    fc.assert(
      fc.property(
        around,
        password,
        token,
        name,
        fc.constantFrom('http', 'https', 'redis'),
        around,
        (before, pass, tok, param, scheme, after) => {
          const text = `at ${before} ${scheme}://user:${pass}@h.example:1/p?${param}=${tok}&q=1 ${after}`;
          const out = redactUrls(text);
          expect(out).not.toContain(pass);
          expect(out).not.toContain(tok);
          expect(out).not.toContain('user:');
          // The same inside a JSON log line, where quotes and backslashes come escaped.
          const line = JSON.stringify({ msg: text, n: 1 });
          const redacted = redactUrls(line);
          expect(JSON.parse(redacted).n).toBe(1);
          expect(JSON.parse(redacted).msg).not.toContain(pass);
          expect(JSON.parse(redacted).msg).not.toContain(tok);
        },
      ),
      { seed: 20261128, numRuns: 1000 },
    );
  });

  it('is linear: a megabyte of near-URLs takes milliseconds', () => {
    const hostile = 'a.'.repeat(250_000) + ':/' + 'x:'.repeat(100_000) + '://' + 'b'.repeat(200_000);
    const started = performance.now();
    redactUrls(hostile);
    // `://` after `://` with nothing that ends a userinfo: each is read at most MAX_USERINFO characters ahead.
    redactUrls('a://'.repeat(250_000));
    redactUrls(`a://${' '.repeat(1_000_000)}`);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
