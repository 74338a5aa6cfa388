/**
 * `SLOE_BUDGET_REFRESH=off`: no budget is computed (a first refresh reads every SLO's whole window, which at very
 * many SLOs is more than an operator may want Prometheus to answer), and the pages say so instead of "being computed".
 */
import { describe, expect, it } from 'vitest';
import { BudgetKeeper } from '../../src/budget/keeper.js';
import { PrometheusClient, prometheusConfigFromEnv } from '../../src/evaluator/prometheus.js';
import { renderIndex, renderSlo } from '../../src/status/pages.js';
import { configFromText, oneService, ratioSlos } from '../support/rules.js';

describe('error budgets turned off', () => {
  it('asks Prometheus nothing, and the pages say budgets are not computed', async () => {
    const config = await configFromText(
      oneService(
        ratioSlos(
          3,
          (i) => `a${i}`,
          () => '    objective: 99.9%',
        ),
      ),
    );
    const prometheus = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: 'http://127.0.0.1:9', attempts: 1 });
    const keeper = new BudgetKeeper({ prometheus, slos: () => config.slos, now: Date.now, refreshMs: 'off' });
    await keeper.announce();
    const budgets = await keeper.fresh(5000);
    expect(await keeper.refresh()).toBe(budgets);
    expect(keeper.current()).toBe(budgets);
    expect(budgets).toMatchObject({ at: 0, off: true });
    expect(budgets.bySlo.size).toBe(0);
    expect(prometheus.queries).toBe(0);
    const model = { now: Date.now(), config, budgets, open: [] };
    const index = renderIndex(model);
    expect(index).toContain('Error budgets are not computed here (<code>SLOE_BUDGET_REFRESH=off</code>)');
    expect(index).not.toContain('being computed');
    expect(renderSlo(model, 's', 'availability-1', [])).toContain('Error budgets are not computed here.');
  });
});
