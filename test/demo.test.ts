import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

describe('npm run demo', () => {
  it('shows the breach, the incident, each escalation step, the resolution, the report and the status page URL, then stops cleanly', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'demo', 'main.js')], {
      env: { ...process.env, SLOE_DEMO_SPEED: 'fast' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    const lines = out.split('\n');
    const index = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const order = [
      /incident injected/,
      /INCIDENT fired page: it-support-assistant\/latency-p95/,
      /→ slack\s+slack #ai-alerts: page/,
      /→ pagerduty pagerduty \(critical\): page/,
      /→ oncall\s+oncall ai-primary: (alice|bob) \(rotation\): page/,
      /recovered/,
      /RESOLVED it-support-assistant\/latency-p95/,
      /sloe report \(incidents from Redis/,
      /SLO\s+OBJECTIVE\s+WINDOW\s+SLI\s+BUDGET LEFT/,
      /it-support-assistant\/latency-p95\s+99\.0% of time/,
      /status page: http:\/\/127\.0\.0\.1:\d+\//,
      /stopped cleanly \(exit 0\)/,
      /temporary files removed/,
    ].map(index);
    expect(
      order.every((i) => i >= 0),
      out,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(lines.filter((l) => /INCIDENT fired/.test(l))).toHaveLength(1);
  }, 120_000);
});
