/**
 * The status page as an SRE uses it, in a real headless Chromium: sign in with the token, read owners and budget
 * figures, click through to an open incident and its escalation timeline; axe-core finds no serious accessibility
 * violation in light or dark mode; screenshots of both go to test/artifacts/.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { ensureBinaries } from '../../src/local/binaries.js';
import { Exporter } from '../../src/local/exporter.js';
import { requestCounters } from '../../src/local/history.js';
import { startPrometheus } from '../../src/local/prometheus.js';
import { startRedis } from '../../src/local/redis.js';
import { ROOT } from '../support/cli.js';
import { type Stack, eventually, queueSlo, startEngine, writeSlos } from '../support/engine.js';

const ARTIFACTS = join(ROOT, 'test', 'artifacts');
const TOKEN = 'status-page-test-token';
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
/** History ends a few hours back, clear of what Prometheus scrapes now. */
const HISTORY_END = Math.floor((Date.now() - 4 * 60 * MIN) / MIN) * MIN;

/** A shop next to the queue SLO of the engine tests: 0.5% errors all week spend exactly half of a 99% budget. */
const SHOP = `---
apiVersion: sloe/v1
kind: ServiceLevels
service: shop
owner: shop-team
escalation: demo
dashboards:
  - { id: shop-overview, title: "Shop <overview> & \\"errors\\"", url: "https://grafana.example.com/d/shop?a=1&b=2", owner: dana }
slos:
  - name: availability
    signal: error_rate
    dashboard: shop-overview
    runbook: https://wiki.example.com/runbooks/shop
    ratio:
      bad: sum(rate(shop_requests_total{status="error"}[$window]))
      total: sum(rate(shop_requests_total[$window]))
    objective: 99%
    window: 7d
    alert: { burnRate: [{ severity: page, budget: 2%, long: 1h }] }
`;

let stack: Stack;
let engine: Engine;
let browser: Browser;
let base: string;
let incidentId: string;

beforeAll(async () => {
  const exporter = new Exporter();
  const target = await exporter.start();
  exporter.gauge('demo_queue_depth').set(20);
  const history = [
    ...requestCounters('shop_requests_total', { app: 'shop' }, HISTORY_END - 8 * DAY, HISTORY_END, () => ({
      requests: 1000,
      errorShare: 0.005,
    })),
  ];
  const [redis, prometheus] = await Promise.all([
    startRedis(),
    startPrometheus({ history, scrape: { targets: [target], interval: '1s' } }),
  ]);
  const { mkdtemp, rm } = await import('node:fs/promises');
  const dir = await mkdtemp(join((await import('node:os')).tmpdir(), 'sloe-status-'));
  stack = {
    redis,
    prometheus,
    exporter,
    dir,
    stop: async () => {
      await Promise.all([redis.stop(), prometheus.stop(), exporter.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  const paths = await writeSlos(dir, queueSlo({ for: '1s' }) + SHOP);
  ({ engine } = await startEngine(stack, [paths], { env: { SLOE_API_TOKEN: TOKEN } }));
  base = `http://127.0.0.1:${engine.port}`;

  // A known open incident: the queue is too deep, and alice acknowledged it.
  exporter.gauge('demo_queue_depth').set(350);
  incidentId = await eventually(
    'the queue incident',
    async () => (await engine.store.list({ open: true })).find((i) => i.sloId === 'demo/queue-depth')?.id,
    30_000,
  );
  await eventually(
    'the first escalation step',
    async () => ((await engine.store.audit(incidentId)).some((a) => a.type === 'step') ? true : undefined),
    15_000,
  );
  expect(await engine.acknowledge(incidentId, 'alice')).toBe('done');

  const bin = ensureBinaries(['chromium']).chromium!;
  browser = await chromium.launch({
    executablePath: bin,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await mkdir(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await engine?.stop();
  await stack?.stop();
});

const AXE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations of the page (the script is evaluated, as CSP forbids injecting it). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(): Promise<{
            violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }>;
          }>;
        };
      }
    ).axe;
    return (await axe.run()).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      where: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} at ${v.where.join(', ')}`);
}

describe('the status page in Chromium', () => {
  it('signs in with the token, shows owners, budgets and the open incident, and clicks through to its timeline', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    const page = await context.newPage();
    const first = await page.goto(`${base}/`);
    expect(first!.status()).toBe(401);
    await page.getByLabel('API token (SLOE_API_TOKEN)').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/`);
    // The budgets are computed on the first load; wait until the shop's figure is there.
    await eventually(
      'budget figures',
      async () => {
        await page.reload();
        return (await page.locator('section[aria-labelledby="svc-shop"] tbody tr').first().innerText()).includes('%')
          ? true
          : undefined;
      },
      30_000,
    );

    const shop = page.locator('section[aria-labelledby="svc-shop"]');
    await expect.poll(() => shop.locator('.owners').innerText()).toContain('owner dana');
    // The dashboard title is shown as text, not markup.
    expect(await shop.getByRole('link', { name: 'Shop <overview> & "errors"' }).getAttribute('href')).toBe(
      'https://grafana.example.com/d/shop?a=1&b=2',
    );
    const row = shop.locator('tbody tr', { has: page.getByRole('link', { name: 'availability', exact: true }) });
    const cells = await row.locator('td').allInnerTexts();
    // 0.5% errors against a 1% allowance: SLI 99.500%, half the budget left.
    expect(cells[2]).toBe('99.500%');
    expect(cells[3]).toBe('50.0%');
    expect(cells.at(-1)).toBe('● healthy');
    const queue = page.locator('section[aria-labelledby="svc-demo"]');
    expect(await queue.locator('.owners').innerText()).toContain('owner bob');

    const incidents = page.locator('#incidents + table tbody tr');
    expect(await incidents.count()).toBe(1);
    expect(await incidents.first().innerText()).toMatch(
      /^page\s+350 > 200 .*demo\/queue-depth\s+◆ acknowledged by alice at .*\sbob$/i,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'status-light.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);

    await incidents.first().getByRole('link').first().click();
    await page.waitForURL(`${base}/incidents/${incidentId}`);
    expect(await page.locator('dl.facts').innerText()).toMatch(/State\s+◆ acknowledged by alice/);
    expect(await page.locator('dl.facts').innerText()).toContain('owner bob');
    const timeline = await page.locator('ol.timeline li').allInnerTexts();
    expect(timeline[0]).toMatch(/fired/);
    expect(timeline.some((l) => /notified page\.0/.test(l))).toBe(true);
    expect(timeline.at(-1)).toMatch(/acknowledged by alice/);
    await page.screenshot({ path: join(ARTIFACTS, 'incident-light.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('link', { name: 'demo/queue-depth' }).click();
    await page.waitForURL(`${base}/slos/demo/queue-depth`);
    expect(await page.locator('svg.chart').count()).toBe(1);
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto(`${base}/slos/shop/availability`);
    expect(await page.locator('svg.chart').getAttribute('aria-label')).toMatch(/now 50\.0%/);
    await page.screenshot({ path: join(ARTIFACTS, 'slo-light.png'), fullPage: true });
    await page.goto(`${base}/services/shop`);
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  }, 120_000);

  it('dark mode follows prefers-color-scheme, without serious accessibility violations', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
    const page = await context.newPage();
    // ?token= signs in once and comes back without the token in the address.
    await page.goto(`${base}/?token=${TOKEN}`);
    expect(page.url()).toBe(`${base}/`);
    const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(background).toBe('rgb(13, 17, 23)');
    await page.screenshot({ path: join(ARTIFACTS, 'status-dark.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto(`${base}/incidents/${incidentId}`);
    await page.screenshot({ path: join(ARTIFACTS, 'incident-dark.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto(`${base}/slos/shop/availability`);
    await page.screenshot({ path: join(ARTIFACTS, 'slo-dark.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  }, 120_000);

  it('works without JavaScript, and nothing but sloe serves its assets', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${base}/?token=${TOKEN}`);
    expect(await page.locator('#incidents + table tbody tr').count()).toBe(1);
    expect(requests.filter((u) => !u.startsWith(base))).toEqual([]);
    await context.close();
  }, 60_000);

  it('/metrics carries every SLO objective, SLI, budget, burn rates and alert state, with bounded labels', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const value = (name: string, labels: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
      expect(line, `${name}{${labels}}`).toBeDefined();
      return Number(line!.split(' ').at(-1));
    };
    const shop = 'service="shop",slo="availability",signal="error_rate",dashboard="shop-overview",owner="dana"';
    expect(value('sloe_slo_objective', shop)).toBe(0.99);
    expect(Math.abs(value('sloe_slo_sli', shop) - 0.995)).toBeLessThan(0.00001);
    expect(Math.abs(value('sloe_slo_error_budget_remaining_ratio', shop) - 0.5)).toBeLessThan(0.001);
    expect(Math.abs(value('sloe_slo_burn_rate', `${shop},window="6h"`) - 0.5)).toBeLessThan(0.001);
    expect(value('sloe_slo_alert_state', `${shop},severity="page"`)).toBe(0);
    const queue = 'service="demo",slo="queue-depth",signal="queue_depth",dashboard="queue",owner="bob"';
    expect(value('sloe_slo_alert_state', `${queue},severity="page"`)).toBe(1);
    expect(value('sloe_slo_alert_state', `${queue},severity="ticket"`)).toBe(0);
    // Only the bounded labels: nothing from a query's series or the SLI.
    const labelNames = new Set(
      [...text.matchAll(/^sloe_slo_\w+\{([^}]*)\}/gm)].flatMap((m) => [...m[1]!.matchAll(/(\w+)="/g)].map((l) => l[1])),
    );
    expect([...labelNames].sort()).toEqual(['dashboard', 'owner', 'service', 'severity', 'signal', 'slo', 'window']);
  });

  it('a wrong token is refused, and without any token configured the page says how to open it', async () => {
    const wrong = await fetch(`${base}/?token=nope`, { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const forged = await fetch(`${base}/`, { headers: { cookie: `sloe_session=${TOKEN}` } });
    expect(forged.status).toBe(401);
    const bearer = await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('content-security-policy')).toContain("default-src 'none'");
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN, next: '//evil.example.com/' }),
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    expect(login.headers.get('set-cookie')).toMatch(/^sloe_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
    expect(login.headers.get('set-cookie')).not.toContain(TOKEN);
  });
});
