/** Benchmark: `sloe validate` over 1,000 SLOs in 100 files, against the bare start-up of the binary. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SLOE = join(ROOT, 'bin', 'sloe.js');

function serviceFile(n: number, slos: number): string {
  const lines = [
    'apiVersion: sloe/v1',
    'kind: ServiceLevels',
    `service: svc-${n}`,
    'owner: team',
    'escalation: default',
    'dashboards:',
    `  - { id: dash-${n}, title: Dashboard ${n}, url: "https://grafana.example.com/d/${n}", owner: owner-${n % 7} }`,
    'slos:',
  ];
  for (let i = 0; i < slos; i++) {
    if (i % 2 === 0) {
      lines.push(
        `  - name: availability-${i}`,
        '    signal: error_rate',
        `    dashboard: dash-${n}`,
        '    ratio:',
        `      bad: sum by (model) (rate(llm_requests_total{app="svc-${n}", slo="${i}", status="error"}[$window]))`,
        `      total: sum by (model) (rate(llm_requests_total{app="svc-${n}", slo="${i}"}[$window]))`,
        '    objective: 99.9%',
        '    alert: { burnRate: workbook, minEvents: 100 }',
      );
    } else {
      lines.push(
        `  - name: latency-${i}`,
        '    signal: latency',
        `    dashboard: dash-${n}`,
        `    query: histogram_quantile(0.95, sum by (le, model) (rate(llm_request_duration_seconds_bucket{app="svc-${n}", slo="${i}"}[5m])))`,
        '    objective: "< 3.5"',
        '    alert: { when: "> 5", for: 5m }',
      );
    }
  }
  return lines.join('\n') + '\n';
}

const POLICY = `apiVersion: sloe/v1
kind: EscalationPolicy
name: default
page:
  - notify: slack
    channel: "#alerts"
  - { after: 10m, notify: pagerduty, routingKey: "\${PAGERDUTY_ROUTING_KEY}" }
`;

function time(args: string[]): { ms: number; code: number | null; out: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [SLOE, ...args], { encoding: 'utf8' });
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, code: r.status, out: r.stderr.trim() };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs the benchmark and returns its figures. */
export async function benchValidate(runs = 5): Promise<Record<string, number | string>> {
  const dir = await mkdtemp(join(tmpdir(), 'sloe-bench-validate-'));
  try {
    for (let n = 0; n < 100; n++) await writeFile(join(dir, `svc-${n}.yaml`), serviceFile(n, 10));
    await writeFile(join(dir, 'policy.yaml'), POLICY);
    const validate: number[] = [];
    const startup: number[] = [];
    let summary = '';
    for (let i = 0; i < runs; i++) {
      const v = time(['validate', dir]);
      if (v.code !== 0) throw new Error(`validate failed (${v.code}): ${v.out}`);
      summary = v.out;
      validate.push(v.ms);
      startup.push(time(['--version']).ms);
    }
    return {
      files: 101,
      slos: 1000,
      summary,
      validate_median_ms: Math.round(median(validate)),
      validate_max_ms: Math.round(Math.max(...validate)),
      startup_median_ms: Math.round(median(startup)),
      validate_over_startup: Number((median(validate) / median(startup)).toFixed(2)),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchValidate();
  console.log(r);
}
