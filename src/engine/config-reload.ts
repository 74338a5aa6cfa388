/**
 * Reloading the SLO files while running: on request (SIGHUP) or when a file below the paths changes. An invalid or
 * unreadable configuration is reported with its cause and the last good one kept.
 */
import { type FSWatcher, watch } from 'node:fs';
import type { Logger } from '../observability/log.js';
import type { EngineMetrics } from '../observability/metrics.js';
import { type Config, type Problem, checkOptionsFromEnv, formatProblem, loadRules } from '../rules/index.js';
import { describeError } from '../util/errors.js';

export interface ConfigReloadDeps {
  paths: readonly string[];
  env: NodeJS.ProcessEnv;
  log: Logger;
  metrics: EngineMetrics;
  /** Takes a valid configuration into use; never rejects (it logs what it could not do). */
  apply(config: Config): Promise<void>;
}

/** The initial configuration is invalid: nothing to run. */
export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`the SLO files have ${problems.length} problem(s)`);
  }
}

/** Loads the SLO files for `sloe run`, with the environment's check options. */
export function loadConfig(paths: readonly string[], env: NodeJS.ProcessEnv) {
  return loadRules(paths, { ...checkOptionsFromEnv(env), env });
}

export class ConfigReloader {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ConfigReloadDeps) {}

  /** Reloads the SLO files; never rejects. */
  async reload(): Promise<{ ok: boolean; problems: Problem[] }> {
    const { paths, env, log, metrics } = this.deps;
    const loaded = await loadConfig(paths, env).catch((e: unknown) => {
      return {
        problems: [
          { file: String(paths[0]), line: 1, col: 1, message: `could not load the SLO files: ${describeError(e)}` },
        ],
        config: undefined,
        envProblems: [],
        files: [],
      };
    });
    if (loaded.problems.length > 0 || !loaded.config) {
      metrics.configReloads.inc({ result: 'invalid' });
      for (const p of loaded.problems)
        log.error({ event: 'config-invalid', problem: formatProblem(p) }, formatProblem(p));
      log.error(
        { event: 'config-reload-failed', problems: loaded.problems.length },
        `config reload failed (${loaded.problems.length} problem(s)); keeping the last good configuration`,
      );
      return { ok: false, problems: loaded.problems };
    }
    metrics.configReloads.inc({ result: 'ok' });
    log.info(
      { event: 'config-reloaded', slos: loaded.config.slos.length },
      `config reloaded: ${loaded.config.slos.length} SLOs`,
    );
    await this.deps.apply(loaded.config);
    return { ok: true, problems: [] };
  }

  /** Reloads in the background (a signal, a changed file), saying what asked for it. */
  request(trigger: string): void {
    const { log } = this.deps;
    log.info({ event: 'config-reload', trigger }, `reloading the SLO files (${trigger})`);
    this.reload().catch((e: unknown) =>
      log.error(
        { event: 'config-reload-failed', trigger, error: describeError(e) },
        `config reload failed: ${describeError(e)}; keeping the last good configuration`,
      ),
    );
  }

  /** Reloads 300 ms after the last change of a YAML file below the paths. */
  watch(): void {
    const { paths, log } = this.deps;
    for (const path of paths) {
      try {
        const w = watch(path, { recursive: true }, (_event, file) => {
          if (file && !/\.ya?ml$/i.test(String(file))) return;
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.request(`file changed: ${String(file ?? path)}`), 300);
        });
        w.on('error', (e) =>
          log.warn(
            { event: 'watch-error', path, error: e.message },
            `cannot watch ${path}: ${e.message}; send SIGHUP to reload`,
          ),
        );
        this.watchers.push(w);
      } catch (e) {
        log.warn(
          { event: 'watch-error', path, error: (e as Error).message },
          `cannot watch ${path}; send SIGHUP to reload`,
        );
      }
    }
  }

  /** Stops watching; a pending reload is dropped. */
  stop(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
