import {
  Backoff,
  compareRuns,
  formatDuration,
  IRun,
  IRunsReply,
  isExpression,
  lookup,
  matchesText,
  relativeTime,
  RunsModel,
  stateColour,
  summaryKeys,
  tagColour,
  TAG_PALETTE
} from '../src/model';

function run(id: string, fields: Partial<IRun> = {}): IRun {
  return {
    project: 'p',
    id,
    name: `run-${id}`,
    state: 'finished',
    created_at: 1000,
    heartbeat_at: 1000,
    duration: 10,
    last_step: 9,
    tags: [],
    notes: null,
    group: null,
    job_type: null,
    host: 'h',
    user: 'u',
    config: {},
    summary: {},
    ...fields
  };
}

function reply(runs: IRun[], count: number, now = 2000): IRunsReply {
  return { runs, count, now };
}

function loaded(runs: IRun[], now = 2000): RunsModel {
  const model = new RunsModel();
  model.project = 'p';
  model.setAll(reply(runs, runs.length, now));
  return model;
}

describe('merging polls', () => {
  it('a full list replaces the runs and sets the since cursor from the answer', () => {
    const model = new RunsModel();
    model.project = 'p';
    expect(model.since).toBeNull();
    expect(model.loaded).toBe(false);
    const result = model.setAll(reply([run('a'), run('b')], 2, 5000));
    expect(result).toEqual({ changed: 2, added: 2, refetch: false });
    expect(model.size).toBe(2);
    expect(model.loaded).toBe(true);
    expect(model.now).toBe(5000);
    expect(model.since).toBe(5000 - RunsModel.SINCE_OVERLAP);
  });

  it('a since poll merges new and changed runs and keeps the others', () => {
    const model = loaded([run('a'), run('b', { state: 'running' })]);
    const result = model.merge(reply([run('b', { state: 'finished', duration: 42 }), run('c', { state: 'running' })], 3, 2010));
    expect(result).toEqual({ changed: 2, added: 1, refetch: false });
    expect(model.size).toBe(3);
    expect(model.get('a')?.state).toBe('finished');
    expect(model.get('b')?.state).toBe('finished');
    expect(model.get('b')?.duration).toBe(42);
    expect(model.get('c')?.state).toBe('running');
    expect(model.since).toBe(2010 - RunsModel.SINCE_OVERLAP);
    expect(model.count).toBe(3);
  });

  it('an empty since poll of a quiet project changes nothing and notifies nobody', () => {
    const model = loaded([run('a'), run('b')]);
    let notified = 0;
    model.onChange(() => notified++);
    const result = model.merge(reply([], 2, 2100));
    expect(result).toEqual({ changed: 0, added: 0, refetch: false });
    expect(notified).toBe(0);
    expect(model.since).toBe(2100 - RunsModel.SINCE_OVERLAP);
  });

  it('the same run again (the overlap of two polls) is not a change', () => {
    const model = loaded([run('a', { state: 'running', last_step: 5 })]);
    const result = model.merge(reply([run('a', { state: 'running', last_step: 5 })], 1));
    expect(result.changed).toBe(0);
    expect(model.merge(reply([run('a', { state: 'running', last_step: 6 })], 1)).changed).toBe(1);
  });

  it('notifies listeners on a change, and a listener can be removed', () => {
    const model = loaded([run('a')]);
    const seen: number[] = [];
    const stop = model.onChange(() => seen.push(model.size));
    model.merge(reply([run('b')], 2));
    stop();
    model.merge(reply([run('c')], 3));
    expect(seen).toEqual([2]);
  });
});

describe('deletions seen through count', () => {
  it('a count lower than the model holds asks for the whole list', () => {
    const model = loaded([run('a'), run('b'), run('c')]);
    const result = model.merge(reply([], 2, 2050));
    expect(result.refetch).toBe(true);
    expect(model.since).toBeNull(); // the next request is a full list
    expect(model.loaded).toBe(false);
  });

  it('the whole list then drops the deleted runs, from the selection too', () => {
    const model = loaded([run('a'), run('b'), run('c')]);
    model.click('b');
    model.toggle('c');
    expect(model.selection.sort()).toEqual(['b', 'c']);
    model.merge(reply([], 2));
    const result = model.setAll(reply([run('a'), run('c')], 2, 2100));
    expect(result.changed).toBe(1);
    expect(model.runs.map(r => r.id).sort()).toEqual(['a', 'c']);
    expect(model.selection).toEqual(['c']);
    expect(model.anchor).toBe('c');
    expect(model.since).toBe(2100 - RunsModel.SINCE_OVERLAP);
  });

  it('a new run and a deleted one in the same poll: count unchanged but not what the model makes', () => {
    const model = loaded([run('a'), run('b')]);
    // 'b' was deleted, 'c' created: count stays 2, but 2 + 1 new != 2
    const result = model.merge(reply([run('c')], 2));
    expect(result.added).toBe(1);
    expect(result.refetch).toBe(true);
  });

  it('new runs that account for the whole count need no refetch', () => {
    const model = loaded([run('a')]);
    expect(model.merge(reply([run('b'), run('c')], 3)).refetch).toBe(false);
  });

  it('with a filter: runs that no longer pass it (unmatched) are dropped at once', () => {
    const model = loaded([run('a'), run('b'), run('c')]);
    model.search = 'state == "running"';
    model.setAll({ runs: [run('a', { state: 'running' }), run('b', { state: 'running' })], count: 3, matched: 2, now: 2000 });
    model.click('b');
    const result = model.merge({ runs: [], count: 3, unmatched: ['b'], now: 2010 });
    expect(result).toEqual({ changed: 1, added: 0, refetch: false });
    expect(model.runs.map(r => r.id)).toEqual(['a']);
    expect(model.selection).toEqual([]);
    // a run created that does not pass the filter: the count grows with nothing to show for it
    expect(model.merge({ runs: [], count: 4, unmatched: [], now: 2020 }).refetch).toBe(true);
  });

  it('the dropped anchor is forgotten', () => {
    const model = loaded([run('a'), run('b')]);
    model.click('a');
    model.setAll(reply([run('b')], 1));
    expect(model.anchor).toBeNull();
    expect(model.selection).toEqual([]);
  });
});

describe('projects, search and filter', () => {
  it('switching project drops everything', () => {
    const model = loaded([run('a')]);
    model.click('a');
    model.project = 'q';
    expect(model.size).toBe(0);
    expect(model.selection).toEqual([]);
    expect(model.since).toBeNull();
    expect(model.loaded).toBe(false);
  });

  it('plain text searches name, id and tags, any case, every word', () => {
    const r = run('x1y2', { name: 'Baseline-ResNet', tags: ['sweep', 'GPU'] });
    expect(matchesText(r, 'resnet')).toBe(true);
    expect(matchesText(r, 'X1Y')).toBe(true);
    expect(matchesText(r, 'gpu')).toBe(true);
    expect(matchesText(r, 'sweep resnet')).toBe(true);
    expect(matchesText(r, 'sweep vit')).toBe(false);
    expect(matchesText(r, '')).toBe(true);
  });

  it('text with an operator is a filter for the endpoint', () => {
    expect(isExpression('config.lr < 0.5')).toBe(true);
    expect(isExpression('state == "finished" and summary.val/acc >= 0.9')).toBe(true);
    expect(isExpression('name ~ "^exp"')).toBe(true);
    expect(isExpression('tags in ["a", "b"]')).toBe(true);
    expect(isExpression('config.model.depth not in [2, 4]')).toBe(true);
    expect(isExpression('baseline')).toBe(false);
    expect(isExpression('train in progress')).toBe(false);
    expect(isExpression('   ')).toBe(false);
  });

  it('the model filters plain text itself and sends expressions as filter=', () => {
    const model = loaded([run('a', { name: 'alpha', tags: ['x'] }), run('b', { name: 'beta' })]);
    model.search = 'alp';
    expect(model.filter).toBe('');
    expect(model.shown.map(r => r.id)).toEqual(['a']);
    expect(model.since).not.toBeNull(); // no new request needed
    model.search = 'x';
    expect(model.shown.map(r => r.id)).toEqual(['a']);
    model.search = ' config.lr < 0.1 ';
    expect(model.filter).toBe('config.lr < 0.1');
    expect(model.since).toBeNull(); // a full list with the filter next
    expect(model.loaded).toBe(false);
    expect(model.shown.map(r => r.id).sort()).toEqual(['a', 'b']); // the endpoint filtered already
    model.setAll(reply([run('b')], 1));
    model.search = 'config.lr < 0.1'; // same filter (spaces aside): no refetch
    expect(model.since).not.toBeNull();
    model.search = '';
    expect(model.since).toBeNull();
  });
});

describe('sorting', () => {
  const runs = [
    run('a', { name: 'charlie', created_at: 100, duration: 5, state: 'finished', summary: { val: { acc: 0.7 } } }),
    run('b', { name: 'Alpha', created_at: 300, duration: 50, state: 'failed', summary: { 'val/acc': 0.9 } }),
    run('c', { name: 'bravo', created_at: 200, duration: null, state: 'running', summary: {} })
  ];

  it('by creation, newest first by default', () => {
    expect(loaded(runs).shown.map(r => r.id)).toEqual(['b', 'c', 'a']);
  });

  it('by name (any case), state, duration; missing values last either way', () => {
    const model = loaded(runs);
    model.sort = { key: 'name', descending: false };
    expect(model.shown.map(r => r.id)).toEqual(['b', 'c', 'a']);
    model.sort = { key: 'state', descending: false };
    expect(model.shown.map(r => r.id)).toEqual(['c', 'b', 'a']); // running, failed, finished
    model.sort = { key: 'duration', descending: true };
    expect(model.shown.map(r => r.id)).toEqual(['b', 'a', 'c']);
    model.sort = { key: 'duration', descending: false };
    expect(model.shown.map(r => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('by a summary metric, nested or slashed alike', () => {
    const model = loaded(runs);
    expect(model.sortKeys).toEqual(['created', 'name', 'state', 'duration', 'summary:val/acc']);
    model.sort = { key: 'summary:val/acc', descending: true };
    expect(model.shown.map(r => r.id)).toEqual(['b', 'a', 'c']);
    model.sort = { key: 'summary:val/acc', descending: false };
    expect(model.shown.map(r => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('ties by creation then id', () => {
    const x = run('x', { name: 'same', created_at: 1 });
    const y = run('y', { name: 'same', created_at: 2 });
    expect(compareRuns(x, y, { key: 'name', descending: false })).toBeGreaterThan(0);
    expect(compareRuns(x, { ...x }, { key: 'name', descending: false })).toBe(0);
  });

  it('summary keys: numeric ones only, flattened, underscored ones left out', () => {
    expect(summaryKeys([run('a', { summary: { loss: 1, name: 'x', val: { acc: 1, f1: 'n/a' }, _runtime: 3 } })])).toEqual([
      'loss',
      'val/acc'
    ]);
    expect(lookup({ val: { acc: 3 } }, 'val/acc')).toBe(3);
    expect(lookup({ 'val/acc': 4 }, 'val/acc')).toBe(4);
    expect(lookup({ model: { depth: 2 } }, 'model.depth')).toBe(2);
    expect(lookup(null, 'x')).toBeUndefined();
  });
});

describe('selection', () => {
  const ids = ['a', 'b', 'c', 'd', 'e'];
  // created_at descending puts e first: shown order e d c b a
  const make = () => loaded(ids.map((id, i) => run(id, { created_at: 100 + i })));

  it('a click selects one run alone', () => {
    const model = make();
    model.click('b');
    model.click('d');
    expect(model.selection).toEqual(['d']);
    expect(model.anchor).toBe('d');
  });

  it('ctrl-click toggles a run in the selection', () => {
    const model = make();
    model.click('b');
    model.click('d', { toggle: true });
    expect(model.selection).toEqual(['d', 'b']);
    model.click('b', { toggle: true });
    expect(model.selection).toEqual(['d']);
  });

  it('shift-click selects the range from the anchor in the shown order', () => {
    const model = make();
    model.click('d');
    model.click('a', { range: true });
    expect(model.selection).toEqual(['d', 'c', 'b', 'a']);
    model.click('e', { range: true }); // the anchor stays d: the range is replaced
    expect(model.selection).toEqual(['e', 'd']);
    model.click('b', { range: true, toggle: true }); // ctrl-shift adds a range
    expect(model.selection).toEqual(['e', 'd', 'c', 'b']);
  });

  it('shift-click without an anchor selects the run alone', () => {
    const model = make();
    model.click('c', { range: true });
    expect(model.selection).toEqual(['c']);
  });

  it('checkboxes add and remove, select-all toggles the shown runs', () => {
    const model = make();
    model.toggle('a', true);
    model.toggle('c', true);
    model.toggle('a', false);
    expect(model.selection).toEqual(['c']);
    model.toggleAll();
    expect(model.selection.length).toBe(5);
    model.toggleAll();
    expect(model.selection).toEqual([]);
    model.search = 'run-b';
    model.toggleAll();
    expect(model.selection).toEqual(['b']);
  });

  it('selected runs hidden by the search are not acted on; focus keeps a selection it is in', () => {
    const model = make();
    model.click('a');
    model.click('b', { toggle: true });
    model.search = 'run-b';
    expect(model.selectedRuns.map(r => r.id)).toEqual(['b']);
    model.search = '';
    model.focus('a');
    expect(model.selection).toEqual(['b', 'a']);
    model.focus('e');
    expect(model.selection).toEqual(['e']);
  });

  it('unknown ids are ignored', () => {
    const model = make();
    model.click('zz');
    model.toggle('zz');
    expect(model.selection).toEqual([]);
  });
});

describe('backoff', () => {
  const quiet = { changed: false, running: false, busy: false };

  it('stays at the fast interval while anything happens', () => {
    const b = new Backoff({ interval: 1000, max: 15000, idleAfter: 5000, factor: 2 });
    let t = 0;
    for (let i = 0; i < 20; i++, t += 1000) {
      expect(b.next({ ...quiet, running: true }, t)).toBe(1000);
    }
    expect(b.next({ ...quiet, busy: true }, t + 60_000)).toBe(1000);
    expect(b.next({ ...quiet, changed: true }, t + 120_000)).toBe(1000);
  });

  it('grows when nothing changed for a while, up to max', () => {
    const b = new Backoff({ interval: 1000, max: 8000, idleAfter: 5000, factor: 2 });
    const seen: number[] = [];
    let t = 0;
    for (let i = 0; i < 12; i++) {
      const wait = b.next(quiet, t);
      seen.push(wait);
      t += wait;
    }
    // fast until 5 s without a change, then doubling, then capped
    expect(seen).toEqual([1000, 1000, 1000, 1000, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000]);
    expect(b.idle).toBe(true);
  });

  it('a change or a wake goes back to the fast interval at once', () => {
    const b = new Backoff({ interval: 1000, max: 8000, idleAfter: 1000, factor: 2 });
    b.next(quiet, 0);
    b.next(quiet, 2000);
    b.next(quiet, 4000);
    expect(b.interval).toBe(4000);
    expect(b.next({ ...quiet, changed: true }, 8000)).toBe(1000);
    expect(b.idle).toBe(false);
    b.next(quiet, 10_000);
    expect(b.interval).toBe(2000);
    expect(b.wake(11_000)).toBe(1000);
    expect(b.next(quiet, 11_500)).toBe(1000); // idle counts from the wake
  });

  it('defaults: 1 s while live, at most 15 s idle', () => {
    const b = new Backoff();
    expect(b.options.interval).toBe(1000);
    expect(b.options.max).toBe(15000);
    let t = 0;
    for (let i = 0; i < 100; i++) {
      t += b.next(quiet, t);
    }
    expect(b.interval).toBe(15000);
  });
});

describe('formatting', () => {
  it('durations', () => {
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(-1)).toBe('');
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
    expect(formatDuration(60 * 15 + 3)).toBe('15 min');
    expect(formatDuration(3600 * 2 + 300)).toBe('2 h 5 min');
    expect(formatDuration(86400 * 3 + 3600 * 4)).toBe('3 d 4 h');
  });

  it('relative start times', () => {
    expect(relativeTime(null, 100)).toBe('');
    expect(relativeTime(95, 100)).toBe('just now');
    expect(relativeTime(70, 100)).toBe('30 s ago');
    expect(relativeTime(100, 100 + 5 * 60)).toBe('5 min ago');
    expect(relativeTime(0, 3 * 3600)).toBe('3 h ago');
    expect(relativeTime(0, 2 * 86400)).toBe('2 d ago');
  });

  it('state colours match the Python panels; tags get a stable palette colour', () => {
    expect(stateColour('running')).toBe('#1f77b4');
    expect(stateColour('finished')).toBe('#2ca02c');
    expect(stateColour('failed')).toBe('#d62728');
    expect(stateColour('crashed')).toBe('#d62728');
    expect(stateColour('killed')).toBe('#ff7f0e');
    expect(stateColour('preempted')).toBe('#9467bd');
    expect(stateColour('whatever')).toBe('#7f7f7f');
    expect(tagColour('baseline')).toBe(tagColour('baseline'));
    expect(TAG_PALETTE).toContain(tagColour('sweep'));
    const colours = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(tagColour));
    expect(colours.size).toBeGreaterThan(3);
  });
});
