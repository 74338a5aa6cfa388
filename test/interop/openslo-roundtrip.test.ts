/**
 * sloe → OpenSLO → sloe gives the same model: `sloe export openslo`, then `sloe import openslo`, loaded with the
 * escalation policies and schedules of the original files, compares equal to the original configuration.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOpenSlo, importOpenSlo, renderDocs } from '../../src/interop/index.js';
import { type Config, loadRules } from '../../src/rules/index.js';
import { ROOT, runSloe } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloe-roundtrip-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The model without where things were declared (the files differ by design). */
function model(config: Config) {
  return {
    // `derived` says a preset wrote the query; the export writes it out, so the import has it as written: same query.
    slos: config.slos.map(
      ({ source: _source, derived: _derived, dashboard: { declaredAt: _at, ...dashboard }, ...slo }) => ({
        ...slo,
        dashboard,
      }),
    ),
    dashboards: [...config.dashboards.values()]
      .map(({ declaredAt: _at, ...d }) => d)
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
    services: config.services.map(({ source: _source, ...s }) => s),
  };
}

/** The documents of the files that are not ServiceLevels (policies, schedules), which OpenSLO does not carry. */
async function otherDocs(files: string[]): Promise<string> {
  const out: string[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(await readFile(f, 'utf8'))) {
      const v = doc.toJS() as { kind?: string } | null;
      if (v && v.kind !== 'ServiceLevels') out.push(new Document(v).toString());
    }
  }
  return out.join('---\n');
}

const SETS = [
  ['slos/', ['slos']],
  ...['custom-tiers-and-baseline.yaml', 'minimal.yaml', 'ratio-and-oncall.yaml', 'repeat.yaml', 'responders.yaml'].map(
    (f) => [`fixtures/good/${f}`, [`test/fixtures/slos/good/${f}`]] as const,
  ),
  ['fixtures/burn-rate', ['test/fixtures/slos/burn-rate']],
  // compare: (rollout gates) travels as an annotation too.
  ['fixtures/gate', ['test/fixtures/slos/gate']],
] as const;

describe('sloe export openslo, then sloe import openslo', () => {
  it.each(SETS)('%s comes back as the same model', async (name, paths) => {
    const original = await loadRules(paths.map((p) => join(ROOT, p)));
    expect(original.problems).toEqual([]);
    expect(original.config.slos.length).toBeGreaterThan(0);
    const work = await mkdtemp(join(dir, 'set-'));
    await writeFile(join(work, 'openslo.yaml'), exportOpenSlo(original.config));
    const imported = await importOpenSlo([join(work, 'openslo.yaml')]);
    expect(imported.problems, name).toEqual([]);
    expect(imported.notes, name).toEqual([]);
    const back = join(work, 'sloe');
    await rm(back, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(back));
    for (const f of imported.files) {
      // The import generates no escalation policy where the export named sloe's own.
      expect(
        f.docs.map((d) => d.doc.kind),
        name,
      ).toEqual(['ServiceLevels']);
      await writeFile(join(back, `${f.name}.yaml`), renderDocs(f.docs));
    }
    const others = await otherDocs(original.files);
    if (others) await writeFile(join(back, 'policies.yaml'), others);
    const again = await loadRules([back]);
    expect(again.problems, name).toEqual([]);
    expect(model(again.config)).toEqual(model(original.config));
  });

  it('the command writes OpenSLO documents of every kind it uses', async () => {
    const result = await runSloe(['export', 'openslo', 'slos']);
    expect(result.code, result.stderr).toBe(0);
    const kinds = parseAllDocuments(result.stdout).map((d) => (d.toJS() as { kind: string }).kind);
    expect([...new Set(kinds)].sort()).toEqual([
      'AlertCondition',
      'AlertNotificationTarget',
      'AlertPolicy',
      'DataSource',
      'SLO',
      'Service',
    ]);
    expect(kinds.filter((k) => k === 'SLO')).toHaveLength(9);
    const file = join(dir, 'export.yaml');
    expect((await runSloe(['export', 'openslo', 'slos', '--out', file])).code).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(result.stdout);
    expect((await readdir(dir)).length).toBeGreaterThan(0);
  });
});
