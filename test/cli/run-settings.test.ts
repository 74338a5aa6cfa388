/** `sloe run` refuses malformed URL settings at start-up (exit 2, the variable named) instead of running without them. */
import { describe, expect, it } from 'vitest';
import { urlSettingProblems } from '../../src/util/env-urls.js';
import { runSloe } from '../support/cli.js';

describe('URL settings of sloe run', () => {
  it('a malformed SLOE_HEARTBEAT_URL makes sloe run exit 2 at once, naming the variable but not its value', async () => {
    // Redis and Prometheus are unreachable on purpose: the check comes before anything connects.
    const env = {
      SLOE_HEARTBEAT_URL: 'http://%ZZ',
      REDIS_URL: 'redis://127.0.0.1:1',
      PROMETHEUS_URL: 'http://127.0.0.1:1',
      SLOE_PORT: '0',
    };
    const r = await runSloe(['run', 'slos/'], { env, timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'sloe run: SLOE_HEARTBEAT_URL must be a URL (http://… or https://…): it cannot be parsed',
    );
    expect(r.stderr).not.toContain('%ZZ');
    expect(r.stdout).toBe('');
  });

  it.each([
    [
      { SLOE_HEARTBEAT_URL: 'http://%ZZ' },
      'SLOE_HEARTBEAT_URL must be a URL (http://… or https://…): it cannot be parsed',
    ],
    [{ SLOE_HEARTBEAT_URL: 'ftp://h/' }, 'SLOE_HEARTBEAT_URL must be a URL (http://… or https://…), not ftp:'],
    [
      { SLOE_HEARTBEAT_URL: 'https://u:%E0%A4%A@h/' },
      'SLOE_HEARTBEAT_URL must be a URL (http://… or https://…): its user name or password holds a malformed %-escape',
    ],
    [{ PROMETHEUS_URL: 'prometheus:9090' }, 'PROMETHEUS_URL must be a URL (http://… or https://…), not prometheus:'],
    [
      { PROMETHEUS_URL: 'http://prom :9090' },
      'PROMETHEUS_URL must be a URL (http://… or https://…): it contains whitespace or control characters',
    ],
    [{ REDIS_URL: 'http://redis:6379' }, 'REDIS_URL must be a URL (redis://… or rediss://…), not http:'],
    [
      { REDIS_URL: 'redis://:%zz@redis:6379' },
      'REDIS_URL must be a URL (redis://… or rediss://…): its user name or password holds a malformed %-escape',
    ],
    [{ SLACK_API_URL: 'http://[::1' }, 'SLACK_API_URL must be a URL (http://… or https://…): it cannot be parsed'],
    [
      { PAGERDUTY_EVENTS_SERVER: 'https://events.pagerduty.com' },
      'PAGERDUTY_EVENTS_SERVER must be host[:port] only, without a scheme, path or credentials',
    ],
    [
      { PAGERDUTY_API_SERVER: 'api.pagerduty.com:99999' },
      'PAGERDUTY_API_SERVER must be host[:port]: it cannot be parsed',
    ],
  ])('%o is refused', (env, message) => {
    expect(urlSettingProblems(env)).toEqual([expect.stringContaining(message)]);
  });

  it('accepts well-formed settings and unset ones', () => {
    expect(
      urlSettingProblems({
        PROMETHEUS_URL: 'http://user:p%40ss@prom:9090/prefix',
        REDIS_URL: 'rediss://:pw@redis:6380/2',
        SLOE_HEARTBEAT_URL: 'https://hc-ping.com/abc?x=1',
        SLACK_API_URL: 'http://127.0.0.1:3001/api/',
        PAGERDUTY_EVENTS_SERVER: '127.0.0.1:8443',
        PAGERDUTY_API_SERVER: '',
      }),
    ).toEqual([]);
    expect(urlSettingProblems({})).toEqual([]);
  });
});
