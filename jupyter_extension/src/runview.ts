/**
 * A run in the main area (opened from the Runs sidebar): overview, charts drawn with BokehJS, logs
 * and media, refreshed live while the run is running. Every read goes through `api` (api.ts);
 * failures are shown in the view.
 */
import { Poll } from '@lumino/polling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { api, IMediaItem, IRunDetail, resolveURL } from './api';
import { ILine, LineChart } from './charts';
import { formatDuration, relativeTime, stateColour } from './model';
import { stateBadge, tagChip } from './panel';

/** Charts drawn at first; "Show all" draws the rest. */
export const FIRST_CHARTS = 8;
/** Points per series asked of the endpoint's downsampler. */
export const SAMPLES = 500;
/** How often a running run's view refreshes (ms). */
export const LIVE_INTERVAL = 2000;

export type Tab = 'overview' | 'charts' | 'logs' | 'media';
const TABS: [Tab, string][] = [
  ['overview', 'Overview'],
  ['charts', 'Charts'],
  ['logs', 'Logs'],
  ['media', 'Media']
];

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function display(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

/** `{"model": {"depth": 4}}` -> `[["model.depth", 4]]` (config: dots; summary keys keep their `/`). */
export function flatten(obj: Record<string, unknown> | null | undefined, sep = '.', prefix = ''): [string, unknown][] {
  const rows: [string, unknown][] = [];
  for (const [key, value] of Object.entries(obj ?? {})) {
    if (!prefix && key.startsWith('_')) {
      continue; // the store's own entries (_wandb, _runtime, ...)
    }
    const name = prefix ? `${prefix}${sep}${key}` : key;
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
      rows.push(...flatten(value as Record<string, unknown>, sep, name));
    } else {
      rows.push([name, value]);
    }
  }
  return rows;
}

export function table(rows: [string, unknown][], className: string): HTMLTableElement {
  const t = el('table', `tracker-Table ${className}`);
  const body = el('tbody');
  for (const [key, value] of rows) {
    const tr = el('tr');
    tr.appendChild(el('th', '', key));
    const td = el('td');
    if (value instanceof Node) {
      td.appendChild(value);
    } else {
      td.textContent = display(value);
    }
    tr.appendChild(td);
    body.appendChild(tr);
  }
  t.appendChild(body);
  return t;
}

/** The metric keys worth a chart: the run's scalar keys (or its numeric summary keys), `_` ones left out. */
export function chartKeys(detail: IRunDetail): string[] {
  const scalars = detail.keys?.scalars;
  const keys = scalars ? Object.keys(scalars) : flatten(detail.summary, '/').filter(([, v]) => typeof v === 'number').map(([k]) => k);
  return keys.filter(k => !k.startsWith('_')).sort();
}

function ago(time: number | null | undefined): string {
  if (time === null || time === undefined) {
    return '';
  }
  const when = new Date(time * 1000).toLocaleString();
  return `${when} (${relativeTime(time, Date.now() / 1000)})`;
}

export interface IRunViewOptions {
  project: string;
  id: string;
  /** Run one of the plugin's commands with `{project, id}` (the header's buttons). */
  execute: (command: string, args: { project: string; id: string }) => void;
  /** The header's buttons: command id and label. */
  actions: { command: string; label: string; title: string }[];
}

export class RunView extends Widget {
  readonly project: string;
  readonly runId: string;
  private _detail: IRunDetail | null = null;
  private _tab: Tab = 'overview';
  private _header = el('div', 'tracker-RunView-header');
  private _tabBar = el('div', 'tracker-RunView-tabs');
  private _error = el('div', 'tracker-RunView-error');
  private _sections = new Map<Tab, HTMLElement>();
  private _charts = new Map<string, LineChart>();
  private _chartLimit = FIRST_CHARTS;
  private _loaded = new Set<Tab>();
  private _poll: Poll;
  private _options: IRunViewOptions;
  private _ended = false;

  constructor(options: IRunViewOptions) {
    super();
    this._options = options;
    this.project = options.project;
    this.runId = options.id;
    this.addClass('tracker-RunView');
    this.id = `tracker-run-${options.project}-${options.id}`.replace(/[^A-Za-z0-9_-]/g, '_');
    this.title.label = options.id;
    this.title.caption = `${options.project}/${options.id}`;
    this.title.closable = true;
    this._error.hidden = true;
    this._error.setAttribute('role', 'alert');
    for (const [tab, label] of TABS) {
      const button = el('button', 'tracker-RunView-tab', label);
      button.dataset.tab = tab;
      button.setAttribute('role', 'tab');
      button.addEventListener('click', () => this.showTab(tab));
      this._tabBar.appendChild(button);
      const section = el('div', `tracker-RunView-section tracker-RunView-${tab}`);
      section.setAttribute('role', 'tabpanel');
      this._sections.set(tab, section);
    }
    this._tabBar.setAttribute('role', 'tablist');
    this.node.append(this._header, this._tabBar, this._error, ...this._sections.values());
    this._renderHeader();
    this._poll = new Poll({
      auto: false,
      factory: () => this._refresh(),
      frequency: { interval: LIVE_INTERVAL, backoff: true, max: 30_000 },
      name: `tracker-jupyter:run:${this.title.caption}`,
      standby: () => !this.isVisible || 'when-hidden'
    });
    this.showTab('overview');
  }

  get detail(): IRunDetail | null {
    return this._detail;
  }

  get tab(): Tab {
    return this._tab;
  }

  showTab(tab: Tab): void {
    this._tab = tab;
    for (const button of Array.from(this._tabBar.querySelectorAll<HTMLElement>('.tracker-RunView-tab'))) {
      const on = button.dataset.tab === tab;
      button.classList.toggle('jp-mod-current', on);
      button.setAttribute('aria-selected', String(on));
    }
    for (const [name, section] of this._sections) {
      section.hidden = name !== tab;
    }
    if (this._detail && !this._loaded.has(tab)) {
      void this._loadTab(tab).catch(error => this._showError(error));
    }
  }


  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this._charts.forEach(chart => chart.dispose());
    this._charts.clear();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    // the first read, then live refreshes while the run is running
    if (this._poll.state.phase === 'constructed') {
      void this._poll.start();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._ended) {
      void this._poll.refresh();
    }
  }

  private _showError(error: unknown): void {
    this._error.hidden = error === null;
    this._error.textContent = error === null ? '' : `Could not read ${this.title.caption}: ${errorText(error)}`;
  }

  private async _refresh(): Promise<void> {
    try {
      const detail = await api.run(this.project, this.runId);
      this._detail = detail;
      this._renderHeader();
      this._renderOverview();
      this._loaded.add('overview');
      // the visible tab follows the run; the others are read again when shown
      for (const tab of ['charts', 'logs', 'media'] as Tab[]) {
        if (tab !== this._tab) {
          this._loaded.delete(tab);
        }
      }
      if (this._tab !== 'overview') {
        await this._loadTab(this._tab);
      }
      this._showError(null);
      if (detail.state !== 'running') {
        // ended: this read was the last one (the view is complete)
        this._ended = true;
        void this._poll.stop();
      }
    } catch (error) {
      this._showError(error);
      throw error; // the poll backs off
    }
  }

  private async _loadTab(tab: Tab): Promise<void> {
    if (!this._detail) {
      return;
    }
    this._loaded.add(tab);
    try {
      if (tab === 'charts') {
        await this._renderCharts();
      } else if (tab === 'logs') {
        await this._renderLogs();
      } else if (tab === 'media') {
        await this._renderMedia();
      }
    } catch (error) {
      this._loaded.delete(tab);
      throw error;
    }
  }

  private _renderHeader(): void {
    const d = this._detail;
    const nodes: HTMLElement[] = [];
    const title = el('div', 'tracker-RunView-title');
    if (d) {
      title.appendChild(stateBadge(d.state));
    }
    title.appendChild(el('h1', 'tracker-RunView-name', d?.name || this.runId));
    title.appendChild(el('code', 'tracker-RunView-path', `${this.project}/${this.runId}`));
    nodes.push(title);
    const actions = el('div', 'tracker-RunView-actions');
    for (const action of this._options.actions) {
      const button = el('button', 'jp-Button jp-mod-styled jp-mod-reject tracker-RunView-action', action.label);
      button.title = action.title;
      button.dataset.command = action.command;
      button.addEventListener('click', () =>
        this._options.execute(action.command, { project: this.project, id: this.runId })
      );
      actions.appendChild(button);
    }
    nodes.push(actions);
    this._header.replaceChildren(...nodes);
    if (d) {
      this.title.label = d.name || d.id;
      this._header.style.borderLeftColor = stateColour(d.state);
      this.node.dataset.state = d.state;
    }
  }

  private _renderOverview(): void {
    const d = this._detail!;
    const section = this._sections.get('overview')!;
    const tags = el('span', 'tracker-RunView-tags');
    (d.tags ?? []).forEach(tag => tags.appendChild(tagChip(tag)));
    const rows: [string, unknown][] = [
      ['state', stateBadge(d.state)],
      ['id', d.id],
      ['project', d.project],
      ['started', ago(d.created_at)],
      ['last heartbeat', ago(d.heartbeat_at)],
      ['duration', formatDuration(d.duration)],
      ['last step', d.last_step],
      ['host', d.host],
      ['user', d.user],
      ['group', d.group],
      ['job type', d.job_type],
      ['tags', tags]
    ];
    const meta = d.metadata ?? {};
    for (const key of ['program', 'python']) {
      if (meta[key] !== undefined && meta[key] !== null) {
        rows.push([key, meta[key]]);
      }
    }
    const git = meta.git as Record<string, unknown> | null | undefined;
    if (git && typeof git === 'object' && git.commit) {
      const commit = String(git.commit).slice(0, 10);
      rows.push(['git', `${git.branch ? `${git.branch} @ ` : ''}${commit}${git.dirty ? ' (uncommitted changes)' : ''}`]);
    }
    const nodes: HTMLElement[] = [];
    const grid = el('div', 'tracker-RunView-overviewGrid');
    const info = el('div', 'tracker-RunView-card');
    info.appendChild(el('h2', '', 'Run'));
    info.appendChild(table(rows.filter(([, v]) => v !== null && v !== undefined && v !== ''), 'tracker-RunView-info'));
    if (d.notes) {
      info.appendChild(el('h3', '', 'Notes'));
      info.appendChild(el('p', 'tracker-RunView-notes', d.notes));
    }
    grid.appendChild(info);
    const config = el('div', 'tracker-RunView-card');
    config.appendChild(el('h2', '', 'Config'));
    const configRows = flatten(d.config);
    config.appendChild(configRows.length ? table(configRows, 'tracker-RunView-config') : el('p', 'tracker-Muted', 'No config.'));
    grid.appendChild(config);
    const summary = el('div', 'tracker-RunView-card');
    summary.appendChild(el('h2', '', 'Summary'));
    const summaryRows = flatten(d.summary, '/');
    summary.appendChild(summaryRows.length ? table(summaryRows, 'tracker-RunView-summary') : el('p', 'tracker-Muted', 'No summary yet.'));
    grid.appendChild(summary);
    nodes.push(grid);
    section.replaceChildren(...nodes);
  }

  private async _renderCharts(): Promise<void> {
    const d = this._detail!;
    const section = this._sections.get('charts')!;
    const keys = chartKeys(d);
    if (!keys.length) {
      this._charts.forEach(c => c.dispose());
      this._charts.clear();
      section.replaceChildren(el('p', 'tracker-Muted', 'No metrics logged yet.'));
      return;
    }
    const drawn = keys.slice(0, this._chartLimit);
    const history = await api.history(this.project, this.runId, drawn, SAMPLES);
    // the layout: one chart per key, kept between refreshes (their data is replaced in place)
    let grid = section.querySelector<HTMLElement>('.tracker-ChartGrid');
    if (!grid) {
      section.replaceChildren();
      grid = el('div', 'tracker-ChartGrid');
      section.appendChild(grid);
    }
    for (const [key, chart] of [...this._charts]) {
      if (!drawn.includes(key)) {
        chart.dispose();
        chart.host.remove();
        this._charts.delete(key);
      }
    }
    const draws: Promise<void>[] = [];
    for (const key of drawn) {
      let chart = this._charts.get(key);
      if (!chart) {
        const host = el('div', 'tracker-ChartCell');
        host.dataset.key = key;
        grid.appendChild(host);
        chart = new LineChart(host, key, { xLabel: history.x_axis || 'step', name: `tracker-run:${this.project}/${this.runId}:${key}` });
        this._charts.set(key, chart);
      }
      const series = history.series[key] ?? { x: [], y: [] };
      const line: ILine = { label: this.runId, colour: stateColour('running'), x: series.x, y: series.y };
      draws.push(chart.draw([line]));
    }
    section.querySelector('.tracker-ChartMore')?.remove();
    if (keys.length > drawn.length) {
      const more = el('button', 'tracker-ChartMore jp-Button jp-mod-styled jp-mod-reject', `Show all ${keys.length} metrics`);
      more.addEventListener('click', () => {
        this._chartLimit = keys.length;
        void this._renderCharts().catch(error => this._showError(error));
      });
      section.appendChild(more);
    }
    const results = await Promise.allSettled(draws);
    const failed = results.find(r => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      throw failed.reason;
    }
  }

  private async _renderLogs(): Promise<void> {
    const section = this._sections.get('logs')!;
    const reply = await api.logs(this.project, this.runId, 1000);
    let pre = section.querySelector<HTMLPreElement>('pre');
    const atEnd = !pre || pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    if (!reply.lines.length) {
      section.replaceChildren(el('p', 'tracker-Muted', 'No console output recorded.'));
      return;
    }
    if (!pre) {
      section.replaceChildren();
      pre = el('pre', 'tracker-RunView-log');
      section.appendChild(pre);
    }
    const nodes = reply.lines.map(line => {
      const span = el('span', `tracker-LogLine tracker-LogLine-${line.stream === 'stderr' ? 'stderr' : 'stdout'}`, line.text + '\n');
      if (line.time) {
        span.title = new Date(line.time * 1000).toLocaleString();
      }
      return span;
    });
    pre.replaceChildren(...nodes);
    if (atEnd) {
      pre.scrollTop = pre.scrollHeight;
    }
  }

  private async _renderMedia(): Promise<void> {
    const section = this._sections.get('media')!;
    const reply = await api.media(this.project, this.runId);
    // the same items as drawn: leave them (no image or frame reloads on every live refresh)
    const signature = JSON.stringify(reply.items.map(i => [i.key, i.step, i.url, i.caption]));
    if (signature === section.dataset.signature) {
      return;
    }
    section.dataset.signature = signature;
    if (!reply.items.length) {
      section.replaceChildren(el('p', 'tracker-Muted', 'No media logged.'));
      return;
    }
    const byKey = new Map<string, IMediaItem[]>();
    for (const item of reply.items) {
      byKey.set(item.key, [...(byKey.get(item.key) ?? []), item]);
    }
    const nodes: HTMLElement[] = [];
    for (const [key, items] of byKey) {
      const group = el('div', 'tracker-MediaGroup');
      group.appendChild(el('h2', '', key));
      const strip = el('div', 'tracker-MediaStrip');
      // the newest 24 of a key
      for (const item of items.slice(-24)) {
        strip.appendChild(mediaItem(item));
      }
      group.appendChild(strip);
      nodes.push(group);
    }
    section.replaceChildren(...nodes);
  }
}

/** One media item: images as `<img>`, HTML only in a sandboxed iframe (no scripts, no same origin). */
export function mediaItem(item: IMediaItem): HTMLElement {
  const figure = el('figure', `tracker-MediaItem tracker-MediaItem-${item.kind}`);
  const url = resolveURL(item.url);
  let body: HTMLElement;
  switch (item.kind) {
    case 'image': {
      const img = el('img');
      img.src = url;
      img.alt = item.caption || `${item.key} at step ${item.step ?? ''}`;
      img.loading = 'lazy';
      body = img;
      break;
    }
    case 'html': {
      const frame = el('iframe');
      frame.setAttribute('sandbox', '');
      frame.setAttribute('referrerpolicy', 'no-referrer');
      frame.src = url;
      frame.title = item.caption || item.key;
      body = frame;
      break;
    }
    case 'audio': {
      const audio = el('audio');
      audio.controls = true;
      audio.preload = 'none';
      audio.src = url;
      body = audio;
      break;
    }
    case 'video': {
      const video = el('video');
      video.controls = true;
      video.preload = 'metadata';
      video.src = url;
      body = video;
      break;
    }
    default: {
      const link = el('a', '', `${item.kind}: open`);
      link.href = url;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      body = link;
    }
  }
  figure.appendChild(body);
  const caption = el('figcaption', '', [item.step !== null && item.step !== undefined ? `step ${item.step}` : '', item.caption ?? ''].filter(Boolean).join(' · '));
  figure.appendChild(caption);
  return figure;
}
