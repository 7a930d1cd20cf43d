/**
 * Runs compared in the main area: one chart per metric with one line per run (a legend names
 * them), and their config and summary side by side. Refreshed while any of them is running.
 */
import { Poll } from '@lumino/polling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { api, IHistoryReply, IRunDetail } from './api';
import { LINE_PALETTE, LineChart } from './charts';
import { IRun } from './model';
import { stateBadge } from './panel';
import { chartKeys, el, errorText, FIRST_CHARTS, flatten, LIVE_INTERVAL, SAMPLES } from './runview';

function cell(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A label per run for legends: its name, with the id where names repeat. */
export function legendLabels(runs: { id: string; name: string | null }[]): string[] {
  const counts = new Map<string, number>();
  runs.forEach(r => counts.set(r.name || r.id, (counts.get(r.name || r.id) ?? 0) + 1));
  return runs.map(r => {
    const name = r.name || r.id;
    return (counts.get(name) ?? 0) > 1 ? `${name} (${r.id})` : name;
  });
}

export class CompareView extends Widget {
  readonly runs: IRun[];
  private _details: IRunDetail[] = [];
  private _charts = new Map<string, LineChart>();
  private _limit = FIRST_CHARTS;
  private _legend = el('div', 'tracker-Compare-legend');
  private _error = el('div', 'tracker-RunView-error');
  private _grid = el('div', 'tracker-ChartGrid');
  private _more = el('div', 'tracker-Compare-more');
  private _tables = el('div', 'tracker-Compare-tables');
  private _poll: Poll;

  constructor(runs: IRun[]) {
    super();
    this.runs = runs.slice(0, LINE_PALETTE.length * 2);
    this.addClass('tracker-RunView');
    this.addClass('tracker-Compare');
    this.id = `tracker-compare-${Date.now().toString(36)}`;
    this.title.label = `Compare ${this.runs.length} runs`;
    this.title.caption = this.runs.map(r => `${r.project}/${r.id}`).join('\n');
    this.title.closable = true;
    this._error.hidden = true;
    this._error.setAttribute('role', 'alert');
    const header = el('div', 'tracker-RunView-header');
    const title = el('div', 'tracker-RunView-title');
    title.appendChild(el('h1', 'tracker-RunView-name', this.title.label));
    header.appendChild(title);
    this.node.append(header, this._legend, this._error, this._grid, this._more, this._tables);
    this._poll = new Poll({
      auto: false,
      factory: () => this._refresh(),
      frequency: { interval: LIVE_INTERVAL * 1.5, backoff: true, max: 30_000 },
      name: 'tracker-jupyter:compare',
      standby: () => !this.isVisible || 'when-hidden'
    });
  }

  colour(index: number): string {
    return LINE_PALETTE[index % LINE_PALETTE.length];
  }


  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this._charts.forEach(c => c.dispose());
    this._charts.clear();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this._poll.state.phase === 'constructed') {
      void this._poll.start();
    }
  }

  private async _refresh(): Promise<void> {
    try {
      this._details = await Promise.all(this.runs.map(r => api.run(r.project, r.id)));
      this._renderLegend();
      await this._renderCharts();
      this._renderTables();
      this._error.hidden = true;
      if (!this._details.some(d => d.state === 'running')) {
        void this._poll.stop();
      }
    } catch (error) {
      this._error.hidden = false;
      this._error.textContent = `Could not compare the runs: ${errorText(error)}`;
      throw error;
    }
  }

  private _renderLegend(): void {
    const labels = legendLabels(this._details);
    const items = this._details.map((d, i) => {
      const item = el('span', 'tracker-Compare-run');
      const swatch = el('span', 'tracker-Compare-swatch');
      swatch.style.backgroundColor = this.colour(i);
      item.append(swatch, stateBadge(d.state), el('span', '', labels[i]));
      item.title = `${d.project}/${d.id}`;
      return item;
    });
    this._legend.replaceChildren(...items);
  }

  private async _renderCharts(): Promise<void> {
    // metrics of any of the runs, those most runs have first
    const counts = new Map<string, number>();
    this._details.forEach(d => chartKeys(d).forEach(k => counts.set(k, (counts.get(k) ?? 0) + 1)));
    const keys = [...counts.keys()].sort((a, b) => (counts.get(b)! - counts.get(a)!) || a.localeCompare(b));
    const drawn = keys.slice(0, this._limit);
    if (!drawn.length) {
      this._grid.replaceChildren(el('p', 'tracker-Muted', 'None of these runs logged a metric yet.'));
      return;
    }
    const histories = await Promise.all(
      this._details.map(d => {
        const own = drawn.filter(k => chartKeys(d).includes(k));
        return own.length ? api.history(d.project, d.id, own, SAMPLES) : Promise.resolve<IHistoryReply>({ x_axis: '_step', series: {} });
      })
    );
    if (this._grid.querySelector('.tracker-Muted')) {
      this._grid.replaceChildren();
    }
    for (const [key, chart] of [...this._charts]) {
      if (!drawn.includes(key)) {
        chart.dispose();
        chart.host.remove();
        this._charts.delete(key);
      }
    }
    const labels = legendLabels(this._details);
    const draws: Promise<void>[] = [];
    for (const key of drawn) {
      let chart = this._charts.get(key);
      if (!chart) {
        const host = el('div', 'tracker-ChartCell');
        host.dataset.key = key;
        this._grid.appendChild(host);
        chart = new LineChart(host, key, { legend: true, xLabel: histories[0]?.x_axis || 'step', name: `tracker-compare:${key}` });
        this._charts.set(key, chart);
      }
      const lines = this._details
        .map((d, i) => ({ series: histories[i].series[key], label: labels[i], colour: this.colour(i) }))
        .filter(l => l.series)
        .map(l => ({ label: l.label, colour: l.colour, x: l.series.x, y: l.series.y }));
      draws.push(chart.draw(lines));
    }
    this._more.replaceChildren();
    if (keys.length > drawn.length) {
      const more = el('button', 'tracker-ChartMore jp-Button jp-mod-styled jp-mod-reject', `Show all ${keys.length} metrics`);
      more.addEventListener('click', () => {
        this._limit = keys.length;
        void this._renderCharts().catch(error => {
          this._error.hidden = false;
          this._error.textContent = errorText(error);
        });
      });
      this._more.appendChild(more);
    }
    const failed = (await Promise.allSettled(draws)).find(r => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      throw failed.reason;
    }
  }

  /** Config and summary side by side: one column per run, rows that differ marked. */
  private _renderTables(): void {
    const labels = legendLabels(this._details);
    const nodes: HTMLElement[] = [];
    for (const [title, pick, sep] of [
      ['Config', (d: IRunDetail) => d.config, '.'],
      ['Summary', (d: IRunDetail) => d.summary, '/']
    ] as [string, (d: IRunDetail) => Record<string, unknown>, string][]) {
      const columns = this._details.map(d => new Map(flatten(pick(d), sep)));
      const keys = [...new Set(columns.flatMap(c => [...c.keys()]))].sort();
      if (!keys.length) {
        continue;
      }
      nodes.push(el('h2', '', title));
      const t = el('table', 'tracker-Table tracker-Compare-table');
      const head = el('tr');
      head.appendChild(el('th', '', ''));
      labels.forEach((label, i) => {
        const th = el('th', '', label);
        th.style.borderBottom = `3px solid ${this.colour(i)}`;
        head.appendChild(th);
      });
      const thead = el('thead');
      thead.appendChild(head);
      t.appendChild(thead);
      const body = el('tbody');
      for (const key of keys) {
        const values = columns.map(c => cell(c.get(key)));
        const tr = el('tr');
        if (new Set(values).size > 1) {
          tr.classList.add('tracker-Compare-differs');
        }
        tr.appendChild(el('th', '', key));
        values.forEach(v => tr.appendChild(el('td', '', v)));
        body.appendChild(tr);
      }
      t.appendChild(body);
      nodes.push(t);
    }
    this._tables.replaceChildren(...nodes);
  }
}
