import { describe, expect, it } from 'vitest';
import { comparedSlos } from '../../src/gate/measure.js';
import { sideQueries } from '../../src/gate/queries.js';
import { loadRules } from '../../src/rules/index.js';
import { ROOT } from '../support/cli.js';

describe('x', () => {
  it('prints', async () => {
    const { config, problems } = await loadRules([`${ROOT}/test/fixtures/slos/gate/assistant.yaml`]);
    console.log(problems);
    for (const s of comparedSlos(config.slos)) console.log(s.name, s.compare, sideQueries(s, 'answer_v2', 30 * 60_000));
  });
});
