import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

interface Compose {
  services: Record<string, { environment?: Record<string, string>; command?: string[]; volumes?: string[] }>;
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
    for (const name of ['PROMETHEUS_URL', 'REDIS_URL', 'SLOE_PORT', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'PAGERDUTY_ROUTING_KEY', 'PAGERDUTY_API_TOKEN', 'PAGERDUTY_WEBHOOK_SECRET', 'LOG_LEVEL']) {
      expect(env, name).toHaveProperty(name);
    }
    for (const secret of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'PAGERDUTY_ROUTING_KEY', 'PAGERDUTY_API_TOKEN', 'PAGERDUTY_WEBHOOK_SECRET']) {
      expect(env[secret]).toBe(`\${${secret}:-}`);
    }
    expect(env.REDIS_URL).toBe('redis://redis:6379');
  });

  it("keeps Redis' data on disk (AOF) and never lets it evict keys (BullMQ's requirement)", () => {
    const command = compose.services.redis!.command!;
    const arg = (name: string) => command[command.indexOf(name) + 1];
    expect(command[0]).toBe('redis-server');
    expect(arg('--appendonly')).toBe('yes');
    expect(arg('--maxmemory-policy')).toBe('noeviction');
  });

  it('mounts a Prometheus configuration that exists and parses', () => {
    const prom = parse(readFileSync(join(ROOT, 'deploy', 'prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string }> };
    expect(prom.scrape_configs.map((s) => s.job_name)).toContain('sloe');
  });
});
