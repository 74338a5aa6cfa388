/**
 * Sloth specs as sloe SLO files: the `prometheus/v1` spec and the Kubernetes `PrometheusServiceLevel` CRD
 * (`sloth.slok.dev/v1`). Sloth's alerts are the Google SRE Workbook tiers for a 30-day period, which sloe writes as an
 * explicit tier list.
 */
import { percent } from './names.js';
import {
  type BurnRateTierDoc,
  type ImportResult,
  OWNER_PLACEHOLDER,
  type OutputDoc,
  type ServiceLevelsDoc,
  type SloDoc,
  defaultPolicy,
  guessSignal,
  nameFrom,
} from './sloe-docs.js';
import { type InputDoc, type Obj, type Path, isObj, readInput } from './yaml-input.js';
import { WINDOW_PLACEHOLDER } from '../rules/window.js';

/** Sloth's page and ticket alerts: two windows each (Sloth's default 30-day SLO period). */
const PAGE_TIERS: BurnRateTierDoc[] = [
  { severity: 'page', budget: '2%', long: '1h', short: '5m' },
  { severity: 'page', budget: '5%', long: '6h', short: '30m' },
];
const TICKET_TIERS: BurnRateTierDoc[] = [
  { severity: 'ticket', budget: '10%', long: '1d', short: '2h' },
  { severity: 'ticket', budget: '10%', long: '3d', short: '6h' },
];

/** Field names of the two forms: the plain spec uses snake_case, the CRD camelCase. */
const FIELDS = {
  spec: {
    errorQuery: 'error_query',
    totalQuery: 'total_query',
    errorRatioQuery: 'error_ratio_query',
    pageAlert: 'page_alert',
    ticketAlert: 'ticket_alert',
  },
  crd: {
    errorQuery: 'errorQuery',
    totalQuery: 'totalQuery',
    errorRatioQuery: 'errorRatioQuery',
    pageAlert: 'pageAlert',
    ticketAlert: 'ticketAlert',
  },
} as const;

/** Imports Sloth spec files. */
export async function importSloth(files: readonly string[]): Promise<ImportResult> {
  const result: ImportResult = { files: [], problems: [], notes: [] };
  for (const file of files) {
    const { docs, problems } = await readInput(file);
    result.problems.push(...problems);
    for (const doc of docs) {
      const out = slothDoc(doc, result);
      if (out) result.files.push(out);
    }
  }
  return result;
}

function slothDoc(doc: InputDoc, result: ImportResult): { name: string; docs: OutputDoc[] } | undefined {
  const fail = (path: Path, message: string) => void result.problems.push(doc.problem(path, message));
  const note = (path: Path, message: string) => {
    const p = doc.problem(path, message);
    result.notes.push(p);
    return p;
  };
  const root = doc.value;
  if (!isObj(root))
    return fail(
      [],
      'expected a Sloth spec (version: prometheus/v1) or a PrometheusServiceLevel (apiVersion: sloth.slok.dev/v1)',
    );
  let spec: Obj;
  let base: Path;
  let fields: (typeof FIELDS)[keyof typeof FIELDS];
  if (root.version === 'prometheus/v1') {
    spec = root;
    base = [];
    fields = FIELDS.spec;
  } else if (root.apiVersion === 'sloth.slok.dev/v1' && root.kind === 'PrometheusServiceLevel') {
    if (!isObj(root.spec)) return fail(['spec'], 'a PrometheusServiceLevel needs a spec');
    spec = root.spec;
    base = ['spec'];
    fields = FIELDS.crd;
  } else if (root.version !== undefined) {
    return fail(
      ['version'],
      `unsupported Sloth spec version ${JSON.stringify(root.version)}: sloe imports prometheus/v1`,
    );
  } else {
    return fail(
      root.apiVersion !== undefined ? ['apiVersion'] : [],
      'not a Sloth spec: expected version: prometheus/v1, or apiVersion: sloth.slok.dev/v1 with kind: PrometheusServiceLevel',
    );
  }
  const at = (...p: Array<string | number>): Path => [...base, ...p];

  const service = typeof spec.service === 'string' ? nameFrom(spec.service) : undefined;
  if (service === undefined) return fail(at('service'), 'service is required: a name of letters, digits and "-"');
  if (service !== spec.service)
    note(
      at('service'),
      `service ${JSON.stringify(spec.service)} is named ${JSON.stringify(service)} in sloe ([a-z0-9-])`,
    );

  const labels = stringMap(spec.labels, at('labels'), fail);
  const owner = labels.owner ?? labels.team ?? OWNER_PLACEHOLDER;
  delete labels.owner;
  delete labels.team;
  const comments: string[] = [`Imported from Sloth: ${doc.file}`];
  if (owner === OWNER_PLACEHOLDER)
    comments.push(
      `${OWNER_PLACEHOLDER}: the spec names no owner (labels.owner or labels.team); sloe validate fails until you fill it in.`,
    );
  comments.push(
    "Sloth's SLO period is set on its command line (30d unless --default-slo-period says otherwise): check window.",
  );

  const slos: SloDoc[] = [];
  const items = Array.isArray(spec.slos) ? spec.slos : [];
  if (items.length === 0) fail(at('slos'), 'slos must list at least one SLO');
  items.forEach((raw, i) => {
    const p = (...rest: Array<string | number>) => at('slos', i, ...rest);
    if (!isObj(raw)) return fail(p(), 'an SLO must be a mapping');
    const name = typeof raw.name === 'string' ? nameFrom(raw.name) : undefined;
    if (name === undefined) return fail(p('name'), 'an SLO needs a name');
    if (name !== raw.name)
      note(p('name'), `SLO ${JSON.stringify(raw.name)} is named ${JSON.stringify(name)} in sloe ([a-z0-9-])`);
    const objective = typeof raw.objective === 'number' ? raw.objective : Number.NaN;
    if (!(objective > 0 && objective < 100))
      return fail(p('objective'), 'objective must be a percentage between 0 and 100, both exclusive (99.9)');

    const sli = isObj(raw.sli) ? raw.sli : undefined;
    if (!sli) return fail(p('sli'), 'an SLO needs an sli (events)');
    if (sli.raw !== undefined) {
      return fail(
        p('sli', 'raw'),
        `a raw error ratio (${fields.errorRatioQuery}) cannot be imported: sloe needs the error and total event queries (sli.events) to count events and weigh windows`,
      );
    }
    if (sli.plugin !== undefined)
      return fail(
        p('sli', 'plugin'),
        'SLI plugins cannot be imported: write the error and total queries out as sli.events',
      );
    const events = isObj(sli.events) ? sli.events : undefined;
    if (!events) return fail(p('sli'), 'sli needs events (error and total queries)');
    const bad = query(events[fields.errorQuery], p('sli', 'events', fields.errorQuery), fail);
    const total = query(events[fields.totalQuery], p('sli', 'events', fields.totalQuery), fail);
    if (bad === undefined || total === undefined) return;

    const alerting = isObj(raw.alerting) ? raw.alerting : {};
    const disabled = (key: string) => isObj(alerting[key]) && (alerting[key] as Obj).disable === true;
    const tiers = [
      ...(disabled(fields.pageAlert) ? [] : PAGE_TIERS),
      ...(disabled(fields.ticketAlert) ? [] : TICKET_TIERS),
    ];
    if (tiers.length === 0)
      return fail(
        p('alerting'),
        'both the page and the ticket alerts are disabled: a sloe SLO alerts on at least one burn-rate tier',
      );
    const dropped = ['name', 'labels', 'annotations'].filter((k) => alerting[k] !== undefined);
    for (const key of [fields.pageAlert, fields.ticketAlert]) {
      const a = alerting[key];
      if (isObj(a) && (a.labels !== undefined || a.annotations !== undefined))
        dropped.push(`${key}.labels/annotations`);
    }
    const sloComments: string[] = [];
    if (dropped.length) {
      const n = note(
        p('alerting'),
        `alerting ${dropped.join(', ')} have no sloe equivalent: sloe escalates through the policy ${service}-default (route there instead)`,
      );
      sloComments.push(`${n.line}:${n.col}: ${n.message}`);
    }

    const sloLabels = stringMap(raw.labels, p('labels'), fail);
    slos.push({
      name,
      signal: guessSignal(name, [bad, total], true),
      dashboard: service,
      ...(typeof raw.description === 'string' && raw.description.trim() !== ''
        ? { description: raw.description.trim() }
        : {}),
      ratio: { bad, total },
      objective: percent(objective / 100),
      window: '30d',
      ...(Object.keys(sloLabels).length ? { labels: sloLabels } : {}),
      alert: { burnRate: tiers },
    });
    if (sloComments.length) comments.push(...sloComments.map((c) => `slos[${i}] ${c}`));
  });
  if (slos.length === 0) return undefined;

  const levels: ServiceLevelsDoc = {
    apiVersion: 'sloe/v1',
    kind: 'ServiceLevels',
    service,
    owner,
    escalation: `${service}-default`,
    ...(Object.keys(labels).length ? { labels } : {}),
    dashboards: [{ id: service, title: `${service} SLOs`, owner }],
    slos,
  };
  return {
    name: service,
    docs: [
      { doc: levels, comment: comments },
      {
        doc: defaultPolicy(service),
        comment: [
          'Generated: Slack, then PagerDuty after 10m. Set SLACK_CHANNEL_… and PAGERDUTY_ROUTING_KEY where sloe runs.',
        ],
      },
    ],
  };
}

/** A Sloth query with `{{.window}}` as sloe's `$window`; any other template is a problem. */
function query(value: unknown, path: Path, fail: (path: Path, message: string) => void): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    fail(path, 'a query is required');
    return undefined;
  }
  const q = value.trim().replace(/\{\{\s*\.window\s*\}\}/g, WINDOW_PLACEHOLDER);
  if (q.includes('{{')) {
    fail(path, 'the query uses a template other than {{.window}}, which sloe cannot fill in');
    return undefined;
  }
  if (!q.includes(WINDOW_PLACEHOLDER)) {
    fail(path, 'the query must use {{.window}} as its range, so that sloe can compute each burn-rate window');
    return undefined;
  }
  return q;
}

function stringMap(value: unknown, path: Path, fail: (path: Path, message: string) => void): Record<string, string> {
  if (value === undefined) return {};
  if (!isObj(value)) {
    fail(path, 'labels must be a mapping of names to values');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else fail([...path, k], 'a label value must be a string');
  }
  return out;
}
