/** `sloe run` on a Kubernetes ConfigMap mount: the files load through their links, and an update reloads them. */
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, queueSlo, startEngine, useStack } from '../support/engine.js';

const ctx = useStack();

/** Writes a timestamped directory and points `..data` at it, the way the kubelet does (a rename, atomic). */
async function publish(mount: string, stamp: string, files: Record<string, string>): Promise<void> {
  const dir = join(mount, stamp);
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  await symlink(stamp, join(mount, '..data_tmp'));
  await rename(join(mount, '..data_tmp'), join(mount, '..data'));
}

describe('a ConfigMap mount', () => {
  it('loads through ..data, and reloads when the kubelet swaps ..data to a new version', async () => {
    const mount = join(ctx.stack.dir, 'configmap');
    await mkdir(mount);
    await publish(mount, '..2026_11_28_10_00_00.000000001', { 'demo.yaml': queueSlo() });
    await symlink('..data/demo.yaml', join(mount, 'demo.yaml'));

    const { engine, capture } = await startEngine(ctx.stack, [mount], { watch: true });
    ctx.engines.push(engine);
    expect(engine.config().slos.map((s) => s.id)).toEqual(['demo/queue-depth']);

    const second = queueSlo().replace(
      '  - name: queue-depth',
      '  - name: queue-depth\n    description: updated through the ConfigMap',
    );
    await publish(mount, '..2026_11_28_10_05_00.000000002', { 'demo.yaml': second });
    await rm(join(mount, '..2026_11_28_10_00_00.000000001'), { recursive: true });

    await eventually('the reload', () => capture.events('config-reloaded')[0], 10_000);
    expect(engine.config().slos[0]!.description).toBe('updated through the ConfigMap');
  });
});
