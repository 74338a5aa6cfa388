/** A synthetic LLM IT-support assistant: live golden-signal metrics, with a latency incident that can be injected. */
import { Histogram } from 'prom-client';
import type { Exporter } from '../local/exporter.js';

const APP = 'it-support-assistant';

export class SyntheticAssistant {
  private timer: NodeJS.Timeout | undefined;
  private slow = false;
  private readonly latency: Histogram;

  constructor(private readonly exporter: Exporter) {
    this.latency = new Histogram({
      name: 'llm_request_duration_seconds',
      help: 'LLM request latency',
      labelNames: ['app', 'model'],
      buckets: [0.5, 1, 2.5, 5, 10, 30],
      registers: [exporter.registry],
    });
  }

  /** Starts producing traffic: ~20 requests a second. */
  start(): void {
    const requests = this.exporter.counter('llm_requests_total', ['app', 'status']);
    const cost = this.exporter.counter('llm_cost_usd_total', ['app']);
    const cache = this.exporter.counter('llm_cache_requests_total', ['app', 'result']);
    const guardrails = this.exporter.counter('llm_guardrail_triggers_total', ['app']);
    const queue = this.exporter.gauge('llm_approval_queue_depth', ['app']);
    const score = this.exporter.gauge('llm_online_eval_score', ['app']);
    const tick = () => {
      for (let i = 0; i < 20; i++) {
        const error = Math.random() < 0.005;
        requests.inc({ app: APP, status: error ? 'error' : 'ok' });
        this.latency.observe(
          { app: APP, model: 'sonnet' },
          this.slow ? 6 + Math.random() * 3 : 1 + Math.random() * 1.2,
        );
        cost.inc({ app: APP }, 0.02 + Math.random() * 0.02);
        cache.inc({ app: APP, result: Math.random() < 0.4 ? 'hit' : 'miss' });
        if (Math.random() < 0.02) guardrails.inc({ app: APP });
      }
      queue.set({ app: APP }, 15 + Math.floor(Math.random() * 10));
      score.set({ app: APP }, 80 + Math.random() * 2);
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  /** Makes every request slow (p95 ≈ 8.5 s) or fast again. */
  setSlow(slow: boolean): void {
    this.slow = slow;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The SLO files of the demo: the assistant's latency and error rate, with delays short enough to watch. */
export function demoSlos(s: (seconds: number) => string): string {
  return `apiVersion: sloe/v1
kind: EscalationPolicy
name: demo
page:
  - notify: slack
    channel: "#ai-alerts"
  - after: ${s(20)}
    notify: pagerduty
  - after: ${s(40)}
    notify: oncall
    schedule: ai-primary
---
apiVersion: sloe/v1
kind: OnCallSchedule
name: ai-primary
timezone: Europe/Berlin
rotation: { every: 1w, start: "2026-11-02T09:00" }
members:
  - { name: alice, slack: U01ALICE }
  - { name: bob, slack: U02BOB }
fallback: alice
---
apiVersion: sloe/v1
kind: ServiceLevels
service: it-support-assistant
owner: ai-platform
escalation: demo
interval: 2s
dashboards:
  - { id: assistant-golden-signals, title: Assistant golden signals, url: "https://grafana.example.com/d/assistant", owner: alice }
slos:
  - name: latency-p95
    signal: latency
    dashboard: assistant-golden-signals
    runbook: https://wiki.example.com/runbooks/assistant-latency
    query: histogram_quantile(0.95, sum by (le, model) (rate(llm_request_duration_seconds_bucket{app="it-support-assistant"}[${s(15)}])))
    objective: "< 3.5"
    alert: { when: "> 5", for: ${s(20)}, resolveAfter: ${s(20)} }
  - name: error-rate
    signal: error_rate
    dashboard: assistant-golden-signals
    query: sum(rate(llm_requests_total{app="it-support-assistant", status="error"}[${s(30)}])) / sum(rate(llm_requests_total{app="it-support-assistant"}[${s(30)}]))
    objective: "< 1%"
    alert: { when: "> 3%", for: ${s(20)} }
`;
}
