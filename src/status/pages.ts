/**
 * The pages of the status page, rendered from a model (configuration, budgets, incidents): pure functions, so the
 * benchmark renders 1,000 SLOs without a server. State is shown by colour and by text with an icon.
 */
import type { Budget, BudgetHealth } from '../budget/budget.js';
import { budgetHealth } from '../budget/budget.js';
import type { BudgetEntry, BudgetSnapshot } from '../budget/keeper.js';
import type { AuditEntry, Incident } from '../incident/model.js';
import { objectiveText } from '../evaluator/describe.js';
import { burn, exhaustionText, humanDuration, pct } from '../report/format.js';
import { formatDuration } from '../rules/duration.js';
import type { Config, Slo } from '../rules/model.js';
import { redactUrls } from '../util/redact.js';
import { burnDownChart, sparkline } from './chart.js';
import { esc, externalLink, href, page, time } from './html.js';

export interface StatusModel {
  now: number;
  config: Config;
  budgets: BudgetSnapshot;
  /** Open incidents, or why they could not be read. */
  open: readonly Incident[] | { error: string };
  signedIn?: boolean;
}

type State = BudgetHealth | 'pending' | 'error';
const STATE_LABEL: Record<State, string> = {
  healthy: '● healthy',
  burning: '▲ burning',
  exhausted: '✖ exhausted',
  nodata: '○ no data',
  pending: '… not computed yet',
  error: '✖ budget unknown',
};

function stateOf(entry: BudgetEntry | undefined): State {
  if (!entry) return 'pending';
  if (entry.error !== undefined) return 'error';
  return budgetHealth(entry.budget);
}

const badge = (state: State) => `<span class="st ${state}">${STATE_LABEL[state]}</span>`;

function openList(model: StatusModel): Incident[] {
  return Array.isArray(model.open) ? [...(model.open as Incident[])].sort((a, b) => b.firedAt - a.firedAt) : [];
}

function incidentsBanner(model: StatusModel): string {
  return Array.isArray(model.open)
    ? ''
    : `<p class="banner" role="alert">Open incidents could not be read: ${esc(redactUrls((model.open as { error: string }).error))}</p>`;
}

function budgetsBanner(model: StatusModel, slos: readonly Slo[]): string {
  const failed = slos
    .map((s) => model.budgets.bySlo.get(s.id))
    .filter((e): e is { error: string } => e?.error !== undefined);
  if (model.budgets.off)
    return '<p class="banner" role="status">Error budgets are not computed here (<code>SLOE_BUDGET_REFRESH=off</code>).</p>';
  const pending = model.budgets.at === 0;
  if (pending)
    return '<p class="banner" role="status">Error budgets are being computed against Prometheus; reload in a moment.</p>';
  return failed.length
    ? `<p class="banner" role="alert">The error budgets of ${failed.length} SLO(s) could not be computed: ${esc(redactUrls(failed[0]!.error))}</p>`
    : '';
}

/** firing / acknowledged by whom / snoozed until / resolved. */
export function incidentState(i: Incident, now: number): string {
  if (i.status === 'resolved')
    return `<span class="st resolved">✔ resolved</span>${i.resolvedBy ? ` by ${esc(i.resolvedBy)}` : ''}`;
  if (i.status === 'acknowledged')
    return `<span class="st acknowledged">◆ acknowledged</span> by ${esc(i.acknowledgedBy ?? 'someone')}${i.acknowledgedAt ? ` at ${time(i.acknowledgedAt)}` : ''}`;
  if (i.snoozedUntil !== undefined && i.snoozedUntil > now)
    return `<span class="st snoozed">◇ snoozed</span> until ${time(i.snoozedUntil)}`;
  return '<span class="st firing">✖ firing</span>';
}

function incidentRows(list: readonly Incident[], now: number, withSlo: boolean, none = 'No open incidents.'): string {
  if (list.length === 0) return `<p class="muted">${none}</p>`;
  const rows = list.map(
    (i) =>
      `<tr><td class="sev">${esc(i.severity)}</td><td><a href="${href('incidents', i.id)}">${esc(i.message) || esc(i.slo)}</a></td>${withSlo ? `<td><a href="${href('slos', i.service, i.slo)}">${esc(i.service)}/${esc(i.slo)}</a></td>` : ''}<td>${incidentState(i, now)}</td><td>${time(i.firedAt)} <span class="muted">(${humanDuration(now - i.firedAt)} ago)</span></td><td>${esc(i.dashboard.owner)}</td></tr>`,
  );
  return `<table><thead><tr><th scope="col">Severity</th><th scope="col">Incident</th>${withSlo ? '<th scope="col">SLO</th>' : ''}<th scope="col">State</th><th scope="col">Since</th><th scope="col">Dashboard owner</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function budgetCells(entry: BudgetEntry | undefined, compact: boolean): string {
  const b = entry?.budget;
  // Numeric cells are right-aligned by the table's stylesheet; end tags of cells and rows are implied (1,000 rows stay light).
  if (!b) return '<td>–<td>–<td>–';
  const left = b.budget.remaining;
  const meter = Number.isFinite(left)
    ? `<meter min="-1" max="1" low="0.1" high="0.5" optimum="1" value="${left.toFixed(3)}" aria-hidden="true"></meter>`
    : '';
  return `<td>${pct(b.sli, 3)}<td>${compact ? '' : meter}${pct(left, 1)}<td>${burn(b.burnRates['1h'])} · ${burn(b.burnRates['6h'])}`;
}

/** The table of SLOs of one service: compact on the overview (1,000 rows stay light), with sparklines on its page. */
function sloTable(slos: readonly Slo[], model: StatusModel, compact: boolean): string {
  const rows = slos.map((s) => {
    const entry = model.budgets.bySlo.get(s.id);
    const state = stateOf(entry);
    const spark = compact ? '' : `<td>${entry?.budget ? sparkline(entry.budget) : ''}`;
    return `<tr><td><a href="${href('slos', s.service, s.name)}">${esc(s.name)}</a><td>${esc(objectiveText(s) ?? '–')}${s.kind === 'threshold' ? ' <span class="muted">99% of time</span>' : ''}${budgetCells(entry, compact)}${spark}<td>${badge(state)}\n`;
  });
  return `<table class="slos"><thead><tr><th scope="col">SLO</th><th scope="col">Objective</th><th scope="col">SLI</th><th scope="col">Budget left</th><th scope="col">Burn 1h · 6h</th>${compact ? '' : '<th scope="col">Burn-down</th>'}<th scope="col">State</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function dashboardsOf(slos: readonly Slo[]): string {
  const seen = new Map(slos.map((s) => [s.dashboard.id, s.dashboard]));
  return `<ul class="owners">${[...seen.values()].map((d) => `<li>${externalLink(d.url, d.title)} · owner <strong>${esc(d.owner)}</strong></li>`).join('')}</ul>`;
}

function services(config: Config): Array<{ name: string; owner: string; slos: Slo[] }> {
  const by = new Map<string, { name: string; owner: string; slos: Slo[] }>();
  for (const s of config.slos) {
    const entry = by.get(s.service) ?? { name: s.service, owner: s.owner, slos: [] };
    entry.slos.push(s);
    by.set(s.service, entry);
  }
  return [...by.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** `/`: how every SLO's budget stands, open incidents first. */
export function renderIndex(model: StatusModel): string {
  const counts: Record<State, number> = { healthy: 0, burning: 0, exhausted: 0, nodata: 0, pending: 0, error: 0 };
  for (const s of model.config.slos) counts[stateOf(model.budgets.bySlo.get(s.id))]++;
  const open = openList(model);
  const summary = (['healthy', 'burning', 'exhausted', 'nodata', 'error'] as const)
    .filter((s) => (s !== 'nodata' && s !== 'error' ? true : counts[s] > 0))
    .map((s) => `<li><strong>${counts[s]}</strong>${badge(s)}</li>`);
  const body = [
    '<h1>Error budgets and incidents</h1>',
    budgetsBanner(model, model.config.slos),
    incidentsBanner(model),
    `<ul class="summary" aria-label="SLOs by state">${summary.join('')}<li><strong>${open.length}</strong>open incident${open.length === 1 ? '' : 's'}</li></ul>`,
    '<h2 id="incidents">Open incidents</h2>',
    incidentRows(open, model.now, true),
    ...services(model.config).map(
      (svc) =>
        `<section class="service" aria-labelledby="svc-${esc(svc.name)}"><h2 id="svc-${esc(svc.name)}"><a href="${href('services', svc.name)}">${esc(svc.name)}</a> <span class="muted">· team ${esc(svc.owner)}</span></h2>${dashboardsOf(svc.slos)}${sloTable(svc.slos, model, true)}</section>`,
    ),
  ];
  return page({ title: 'Status', now: model.now, signedIn: model.signedIn ?? false }, body.join('\n'));
}

/** `/services/:service`: its dashboards and owners, its SLOs with burn-down sparklines, its open incidents. */
export function renderService(model: StatusModel, service: string): string | undefined {
  const svc = services(model.config).find((s) => s.name === service);
  if (!svc) return undefined;
  const open = openList(model).filter((i) => i.service === service);
  const body = [
    `<h1>${esc(svc.name)} <span class="muted">· team ${esc(svc.owner)}</span></h1>`,
    budgetsBanner(model, svc.slos),
    incidentsBanner(model),
    '<h2>Dashboards</h2>',
    dashboardsOf(svc.slos),
    '<h2>SLOs</h2>',
    sloTable(svc.slos, model, false),
    '<h2>Open incidents</h2>',
    incidentRows(open, model.now, true),
  ];
  return page(
    { title: svc.name, crumbs: [[svc.name]], now: model.now, signedIn: model.signedIn ?? false },
    body.join('\n'),
  );
}

/** `/slos/:service/:slo`: the budget in figures and as a burn-down chart, links, and the SLO's incidents. */
export function renderSlo(
  model: StatusModel,
  service: string,
  name: string,
  recent: readonly Incident[],
): string | undefined {
  const slo = model.config.slos.find((s) => s.service === service && s.name === name);
  if (!slo) return undefined;
  const entry = model.budgets.bySlo.get(slo.id);
  const b = entry?.budget;
  const state = stateOf(entry);
  const facts: Array<[string, string]> = [
    ['State', badge(state)],
    ['Signal', esc(slo.signal)],
    [
      'Objective',
      `${esc(objectiveText(slo) ?? '–')}${slo.kind === 'threshold' ? ' <span class="muted">(time-based budget: 99% of the time within it)</span>' : ' of events good'}`,
    ],
    ['Window', b ? esc(formatDuration(b.windowMs)) : '–'],
    ['SLI over the window', b ? pct(b.sli, 3) : '–'],
    [
      'Budget',
      b
        ? `${pct(b.budget.remaining, 1)} left · ${pct(b.budget.spent, 1)} spent of ${pct(b.budget.total, 3)} allowed ${b.basis === 'time' ? 'time in breach' : 'bad events'}`
        : '–',
    ],
    [
      'Burn rate',
      b ? `1h ${burn(b.burnRates['1h'])} · 6h ${burn(b.burnRates['6h'])} · 3d ${burn(b.burnRates['3d'])}` : '–',
    ],
    ['Lasts at the 1h burn', b ? lastsText(b) : '–'],
    ['Exhausted at the 6h burn', b ? esc(exhaustionText(b)) : '–'],
    [
      'Dashboard',
      `${externalLink(slo.dashboard.url, slo.dashboard.title)} · owner <strong>${esc(slo.dashboard.owner)}</strong>`,
    ],
    ['Service owner', esc(slo.owner)],
    ['Runbook', slo.runbook ? externalLink(slo.runbook, slo.runbook) : '<span class="muted">none</span>'],
    [
      'Query',
      slo.kind === 'ratio'
        ? `<code>${esc(slo.ratio.bad ?? slo.ratio.good)}</code> / <code>${esc(slo.ratio.total)}</code>`
        : `<code>${esc(slo.query)}</code>`,
    ],
  ];
  const mine = recent.filter((i) => i.sloId === slo.id);
  const body = [
    `<h1>${esc(slo.service)}/${esc(slo.name)}</h1>`,
    entry?.error !== undefined
      ? `<p class="banner" role="alert">The error budget could not be computed: ${esc(redactUrls(entry.error))}</p>`
      : '',
    incidentsBanner(model),
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`,
    '<h2>Burn-down</h2>',
    b
      ? burnDownChart(b, slo.id)
      : `<p class="muted">${model.budgets.off ? 'Error budgets are not computed here.' : 'No budget yet.'}</p>`,
    '<h2>Incidents</h2>',
    incidentRows(mine, model.now, false, 'No incidents recorded.'),
  ];
  return page(
    {
      title: slo.id,
      crumbs: [[slo.service, `/services/${encodeURIComponent(slo.service)}`], [slo.name]],
      now: model.now,
      signedIn: model.signedIn ?? false,
    },
    body.join('\n'),
  );
}

function lastsText(b: Budget): string {
  if (b.timeLeftMs !== null) return humanDuration(b.timeLeftMs);
  if (!(b.budget.remaining > 0)) return Number.isNaN(b.budget.remaining) ? '–' : 'nothing left';
  return Number.isNaN(b.burnRates['1h']) ? 'no data in the last hour' : 'not burning';
}

const AUDIT_LABEL: Record<AuditEntry['type'], string> = {
  fired: 'fired',
  escalated: 'raised',
  step: 'notified',
  skipped: 'step skipped',
  failed: 'step failed',
  acknowledged: 'acknowledged',
  resolved: 'resolved',
  snoozed: 'snoozed',
  note: 'note',
  refused: 'refused',
};

/** `/incidents/:id`: its state, where to look, and the escalation timeline from the audit trail. */
export function renderIncident(
  now: number,
  incident: Incident,
  audit: readonly AuditEntry[],
  signedIn = false,
): string {
  const i = incident;
  const facts: Array<[string, string]> = [
    ['State', incidentState(i, now)],
    ['Severity', `<span class="sev">${esc(i.severity)}</span>${i.reason === 'breach' ? '' : ` (${esc(i.reason)})`}`],
    ['SLO', `<a href="${href('slos', i.service, i.slo)}">${esc(i.service)}/${esc(i.slo)}</a>`],
    ['Fired', `${time(i.firedAt)} <span class="muted">(${humanDuration(now - i.firedAt)} ago)</span>`],
    ...(i.resolvedAt !== undefined ? ([['Resolved', time(i.resolvedAt)]] as Array<[string, string]>) : []),
    ['Objective', esc(i.objective ?? '–')],
    ['Condition', esc(i.condition)],
    [
      'Dashboard',
      `${externalLink(i.dashboard.url, i.dashboard.title)} · owner <strong>${esc(i.dashboard.owner)}</strong>`,
    ],
    ['Service owner', esc(i.owner)],
    ['Runbook', i.runbook ? externalLink(i.runbook, i.runbook) : '<span class="muted">none</span>'],
    ['Escalation policy', esc(i.policy.name)],
    ...(Object.keys(i.labels).length
      ? ([
          [
            'Labels',
            Object.entries(i.labels)
              .map(([k, v]) => `<code>${esc(k)}=${esc(v)}</code>`)
              .join(' '),
          ],
        ] as Array<[string, string]>)
      : []),
  ];
  const timeline = audit.map(
    (a) =>
      `<li class="${esc(a.type)}">${time(a.at)} <strong>${esc(AUDIT_LABEL[a.type] ?? a.type)}</strong>${a.step ? ` <code>${esc(a.step)}</code>` : ''}${a.round ? ` (repeat ${a.round})` : ''}${a.by ? ` by ${esc(a.by)}` : ''}: ${esc(redactUrls(a.detail))}</li>`,
  );
  const body = [
    `<h1>${esc(i.message || `${i.service}/${i.slo}`)}</h1>`,
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`,
    '<h2 id="timeline">Escalation timeline</h2>',
    timeline.length
      ? `<ol class="timeline" aria-labelledby="timeline">${timeline.join('')}</ol>`
      : '<p class="muted">Nothing recorded yet.</p>',
  ];
  return page(
    {
      title: `Incident ${i.id}`,
      crumbs: [
        [i.service, `/services/${encodeURIComponent(i.service)}`],
        [i.slo, `/slos/${encodeURIComponent(i.service)}/${encodeURIComponent(i.slo)}`],
        [`incident ${i.id}`],
      ],
      now,
      signedIn,
    },
    body.join('\n'),
  );
}

/** The sign-in form: the API token, posted to /login; `next` is where to go after. */
export function renderLogin(now: number, next: string, problem?: string): string {
  return page(
    { title: 'Sign in', crumbs: [['sign in']], now },
    `<h1>Sign in</h1>${problem ? `<p class="banner" role="alert">${esc(problem)}</p>` : ''}
<form class="login" method="post" action="/login"><label for="token">API token (SLOE_API_TOKEN)</label><input id="token" name="token" type="password" autocomplete="current-password" required><input type="hidden" name="next" value="${esc(next)}"><button type="submit">Sign in</button></form>
<p class="muted">Reads can be opened to everyone with <code>SLOE_API_PUBLIC_READ=1</code>.</p>`,
  );
}

/** Why the page is closed: no token is configured. */
export function renderClosed(now: number): string {
  return page(
    { title: 'Closed', now },
    '<h1>The status page is closed</h1><p>Set <code>SLOE_API_TOKEN</code> to sign in with it, or <code>SLOE_API_PUBLIC_READ=1</code> to let everyone read.</p>',
  );
}

export function renderNotFound(now: number, what: string): string {
  return page(
    { title: 'Not found', now },
    `<h1>Not found</h1><p>${esc(what)}</p><p><a href="/">Back to the overview</a></p>`,
  );
}
