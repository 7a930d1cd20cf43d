/**
 * The Runs sidebar's model: what the panel shows, with no DOM and no JupyterLab import, so jest
 * tests it directly (test/model.spec.ts).
 *
 * It holds one project's runs as the REST endpoints answer them (docs/jupyter.md), merges the
 * changed runs a `since=` poll returns, notices deletions by the endpoint's `count`, and derives the
 * list the panel draws: searched (client side for plain text, by the endpoint's `filter=` for an
 * expression), sorted and with a selection. `Backoff` decides how often to poll.
 */

/** A run as `projects/<p>/runs` lists it (times in Unix seconds). */
export interface IRun {
  project: string;
  id: string;
  name: string | null;
  state: string;
  created_at: number | null;
  heartbeat_at: number | null;
  duration: number | null;
  last_step: number | null;
  tags: string[] | null;
  notes: string | null;
  group: string | null;
  job_type: string | null;
  host: string | null;
  user: string | null;
  config: Record<string, unknown> | null;
  summary: Record<string, unknown> | null;
}

export interface IRunsReply {
  runs: IRun[];
  /** The project's whole count of runs (with a filter too: a client sees deletions). */
  count: number;
  now: number;
  /** A whole listing with a filter: how many runs pass it. */
  matched?: number;
  /** A `since` poll with a filter: ids of changed runs that no longer pass it. */
  unmatched?: string[];
}

export interface IProject {
  name: string;
  runs: number;
  running: number;
  last_activity: number | null;
}

export interface IProjectsReply {
  projects: IProject[];
  now: number;
}

/** The run states, with the colours of the Python panels (tracker/ui/static.py STATE_COLOURS). */
export const STATE_COLOURS: Record<string, string> = {
  running: '#1f77b4',
  finished: '#2ca02c',
  failed: '#d62728',
  crashed: '#d62728',
  killed: '#ff7f0e',
  preempting: '#9467bd',
  preempted: '#9467bd'
};
export const UNKNOWN_STATE_COLOUR = '#7f7f7f';

export function stateColour(state: string): string {
  return STATE_COLOURS[state] ?? UNKNOWN_STATE_COLOUR;
}

/** Tag colours: one of these per tag, the same for a tag everywhere (a hash of its text). All of
 *  them carry white text in light and dark themes. */
export const TAG_PALETTE = [
  '#3366aa',
  '#aa3377',
  '#228833',
  '#b35900',
  '#6633aa',
  '#117777',
  '#aa3333',
  '#556b2f',
  '#8b4513',
  '#4b0082'
];

export function tagColour(tag: string): string {
  let h = 2166136261; // FNV-1a: stable across sessions and machines
  for (let i = 0; i < tag.length; i++) {
    h ^= tag.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return TAG_PALETTE[(h >>> 0) % TAG_PALETTE.length];
}

/** "42 s", "3 min", "2 h 5 min", "3 d 4 h" */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) {
    return '';
  }
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    const rest = s % 60;
    return rest && m < 10 ? `${m} min ${rest} s` : `${m} min`;
  }
  const h = Math.floor(m / 60);
  if (h < 24) {
    return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  }
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "just now", "5 min ago", "3 h ago", "2 d ago" against `now` (both Unix seconds). */
export function relativeTime(time: number | null | undefined, now: number): string {
  if (time === null || time === undefined || !isFinite(time)) {
    return '';
  }
  const ago = now - time;
  if (ago < 10) {
    return 'just now';
  }
  if (ago < 60) {
    return `${Math.round(ago)} s ago`;
  }
  if (ago < 3600) {
    return `${Math.floor(ago / 60)} min ago`;
  }
  if (ago < 86400) {
    return `${Math.floor(ago / 3600)} h ago`;
  }
  if (ago < 86400 * 60) {
    return `${Math.floor(ago / 86400)} d ago`;
  }
  return new Date(time * 1000).toISOString().slice(0, 10);
}

/** Whether the search text is a filter expression for the endpoint (it has an operator) rather
 *  than a substring of a name, tag or id. */
export function isExpression(text: string): boolean {
  const t = text.trim();
  if (!t) {
    return false;
  }
  return /==|!=|<=|>=|<|>|~/.test(t) || /\s(not\s+)?in\s*\[/.test(t);
}

/** A value of a run's summary, config or a top-level field by dotted key; summary keys may hold
 *  slashes (`val/acc` is one key) and nested dicts (`val: {acc}`) alike. */
export function lookup(source: Record<string, unknown> | null | undefined, key: string): unknown {
  if (!source) {
    return undefined;
  }
  if (key in source) {
    return source[key];
  }
  for (const sep of ['/', '.']) {
    const i = key.indexOf(sep);
    if (i > 0) {
      const head = source[key.slice(0, i)];
      if (head && typeof head === 'object' && !Array.isArray(head)) {
        const found = lookup(head as Record<string, unknown>, key.slice(i + 1));
        if (found !== undefined) {
          return found;
        }
      }
    }
  }
  return undefined;
}

/** The numeric summary keys of runs, flattened with `/` (`val/acc`), sorted; `_` keys left out. */
export function summaryKeys(runs: Iterable<IRun>): string[] {
  const keys = new Set<string>();
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      if (k.startsWith('_')) {
        continue;
      }
      const key = prefix ? `${prefix}/${k}` : k;
      if (typeof v === 'number') {
        keys.add(key);
      } else if (v && typeof v === 'object' && !Array.isArray(v)) {
        walk(v as Record<string, unknown>, key);
      }
    }
  };
  for (const run of runs) {
    if (run.summary) {
      walk(run.summary, '');
    }
  }
  return [...keys].sort();
}

export type SortKey = 'created' | 'name' | 'state' | 'duration' | `summary:${string}`;

export interface ISort {
  key: SortKey;
  descending: boolean;
}

/** How a state sorts: live ones first, then ended badly, then finished. */
const STATE_ORDER: Record<string, number> = {
  running: 0,
  preempting: 1,
  crashed: 2,
  failed: 3,
  killed: 4,
  preempted: 5,
  finished: 6
};

function sortValue(run: IRun, key: SortKey): number | string | null {
  switch (key) {
    case 'created':
      return run.created_at;
    case 'name':
      return (run.name || run.id).toLowerCase();
    case 'state':
      return STATE_ORDER[run.state] ?? 7;
    case 'duration':
      return run.duration;
    default: {
      const v = lookup(run.summary, key.slice('summary:'.length));
      return typeof v === 'number' && !isNaN(v) ? v : null;
    }
  }
}

/** Compare for a sort: missing values always last, ties by creation (newest first) then id. */
export function compareRuns(a: IRun, b: IRun, sort: ISort): number {
  const va = sortValue(a, sort.key);
  const vb = sortValue(b, sort.key);
  if (va === null || va === undefined) {
    if (!(vb === null || vb === undefined)) {
      return 1;
    }
  } else if (vb === null || vb === undefined) {
    return -1;
  } else if (va !== vb) {
    const order = va < vb ? -1 : 1;
    return sort.descending ? -order : order;
  }
  const ca = a.created_at ?? 0;
  const cb = b.created_at ?? 0;
  if (ca !== cb) {
    return cb - ca;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Whether a run matches plain search text: a substring of its name, id or one of its tags (any
 *  case); several words must all match. */
export function matchesText(run: IRun, text: string): boolean {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) {
    return true;
  }
  const fields = [run.name ?? '', run.id, ...(run.tags ?? []), run.group ?? '', run.job_type ?? ''].map(f =>
    f.toLowerCase()
  );
  return words.every(w => fields.some(f => f.includes(w)));
}

/** Two runs as the panel draws them are the same (so a poll that returns it again changes nothing). */
export function sameRun(a: IRun, b: IRun): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What merging a poll did. */
export interface IMergeResult {
  /** Runs added or whose fields changed. */
  changed: number;
  /** Runs new to the model. */
  added: number;
  /** The endpoint's count disagrees with what the model holds: refetch the whole list. */
  refetch: boolean;
}

export interface IClickModifiers {
  /** ctrl or cmd: toggle this run in the selection */
  toggle?: boolean;
  /** shift: select the range from the anchor to this run (in the shown order) */
  range?: boolean;
}

/**
 * One project's runs, the search, the sort, the selection. `changed` listeners run after every
 * mutation that changes what is shown.
 */
export class RunsModel {
  private _runs = new Map<string, IRun>();
  private _project: string | null = null;
  private _count = 0;
  private _now = 0;
  private _since: number | null = null;
  private _search = '';
  private _sort: ISort = { key: 'created', descending: true };
  private _selected = new Set<string>();
  private _anchor: string | null = null;
  private _listeners: (() => void)[] = [];
  private _shown: IRun[] | null = null;
  private _loaded = false;

  /** How far back (seconds) a `since` poll reaches before the last answer's `now`: changes written
   *  while the server was answering are seen by the next poll; merging the same run twice is a no-op. */
  static readonly SINCE_OVERLAP = 1;

  get project(): string | null {
    return this._project;
  }

  /** Switch to another project: everything about the old one is dropped. */
  set project(name: string | null) {
    if (name === this._project) {
      return;
    }
    this._project = name;
    this._runs.clear();
    this._selected.clear();
    this._anchor = null;
    this._count = 0;
    this._since = null;
    this._loaded = false;
    this._emit();
  }

  /** Whether a full list has been merged since the project or the filter last changed. */
  get loaded(): boolean {
    return this._loaded;
  }

  /** The endpoint's `now` of the last answer (server clock, Unix seconds). */
  get now(): number {
    return this._now;
  }

  /** The `since=` for the next poll, or null when the next request must be a full list. */
  get since(): number | null {
    return this._since;
  }

  /** The endpoint's `count` of the last answer. */
  get count(): number {
    return this._count;
  }

  get size(): number {
    return this._runs.size;
  }

  get(id: string): IRun | undefined {
    return this._runs.get(id);
  }

  get runs(): IRun[] {
    return [...this._runs.values()];
  }

  // ---- search and sort ------------------------------------------------------------------------

  get search(): string {
    return this._search;
  }

  /** Set the search text. When the endpoint's filter changes with it (an expression appears,
   *  changes or goes), the next poll is a full list. */
  set search(text: string) {
    if (text === this._search) {
      return;
    }
    const before = this.filter;
    this._search = text;
    if (this.filter !== before) {
      this._since = null;
      this._loaded = false;
    }
    this._emit();
  }

  /** The `filter=` to send: the search text when it is an expression, else ''. */
  get filter(): string {
    return isExpression(this._search) ? this._search.trim() : '';
  }

  get sort(): ISort {
    return { ...this._sort };
  }

  set sort(sort: ISort) {
    if (sort.key === this._sort.key && sort.descending === this._sort.descending) {
      return;
    }
    this._sort = { ...sort };
    this._emit();
  }

  /** The runs to show: searched (plain text here; an expression was applied by the endpoint) and
   *  sorted. */
  get shown(): IRun[] {
    if (this._shown === null) {
      const text = this.filter ? '' : this._search;
      this._shown = this.runs.filter(r => matchesText(r, text)).sort((a, b) => compareRuns(a, b, this._sort));
    }
    return this._shown;
  }

  /** Sort keys offered: the fixed ones and every numeric summary key of the runs held. */
  get sortKeys(): SortKey[] {
    return ['created', 'name', 'state', 'duration', ...summaryKeys(this._runs.values()).map(k => `summary:${k}` as SortKey)];
  }

  /** How many runs are running now. */
  get running(): number {
    let n = 0;
    for (const run of this._runs.values()) {
      if (run.state === 'running') {
        n++;
      }
    }
    return n;
  }

  // ---- answers of the endpoint ----------------------------------------------------------------

  /** A full list (no `since`): it replaces what the model held (runs gone are dropped, and
   *  dropped from the selection). Returns how many runs were added or changed, or went. */
  setAll(reply: IRunsReply): IMergeResult {
    const next = new Map<string, IRun>();
    let changed = 0;
    let added = 0;
    for (const run of reply.runs) {
      const old = this._runs.get(run.id);
      if (!old) {
        added++;
        changed++;
      } else if (!sameRun(old, run)) {
        changed++;
      }
      next.set(run.id, run);
    }
    for (const id of this._runs.keys()) {
      if (!next.has(id)) {
        changed++;
        this._selected.delete(id);
        if (this._anchor === id) {
          this._anchor = null;
        }
      }
    }
    this._runs = next;
    this._count = reply.count;
    this._now = reply.now;
    this._since = reply.now - RunsModel.SINCE_OVERLAP;
    this._loaded = true;
    this._emit();
    return { changed, added, refetch: false };
  }

  /** A `since` poll: merge the runs that changed, drop those that no longer pass the filter
   *  (`unmatched`). When the endpoint's `count` (the project's) is not the count before plus the
   *  runs new to the model, runs went (deleted) or came that the model cannot see (created but not
   *  passing the filter): `refetch` says to ask for the whole list. */
  merge(reply: IRunsReply): IMergeResult {
    let changed = 0;
    let added = 0;
    for (const id of reply.unmatched ?? []) {
      if (this._runs.delete(id)) {
        changed++;
        this._selected.delete(id);
        if (this._anchor === id) {
          this._anchor = null;
        }
      }
    }
    for (const run of reply.runs) {
      const old = this._runs.get(run.id);
      if (!old) {
        added++;
        changed++;
        this._runs.set(run.id, run);
      } else if (!sameRun(old, run)) {
        changed++;
        this._runs.set(run.id, run);
      }
    }
    const refetch = reply.count !== this._count + added;
    this._count = reply.count;
    this._now = reply.now;
    this._since = refetch ? null : reply.now - RunsModel.SINCE_OVERLAP;
    if (refetch) {
      this._loaded = false;
    }
    if (changed) {
      this._emit();
    }
    return { changed, added, refetch };
  }

  /** Ask for a full list on the next poll. */
  invalidate(): void {
    this._since = null;
  }

  // ---- selection ------------------------------------------------------------------------------

  get selection(): string[] {
    return this.shown.filter(r => this._selected.has(r.id)).map(r => r.id);
  }

  /** The selected runs in the shown order (selected runs hidden by the search are left out). */
  get selectedRuns(): IRun[] {
    return this.shown.filter(r => this._selected.has(r.id));
  }

  isSelected(id: string): boolean {
    return this._selected.has(id);
  }

  /** The run clicked last (the one actions on "this run" use). */
  get anchor(): string | null {
    return this._anchor;
  }

  /** A click on a run: alone selects only it; `toggle` adds or removes it; `range` selects the
   *  runs between the anchor and it in the shown order (adding to the selection with `toggle`). */
  click(id: string, mods: IClickModifiers = {}): void {
    if (!this._runs.has(id)) {
      return;
    }
    if (mods.range && this._anchor !== null && this._runs.has(this._anchor)) {
      const ids = this.shown.map(r => r.id);
      const a = ids.indexOf(this._anchor);
      const b = ids.indexOf(id);
      if (a >= 0 && b >= 0) {
        if (!mods.toggle) {
          this._selected.clear();
        }
        for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
          this._selected.add(ids[i]);
        }
        this._emit();
        return;
      }
    }
    if (mods.toggle) {
      this.toggle(id);
      return;
    }
    this._selected.clear();
    this._selected.add(id);
    this._anchor = id;
    this._emit();
  }

  /** A checkbox: add or remove one run, keeping the others. */
  toggle(id: string, on?: boolean): void {
    if (!this._runs.has(id)) {
      return;
    }
    const select = on ?? !this._selected.has(id);
    if (select) {
      this._selected.add(id);
    } else {
      this._selected.delete(id);
    }
    this._anchor = id;
    this._emit();
  }

  /** Select every shown run (or none, when all of them are selected already). */
  toggleAll(): void {
    const ids = this.shown.map(r => r.id);
    if (ids.length && ids.every(id => this._selected.has(id))) {
      this._selected.clear();
    } else {
      ids.forEach(id => this._selected.add(id));
    }
    this._emit();
  }

  clearSelection(): void {
    if (this._selected.size) {
      this._selected.clear();
      this._emit();
    }
  }

  /** For a context menu on a run: keep the selection when the run is in it, else select it alone. */
  focus(id: string): void {
    if (this._selected.has(id)) {
      this._anchor = id;
      return;
    }
    this.click(id);
  }

  // ---- change notification --------------------------------------------------------------------

  /** Call `listener` after every change; returns a function that stops it. */
  onChange(listener: () => void): () => void {
    this._listeners.push(listener);
    return () => {
      this._listeners = this._listeners.filter(l => l !== listener);
    };
  }

  private _emit(): void {
    this._shown = null;
    for (const listener of [...this._listeners]) {
      listener();
    }
  }
}

export interface IBackoffOptions {
  /** Poll interval while anything happens (ms). */
  interval: number;
  /** The longest interval when idle (ms). */
  max: number;
  /** How long nothing must happen before the interval grows (ms). */
  idleAfter: number;
  /** How much the interval grows per idle poll. */
  factor: number;
}

/** What the last poll saw. */
export interface IActivity {
  /** Runs were added, changed or went. */
  changed: boolean;
  /** Some shown run is running (its next change is due soon). */
  running: boolean;
  /** A notebook's kernel is busy: a cell may start a run any moment. */
  busy: boolean;
}

/**
 * How often the sidebar polls: every `interval` while anything happens (a change, a running run, a
 * busy kernel); after `idleAfter` of nothing, each poll waits `factor` times longer, up to `max`.
 * `wake()` (the panel shown, a cell run, a refresh asked for) goes back to `interval` at once.
 */
export class Backoff {
  readonly options: IBackoffOptions;
  private _interval: number;
  private _lastActivity: number | null = null;

  constructor(options: Partial<IBackoffOptions> = {}) {
    this.options = { interval: 1000, max: 15000, idleAfter: 20000, factor: 1.5, ...options };
    this._interval = this.options.interval;
  }

  get interval(): number {
    return this._interval;
  }

  get idle(): boolean {
    return this._interval > this.options.interval;
  }

  /** The interval until the next poll, given what this one saw at `now` (ms, any clock). */
  next(activity: IActivity, now: number): number {
    const { interval, max, idleAfter, factor } = this.options;
    if (this._lastActivity === null || activity.changed || activity.running || activity.busy) {
      this._lastActivity = now;
      this._interval = interval;
    } else if (now - this._lastActivity >= idleAfter) {
      this._interval = Math.min(max, Math.round(this._interval * factor));
    }
    return this._interval;
  }

  /** Something is about to happen: poll at the fast interval again. */
  wake(now: number): number {
    this._lastActivity = now;
    this._interval = this.options.interval;
    return this._interval;
  }
}
