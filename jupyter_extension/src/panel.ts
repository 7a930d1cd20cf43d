/**
 * The Runs sidebar: projects with their run counts, one project's runs with live state badges,
 * search, sort and multi-select. It polls the REST endpoints with `@lumino/polling` (`since=`, so a
 * quiet project costs a few bytes), faster while anything happens and slower when idle, and not at
 * all while it or the page is hidden. What it shows comes from a `RunsModel` (model.ts).
 */
import { Poll } from '@lumino/polling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { api, TrackerAPIError } from './api';
import {
  Backoff,
  formatDuration,
  IProject,
  IRun,
  lookup,
  relativeTime,
  RunsModel,
  SortKey,
  stateColour,
  tagColour
} from './model';

/** At most this many rows are drawn; the search narrows the rest down. */
export const MAX_ROWS = 500;

const STORAGE_KEY = 'tracker-jupyter:sidebar';

export interface IRunsPanelOptions {
  /** Open a run's view (a click on a run, Enter). */
  open: (run: IRun) => void;
  /** Compare these runs (the Compare button). */
  compare: (runs: IRun[]) => void;
  /** Whether a notebook's kernel is busy now (polls stay fast while it is). */
  busy?: () => boolean;
  /** Poll timing; the tests and the docs use the defaults. */
  backoff?: Backoff;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

/** A state badge, coloured as in the Python panels. */
export function stateBadge(state: string): HTMLElement {
  const badge = el('span', `tracker-StateBadge tracker-state-${state.replace(/[^a-z]/g, '')}`, state);
  badge.style.backgroundColor = stateColour(state);
  return badge;
}

/** A tag chip, one colour per tag. */
export function tagChip(tag: string): HTMLElement {
  const chip = el('span', 'tracker-Tag', tag);
  chip.style.backgroundColor = tagColour(tag);
  chip.title = `tag: ${tag}`;
  return chip;
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+(e|$)/, '$1');
  }
  return value === null || value === undefined ? '' : String(value);
}

function sortLabel(key: SortKey): string {
  switch (key) {
    case 'created':
      return 'Created';
    case 'name':
      return 'Name';
    case 'state':
      return 'State';
    case 'duration':
      return 'Duration';
    default:
      return key.slice('summary:'.length);
  }
}

export class RunsPanel extends Widget {
  readonly model = new RunsModel();
  readonly backoff: Backoff;
  private _poll: Poll;
  private _projects: IProject[] = [];
  private _projectsNode = el('ul', 'tracker-RunsPanel-projects');
  private _search = el('input', 'tracker-RunsPanel-search');
  private _sortSelect = el('select', 'tracker-RunsPanel-sort');
  private _direction = el('button', 'tracker-RunsPanel-direction jp-Button jp-mod-minimal');
  private _selectionBar = el('div', 'tracker-RunsPanel-selectionbar');
  private _selectAll = el('input', 'tracker-RunsPanel-selectAll');
  private _selectionText = el('span', 'tracker-RunsPanel-selectionText');
  private _compare = el('button', 'tracker-RunsPanel-compare jp-Button jp-mod-styled jp-mod-accept', 'Compare');
  private _clear = el('button', 'tracker-RunsPanel-clear jp-Button jp-mod-styled jp-mod-reject', 'Clear');
  private _error = el('div', 'tracker-RunsPanel-error');
  private _list = el('ul', 'tracker-RunsPanel-list');
  private _empty = el('div', 'tracker-RunsPanel-empty');
  private _status = el('div', 'tracker-RunsPanel-status');
  private _rows = new Map<string, { node: HTMLLIElement; signature: string }>();
  private _lastPoll = 0;
  private _projectsSignature = '';
  private _options: IRunsPanelOptions;
  private _searchTimer = 0;

  constructor(options: IRunsPanelOptions) {
    super();
    this._options = options;
    this.backoff = options.backoff ?? new Backoff();
    this.addClass('tracker-RunsPanel');
    this.id = 'tracker-runs-sidebar';
    this._build();
    this._restore();
    this.model.onChange(() => this._render());
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: { interval: this.backoff.options.interval, backoff: true, max: 30_000 },
      name: 'tracker-jupyter:runs',
      // not while the sidebar is collapsed or another panel is shown there, nor while the page is
      // hidden (a background tab)
      standby: () => !this.isVisible || 'when-hidden'
    });
    void this._poll.start();
    this._render();
  }

  /** The poll (tests and the plugin read its state). */
  get poll(): Poll {
    return this._poll;
  }

  /** Poll now and go back to the fast interval (a cell was run, the panel shown, Refresh). */
  wake(): void {
    this.backoff.wake(Date.now());
    this._setFrequency();
    void this._poll.refresh();
  }

  /** The run a context-menu or keyboard action means: the row under `node`, else the anchor. */
  runAt(node: HTMLElement | null): IRun | null {
    const id = node?.closest<HTMLElement>('.tracker-RunsPanel-run')?.dataset.id;
    if (id) {
      return this.model.get(id) ?? null;
    }
    const anchor = this.model.anchor;
    return anchor ? this.model.get(anchor) ?? null : null;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    window.clearTimeout(this._searchTimer);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.wake();
  }

  // ---- polling -------------------------------------------------------------------------------

  private _setFrequency(): void {
    const interval = this.backoff.interval;
    this._poll.frequency = { interval, backoff: true, max: Math.max(30_000, interval) };
  }

  private async _tick(): Promise<void> {
    let changed = false;
    try {
      changed = await this._refreshProjects();
      const project = this.model.project;
      if (project !== null) {
        const filter = this.model.filter;
        if (this.model.since === null) {
          const reply = await api.runs(project, { filter });
          if (this.model.project === project && this.model.filter === filter) {
            changed = this.model.setAll(reply).changed > 0 || changed;
          }
        } else {
          const reply = await api.runs(project, { filter, since: this.model.since });
          if (this.model.project === project && this.model.filter === filter) {
            const merged = this.model.merge(reply);
            changed = merged.changed > 0 || changed;
            if (merged.refetch) {
              // runs went (deleted, or no longer matching the filter): the whole list again
              const full = await api.runs(project, { filter });
              if (this.model.project === project && this.model.filter === filter) {
                this.model.setAll(full);
                changed = true;
              }
            }
          }
        }
      }
      this._lastPoll = Date.now();
      this._showError(null);
    } catch (error) {
      this._showError(error);
      this._renderStatus();
      throw error; // the poll backs off (its frequency's backoff) until the server answers again
    }
    this.backoff.next(
      { changed, running: this.model.running > 0, busy: this._options.busy?.() ?? false },
      Date.now()
    );
    this._setFrequency();
    this._renderStatus();
  }

  /** Fetch the projects; pick one when none is chosen (or it went). Returns whether they changed. */
  private async _refreshProjects(): Promise<boolean> {
    const reply = await api.projects();
    const projects = [...reply.projects].sort((a, b) => a.name.localeCompare(b.name));
    const signature = JSON.stringify(projects.map(p => [p.name, p.runs, p.running]));
    const changed = signature !== this._projectsSignature;
    this._projects = projects;
    this._projectsSignature = signature;
    const names = projects.map(p => p.name);
    if (this.model.project === null || !names.includes(this.model.project)) {
      const newest = [...projects].sort((a, b) => (b.last_activity ?? 0) - (a.last_activity ?? 0))[0];
      this.model.project = newest ? newest.name : null;
    }
    if (changed) {
      this._renderProjects();
    }
    return changed;
  }

  private _showError(error: unknown): void {
    if (error === null) {
      this._error.hidden = true;
      this._error.textContent = '';
      return;
    }
    const message =
      error instanceof TrackerAPIError ? error.message : error instanceof Error ? error.message : String(error);
    this._error.hidden = false;
    this._error.textContent = `Could not read runs: ${message}`;
  }

  // ---- DOM -----------------------------------------------------------------------------------

  private _build(): void {
    const header = el('div', 'tracker-RunsPanel-header');
    header.appendChild(el('h2', 'tracker-RunsPanel-title', 'Runs'));
    const refresh = el('button', 'tracker-RunsPanel-refresh jp-Button jp-mod-minimal', '⟳');
    refresh.title = 'Refresh now';
    refresh.addEventListener('click', () => {
      this.model.invalidate();
      this.wake();
    });
    header.appendChild(refresh);

    this._projectsNode.setAttribute('role', 'listbox');
    this._projectsNode.setAttribute('aria-label', 'Projects');
    this._projectsNode.addEventListener('click', event => {
      const item = (event.target as HTMLElement).closest<HTMLElement>('.tracker-RunsPanel-project');
      if (item?.dataset.name) {
        this._chooseProject(item.dataset.name);
      }
    });

    const controls = el('div', 'tracker-RunsPanel-controls');
    this._search.type = 'search';
    this._search.placeholder = 'Search, or filter: config.lr < 0.01';
    this._search.title =
      'Text: runs whose name, id or a tag contains it. An expression with an operator ' +
      '(== != < <= > >= ~ in) is a filter: state == "finished" and summary.val/acc > 0.9';
    this._search.setAttribute('aria-label', 'Search runs');
    this._search.addEventListener('input', () => {
      window.clearTimeout(this._searchTimer);
      // an expression goes to the endpoint: wait for a pause in typing
      const delay = this._search.value.trim() && /[=<>~[]/.test(this._search.value) ? 400 : 0;
      this._searchTimer = window.setTimeout(() => this._applySearch(), delay);
    });
    this._search.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        window.clearTimeout(this._searchTimer);
        this._applySearch();
      }
    });
    controls.appendChild(this._search);
    const sortRow = el('div', 'tracker-RunsPanel-sortRow');
    sortRow.appendChild(el('label', 'tracker-RunsPanel-sortLabel', 'Sort'));
    this._sortSelect.setAttribute('aria-label', 'Sort runs by');
    this._sortSelect.addEventListener('change', () => {
      this.model.sort = { key: this._sortSelect.value as SortKey, descending: this.model.sort.descending };
      this._save();
    });
    this._direction.addEventListener('click', () => {
      const sort = this.model.sort;
      this.model.sort = { key: sort.key, descending: !sort.descending };
      this._save();
    });
    sortRow.appendChild(this._sortSelect);
    sortRow.appendChild(this._direction);
    controls.appendChild(sortRow);

    this._selectAll.type = 'checkbox';
    this._selectAll.title = 'Select all shown runs';
    this._selectAll.addEventListener('change', () => this.model.toggleAll());
    this._compare.title = 'Compare the selected runs: charts overlaid, one line per run';
    this._compare.addEventListener('click', () => {
      const runs = this.model.selectedRuns;
      if (runs.length) {
        this._options.compare(runs);
      }
    });
    this._clear.addEventListener('click', () => this.model.clearSelection());
    this._selectionBar.append(this._selectAll, this._selectionText, this._compare, this._clear);

    this._error.hidden = true;
    this._error.setAttribute('role', 'alert');

    this._list.setAttribute('role', 'listbox');
    this._list.setAttribute('aria-multiselectable', 'true');
    this._list.setAttribute('aria-label', 'Runs');
    this._list.tabIndex = 0;
    this._list.addEventListener('mousedown', event => {
      if (event.shiftKey) {
        event.preventDefault(); // no text selection on shift-click
      }
    });
    this._list.addEventListener('click', event => this._onListClick(event));
    this._list.addEventListener('contextmenu', event => {
      const row = (event.target as HTMLElement).closest<HTMLElement>('.tracker-RunsPanel-run');
      if (row?.dataset.id) {
        this.model.focus(row.dataset.id);
      }
    });
    this._list.addEventListener('keydown', event => this._onKey(event));

    const body = el('div', 'tracker-RunsPanel-body');
    body.append(this._list, this._empty);
    this.node.append(header, this._projectsNode, controls, this._selectionBar, this._error, body, this._status);
  }

  private _applySearch(): void {
    this.model.search = this._search.value;
    if (this.model.since === null) {
      this.wake(); // a new filter: fetch now
    }
  }

  private _chooseProject(name: string): void {
    if (name === this.model.project) {
      return;
    }
    this.model.project = name;
    this._save();
    this._renderProjects();
    this.wake();
  }

  private _onListClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest<HTMLElement>('.tracker-RunsPanel-run');
    const id = row?.dataset.id;
    if (!id) {
      return;
    }
    if (target.classList.contains('tracker-RunsPanel-check')) {
      this.model.toggle(id, (target as HTMLInputElement).checked);
      return;
    }
    const toggle = event.ctrlKey || event.metaKey;
    const range = event.shiftKey;
    this.model.click(id, { toggle, range });
    if (!toggle && !range) {
      const run = this.model.get(id);
      if (run) {
        this._options.open(run);
      }
    }
  }

  private _onKey(event: KeyboardEvent): void {
    const shown = this.model.shown;
    if (!shown.length) {
      return;
    }
    const anchor = this.model.anchor;
    let index = shown.findIndex(r => r.id === anchor);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      index = Math.max(0, Math.min(shown.length - 1, index + (event.key === 'ArrowDown' ? 1 : -1)));
      this.model.click(shown[index].id, { range: event.shiftKey });
      this._rows.get(shown[index].id)?.node.scrollIntoView({ block: 'nearest' });
      event.preventDefault();
    } else if (event.key === 'Enter' && index >= 0) {
      this._options.open(shown[index]);
      event.preventDefault();
    } else if (event.key === ' ' && index >= 0) {
      this.model.toggle(shown[index].id);
      event.preventDefault();
    } else if (event.key === 'Escape') {
      this.model.clearSelection();
    }
  }

  private _renderProjects(): void {
    const nodes: HTMLElement[] = [];
    for (const project of this._projects) {
      const item = el('li', 'tracker-RunsPanel-project');
      item.dataset.name = project.name;
      item.setAttribute('role', 'option');
      const current = project.name === this.model.project;
      item.setAttribute('aria-selected', String(current));
      item.classList.toggle('jp-mod-selected', current);
      item.title = `${project.name}: ${project.runs} runs` + (project.running ? `, ${project.running} running` : '');
      item.appendChild(el('span', 'tracker-RunsPanel-projectName', project.name));
      if (project.running) {
        const running = el('span', 'tracker-RunsPanel-projectRunning', `${project.running} running`);
        running.style.backgroundColor = stateColour('running');
        item.appendChild(running);
      }
      item.appendChild(el('span', 'tracker-RunsPanel-projectCount', String(project.runs)));
      nodes.push(item);
    }
    if (!nodes.length && this._lastPoll) {
      nodes.push(el('li', 'tracker-RunsPanel-noProjects', 'No projects in the store yet: runs appear here as soon as one starts.'));
    }
    this._projectsNode.replaceChildren(...nodes);
  }

  private _renderControls(): void {
    const keys = this.model.sortKeys;
    const current = this.model.sort;
    const wanted = keys.join('\n');
    if (this._sortSelect.dataset.keys !== wanted) {
      this._sortSelect.dataset.keys = wanted;
      const options = keys.map(key => {
        const option = el('option', '', sortLabel(key));
        option.value = key;
        return option;
      });
      if (!keys.includes(current.key)) {
        const option = el('option', '', sortLabel(current.key));
        option.value = current.key;
        options.push(option);
      }
      this._sortSelect.replaceChildren(...options);
    }
    this._sortSelect.value = current.key;
    this._direction.textContent = current.descending ? '↓' : '↑';
    this._direction.title = current.descending ? 'Descending (click: ascending)' : 'Ascending (click: descending)';
    const selected = this.model.selection.length;
    const shown = this.model.shown.length;
    this._selectAll.checked = shown > 0 && selected === shown;
    this._selectAll.indeterminate = selected > 0 && selected < shown;
    this._selectionText.textContent = selected ? `${selected} selected` : '0 selected';
    this._compare.disabled = selected < 1;
    this._clear.disabled = selected < 1;
  }

  private _render(): void {
    this._renderControls();
    const shown = this.model.shown;
    const drawn = shown.slice(0, MAX_ROWS);
    const sortKey = this.model.sort.key;
    const metric = sortKey.startsWith('summary:') ? sortKey.slice('summary:'.length) : null;
    const now = this.model.now || Date.now() / 1000;
    const keep = new Set<string>();
    const nodes: HTMLLIElement[] = [];
    for (const run of drawn) {
      keep.add(run.id);
      const selected = this.model.isSelected(run.id);
      const started = relativeTime(run.created_at, now);
      const live = run.state === 'running' && run.created_at !== null ? Math.max(run.duration ?? 0, now - run.created_at) : run.duration;
      const duration = formatDuration(live);
      const metricValue = metric ? formatValue(lookup(run.summary, metric)) : '';
      const signature = JSON.stringify([run, selected, started, duration, metric, metricValue, this.model.anchor === run.id]);
      const row = this._rows.get(run.id);
      if (row && row.signature === signature) {
        nodes.push(row.node);
        continue;
      }
      const node = this._row(run, selected, started, duration, metric, metricValue);
      this._rows.set(run.id, { node, signature });
      nodes.push(node);
    }
    for (const id of [...this._rows.keys()]) {
      if (!keep.has(id)) {
        this._rows.delete(id);
      }
    }
    // only touch the DOM where the order or a row changed
    const children = this._list.children;
    let same = children.length === nodes.length;
    for (let i = 0; same && i < nodes.length; i++) {
      same = children[i] === nodes[i];
    }
    if (!same) {
      this._list.replaceChildren(...nodes);
    }
    if (!this.model.project) {
      this._empty.textContent = this._lastPoll ? 'No runs yet.' : 'Loading…';
    } else if (!this.model.loaded) {
      this._empty.textContent = 'Loading…';
    } else if (!this.model.size) {
      this._empty.textContent = this.model.filter ? 'No run matches this filter.' : 'No runs in this project.';
    } else if (!shown.length) {
      this._empty.textContent = 'No run matches the search.';
    } else if (shown.length > MAX_ROWS) {
      this._empty.textContent = `Showing ${MAX_ROWS} of ${shown.length} runs: search to narrow them down.`;
    } else {
      this._empty.textContent = '';
    }
    this._empty.hidden = !this._empty.textContent;
    this._renderStatus();
  }

  private _row(
    run: IRun,
    selected: boolean,
    started: string,
    duration: string,
    metric: string | null,
    metricValue: string
  ): HTMLLIElement {
    const node = el('li', 'tracker-RunsPanel-run');
    node.dataset.id = run.id;
    node.dataset.state = run.state;
    node.setAttribute('role', 'option');
    node.setAttribute('aria-selected', String(selected));
    node.classList.toggle('jp-mod-selected', selected);
    node.classList.toggle('jp-mod-current', this.model.anchor === run.id);
    node.title = `${run.project}/${run.id}\nclick: open · ctrl-click: add to selection · shift-click: select a range`;
    const check = el('input', 'tracker-RunsPanel-check');
    check.type = 'checkbox';
    check.checked = selected;
    check.setAttribute('aria-label', `select ${run.name || run.id}`);
    node.appendChild(check);
    const main = el('div', 'tracker-RunsPanel-runMain');
    const top = el('div', 'tracker-RunsPanel-runTop');
    top.appendChild(stateBadge(run.state));
    top.appendChild(el('span', 'tracker-RunsPanel-name', run.name || run.id));
    main.appendChild(top);
    const meta = el('div', 'tracker-RunsPanel-runMeta');
    const time = el('span', 'tracker-RunsPanel-started', started);
    if (run.created_at !== null) {
      time.title = `started ${new Date(run.created_at * 1000).toLocaleString()}`;
    }
    meta.appendChild(time);
    if (duration) {
      const d = el('span', 'tracker-RunsPanel-duration', duration);
      d.title = 'duration';
      meta.appendChild(d);
    }
    meta.appendChild(el('span', 'tracker-RunsPanel-id', run.id));
    if (metric && metricValue) {
      const m = el('span', 'tracker-RunsPanel-metric', `${metric} ${metricValue}`);
      meta.appendChild(m);
    }
    main.appendChild(meta);
    if (run.tags?.length) {
      const tags = el('div', 'tracker-RunsPanel-tags');
      run.tags.forEach(tag => tags.appendChild(tagChip(tag)));
      main.appendChild(tags);
    }
    node.appendChild(main);
    return node;
  }

  private _renderStatus(): void {
    const parts: string[] = [];
    if (this.model.project) {
      const shown = this.model.shown.length;
      parts.push(shown === this.model.size ? `${this.model.size} runs` : `${shown} of ${this.model.size} runs`);
      const running = this.model.running;
      if (running) {
        parts.push(`${running} running`);
      }
    }
    if (this._lastPoll) {
      const every = this.backoff.interval / 1000;
      parts.push(this.backoff.idle ? `idle: polling every ${every.toFixed(0)} s` : 'live');
    }
    this._status.textContent = parts.join(' · ');
  }

  // ---- what is kept between sessions ---------------------------------------------------------

  private _save(): void {
    try {
      const sort = this.model.sort;
      window.localStorage.setItem(
        STORAGE_KEY,
        JSON.stringify({ project: this.model.project, sort: sort.key, descending: sort.descending })
      );
    } catch {
      // storage disabled: nothing kept
    }
  }

  private _restore(): void {
    try {
      const saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || '{}');
      if (typeof saved.project === 'string') {
        this.model.project = saved.project;
      }
      if (typeof saved.sort === 'string') {
        this.model.sort = { key: saved.sort as SortKey, descending: saved.descending !== false };
      }
    } catch {
      // nothing kept, or unreadable: the defaults
    }
  }
}
