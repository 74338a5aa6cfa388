/**
 * The PromQL a rollout gate runs for one side of a comparison: the SLO's own queries narrowed to the side and
 * stretched to the window, and the count of the events the SLI rests on, for each form of query.
 */
import { describe, expect, it } from 'vitest';
import { comparedSlos } from '../../src/gate/measure.js';
import { sideQueries } from '../../src/gate/queries.js';
import { loadRules } from '../../src/rules/index.js';
import { ROOT } from '../support/cli.js';
import { configFromText } from '../support/rules.js';

const HALF_HOUR = 30 * 60_000;

const spec = (slos: string, metrics = '') => `
apiVersion: sloe/v1
kind: EscalationPolicy
name: default
page: [{ notify: slack, channel: "#ai" }]
---
apiVersion: sloe/v1
kind: ServiceLevels
service: assistant
owner: ai-team
escalation: default
dashboards: [{ id: d, owner: alice }]
${metrics}
slos:
${slos}`;

async function queriesOf(yaml: string, side = 'answer_v2') {
  const slos = comparedSlos((await configFromText(yaml)).slos);
  return Object.fromEntries(slos.map((s) => [s.name, sideQueries(s, side, HALF_HOUR)]));
}

describe('the queries of one side of a comparison', () => {
  it('SLOs declared by signal: quantile, absent-safe error ratio and eval-score gauge over the window', async () => {
    const { config, problems } = await loadRules([`${ROOT}/test/fixtures/slos/gate/assistant.yaml`]);
    expect(problems).toEqual([]);
    const slos = comparedSlos(config.slos);
    expect(slos.map((s) => [s.name, s.compare.when.text, s.compare.minEvents])).toEqual([
      ['latency-p95', 'rise > 20%', 100],
      ['error-rate', 'rise > 0.005', 100],
      ['eval-score', 'drop > 2', 20],
    ]);
    expect(Object.fromEntries(slos.map((s) => [s.name, sideQueries(s, 'answer_v2', HALF_HOUR)]))).toEqual({
      'latency-p95': {
        value:
          'histogram_quantile(0.95, sum by (le, model) (rate(llm_request_duration_seconds_bucket{app="assistant", prompt_key="answer_v2"}[30m])))',
        events:
          'sum without (le) (sum by (le, model) (rate(llm_request_duration_seconds_bucket{app="assistant", prompt_key="answer_v2", le="+Inf"}[30m]))) * 1800',
      },
      'error-rate': {
        value:
          '(sum(rate(llm_requests_total{app="assistant", status="error", prompt_key="answer_v2"}[30m])) or vector(0)) / sum(rate(llm_requests_total{app="assistant", prompt_key="answer_v2"}[30m]))',
        events: '(sum(rate(llm_requests_total{app="assistant", prompt_key="answer_v2"}[30m]))) * 1800',
      },
      'eval-score': {
        value: 'avg(avg_over_time(llm_online_eval_score{app="assistant", prompt_key="answer_v2"}[30m]))',
        events: 'sum(count_over_time(llm_online_eval_score{app="assistant", prompt_key="answer_v2"}[30m]))',
      },
    });
  });

  it('a ratio SLO compares its share of bad events, counting its total; a good ratio becomes 1 − good share', async () => {
    const q = await queriesOf(
      spec(`
  - name: availability
    signal: error_rate
    dashboard: d
    objective: 99%
    ratio: { bad: 'sum by (model) (rate(req_total{code=~"5.."}[$window]))', total: 'sum by (model) (rate(req_total[$window]))' }
    compare: { label: gen_ai_request_model, baseline: small }
  - name: success
    signal: error_rate
    dashboard: d
    objective: 99%
    ratio: { good: 'sum(rate(req_total{code="200"}[$window]))', total: 'sum(rate(req_total[$window]))' }
    compare: { label: gen_ai_request_model, baseline: small }`),
      'large',
    );
    const total = 'sum by (model) (rate(req_total{gen_ai_request_model="large"}[30m]))';
    expect(q.availability).toEqual({
      value: `(sum by (model) (rate(req_total{code=~"5..", gen_ai_request_model="large"}[30m])) or 0 * ${total}) / ${total}`,
      events: `${total} * 1800`,
    });
    expect(q.success!.value).toBe(
      '1 - (sum(rate(req_total{code="200", gen_ai_request_model="large"}[30m])) or 0 * sum(rate(req_total{gen_ai_request_model="large"}[30m]))) / sum(rate(req_total{gen_ai_request_model="large"}[30m]))',
    );
  });

  it('hand-written queries: A / B counts B, a bare gauge is averaged per series, and a side value is quoted', async () => {
    const q = await queriesOf(
      spec(`
  - name: cost
    signal: cost_per_request
    dashboard: d
    query: (sum by (model) (rate(cost_usd_total[1d]))) / sum by (model) (rate(requests_total{}[1d]))
    objective: "< 0.05"
    compare: { label: prompt_key, baseline: v1 }
  - name: score
    signal: eval_score
    dashboard: d
    query: online_eval_score{job="a"}
    alert: { when: "< 60" }
    compare: { label: prompt_key, baseline: v1, when: "drop > 5" }`),
      'v"2',
    );
    expect(q.cost).toEqual({
      value:
        '(sum by (model) (rate(cost_usd_total{prompt_key="v\\"2"}[30m]))) / sum by (model) (rate(requests_total{prompt_key="v\\"2"}[30m]))',
      events: '(sum by (model) (rate(requests_total{prompt_key="v\\"2"}[30m]))) * 1800',
    });
    expect(q.score).toEqual({
      value: 'avg_over_time(online_eval_score{job="a", prompt_key="v\\"2"}[30m])',
      events: 'count_over_time(online_eval_score{job="a", prompt_key="v\\"2"}[30m])',
    });
  });

  it('a preset SLO may group by the compared label: each side is still picked by it', async () => {
    const q = await queriesOf(
      spec(
        `
  - name: latency
    signal: latency
    by: [prompt_key]
    dashboard: d
    objective: "< 3.5"
    compare: { label: prompt_key, baseline: answer_v1 }`,
        'metrics: { duration: llm_request_duration_seconds }',
      ),
    );
    expect(q.latency!.value).toBe(
      'histogram_quantile(0.95, sum by (le, prompt_key) (rate(llm_request_duration_seconds_bucket{prompt_key="answer_v2"}[30m])))',
    );
  });
});
