/** Burn-down charts as inline SVG drawn on the server: the remaining budget over the window, no script. */
import type { Budget } from '../budget/budget.js';
import { budgetHealth } from '../budget/budget.js';
import { esc } from './html.js';

const r = (n: number) => Math.round(n * 10) / 10;

function points(budget: Budget, width: number, height: number, top: number, keep: number): string {
  const from = budget.at - budget.windowMs;
  const span = budget.windowMs;
  // Clamp overspent budgets at −100% so the line stays in the chart; the figure next to it says how far below.
  const y = (v: number) => top + (1 - Math.max(-1, Math.min(1, v))) * (height / 2);
  const { times, remaining } = budget.burnDown();
  const n = times.length;
  const step = Math.max(1, Math.ceil(n / keep));
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = remaining[i]!;
    if ((i % step === 0 || i === n - 1) && Number.isFinite(v))
      out.push(`${r(((times[i]! - from) / span) * width)},${r(y(v))}`);
  }
  return out.join(' ');
}

/** A full chart with axes: 100% at the top, 0 in the middle (the zero line), −100% at the bottom. */
export function burnDownChart(budget: Budget, label: string): string {
  const w = 600;
  const h = 160;
  const top = 10;
  const left = 44;
  const state = budgetHealth(budget);
  const days = Math.round(budget.windowMs / 86_400_000);
  const remaining = Number.isFinite(budget.budget.remaining)
    ? `${(budget.budget.remaining * 100).toFixed(1)}%`
    : 'unknown';
  const desc = `Burn-down of ${label}: error budget remaining over the last ${days >= 1 ? `${days} days` : 'window'}, now ${remaining}`;
  const ideal = `${left},${top} ${left + w},${top + h / 2}`;
  const line = points(budget, w, h, top, 240)
    .split(' ')
    .filter(Boolean)
    .map((p) => {
      const [x, y] = p.split(',');
      return `${r(Number(x) + left)},${y}`;
    })
    .join(' ');
  return `<svg class="chart" viewBox="0 0 ${w + left + 10} ${h + top + 24}" role="img" aria-label="${esc(desc)}">
<line class="grid" x1="${left}" y1="${top}" x2="${left + w}" y2="${top}"/><line class="zero" x1="${left}" y1="${top + h / 2}" x2="${left + w}" y2="${top + h / 2}"/><line class="grid" x1="${left}" y1="${top + h}" x2="${left + w}" y2="${top + h}"/>
<text x="${left - 6}" y="${top + 4}" text-anchor="end">100%</text><text x="${left - 6}" y="${top + h / 2 + 4}" text-anchor="end">0</text><text x="${left - 6}" y="${top + h + 4}" text-anchor="end">−100%</text>
<text x="${left}" y="${top + h + 18}">${esc(new Date(budget.at - budget.windowMs).toISOString().slice(0, 10))}</text><text x="${left + w}" y="${top + h + 18}" text-anchor="end">now</text>
<polyline class="ideal" points="${ideal}"><title>spending the budget evenly over the window</title></polyline>
${line ? `<polyline class="line ${state}" points="${line}"/>` : `<text x="${left + w / 2}" y="${top + h / 2 - 8}" text-anchor="middle">${esc(budget.burnDown().error ?? 'no data in the window')}</text>`}
</svg>`;
}

/** A sparkline of the burn-down for tables (decorative: the figure is in the next cell). */
export function sparkline(budget: Budget): string {
  const line = points(budget, 120, 28, 0, 40);
  return `<svg class="spark" viewBox="0 0 120 28" aria-hidden="true" focusable="false"><line class="chart zero grid" x1="0" y1="14" x2="120" y2="14"/>${line ? `<polyline class="line ${budgetHealth(budget)}" points="${line}"/>` : ''}</svg>`;
}
