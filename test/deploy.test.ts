import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_MS } from '../src/engine/settings.js';
import { ensureBinaries } from '../src/local/binaries.js';
import { ROOT } from './support/cli.js';

interface Compose {
  services: Record<
    string,
    { environment?: Record<string, string>; command?: string[]; volumes?: string[]; stop_grace_period?: string }
  >;
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;

  it('runs Redis, Prometheus and sloe, with sloe reading ./slos', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['prometheus', 'redis', 'sloe']);
    expect(compose.services.sloe!.command).toEqual(['run', '/slos']);
    expect(compose.services.sloe!.volumes).toContain('./slos:/slos:ro');
  });

  it('passes every variable of the contract, secrets only from the environment', () => {
    const env = compose.services.sloe!.environment!;
    for (const name of [
      'PROMETHEUS_URL',
      'REDIS_URL',
      'SLOE_PORT',
      'SLACK_BOT_TOKEN',
      'SLACK_SIGNING_SECRET',
      'PAGERDUTY_ROUTING_KEY',
      'PAGERDUTY_API_TOKEN',
      'PAGERDUTY_WEBHOOK_SECRET',
      'SLOE_API_TOKEN',
      'SLOE_API_PUBLIC_READ',
      'LOG_LEVEL',
    ]) {
      expect(env, name).toHaveProperty(name);
    }
    for (const secret of [
      'SLACK_BOT_TOKEN',
      'SLACK_SIGNING_SECRET',
      'PAGERDUTY_ROUTING_KEY',
      'PAGERDUTY_API_TOKEN',
      'PAGERDUTY_WEBHOOK_SECRET',
      'SLOE_API_TOKEN',
    ]) {
      expect(env[secret]).toBe(`\${${secret}:-}`);
    }
    expect(env.REDIS_URL).toBe('redis://redis:6379');
  });

  it('gives sloe longer to stop than its drain timeout (Docker sends SIGKILL after 10 s by default)', () => {
    const grace = compose.services.sloe!.stop_grace_period;
    expect(grace).toMatch(/^\d+s$/);
    expect(Number.parseInt(grace!, 10) * 1000).toBeGreaterThan(DEFAULT_DRAIN_MS);
  });

  it("keeps Redis' data on disk (AOF) and never lets it evict keys (BullMQ's requirement)", () => {
    const command = compose.services.redis!.command!;
    const arg = (name: string) => command[command.indexOf(name) + 1];
    expect(command[0]).toBe('redis-server');
    expect(arg('--appendonly')).toBe('yes');
    expect(arg('--maxmemory-policy')).toBe('noeviction');
  });

  it('mounts a Prometheus configuration that exists and parses', () => {
    const prom = parse(readFileSync(join(ROOT, 'deploy', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string }>;
    };
    expect(prom.scrape_configs.map((s) => s.job_name)).toContain('sloe');
  });
});

describe("the dead man's switch alerts (deploy/sloe-alerts.yml)", () => {
  const rules = readFileSync(join(ROOT, 'deploy', 'sloe-alerts.yml'), 'utf8');

  it('page when a shard goes stale, when sloe evaluates nothing, and not when another replica takes over (promtool test rules)', () => {
    const { promtool } = ensureBinaries(['promtool']);
    const run = spawnSync(
      promtool!,
      ['test', 'rules', join(ROOT, 'test', 'fixtures', 'prometheus', 'sloe-alerts.test.yml')],
      { encoding: 'utf8' },
    );
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('are the rules the README gives, and the bundled Prometheus loads them', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const groups = rules.slice(rules.indexOf('groups:'));
    expect(readme).toContain(groups.trimEnd());
    const prom = parse(readFileSync(join(ROOT, 'deploy', 'prometheus.yml'), 'utf8')) as { rule_files: string[] };
    expect(prom.rule_files).toContain('/etc/prometheus/sloe-alerts.yml');
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
    expect(compose.services.prometheus!.volumes).toContain(
      './deploy/sloe-alerts.yml:/etc/prometheus/sloe-alerts.yml:ro',
    );
  });
});
