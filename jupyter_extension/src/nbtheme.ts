/**
 * The notebook run pages (`run.display()`, the run table, comparisons) follow JupyterLab's theme.
 *
 * Those pages are jupyter_bokeh widgets built in the kernel with Bokeh's light defaults, and Bokeh
 * draws on a canvas, so CSS cannot recolour them. This module does it in the page: every Bokeh
 * document whose root carries the tag `tracker-theme` (set by `tracker.ui.bokeh.bokeh_widget`) gets,
 * under a dark theme, its neutral colours replaced by the theme's (white fills become the layout
 * colour, black and grey text and lines the font colours, light grey grid and outline lines the
 * border colour); colours that carry meaning (each run's line colour) stay. Back under a light theme
 * the original values return. New documents, models added to a document later (charts drawn as a
 * run logs new keys) and theme switches are all handled as they happen, with no kernel round trip.
 *
 * The pure part (which property takes which theme colour) is `themedRole`, tested by jest.
 */

/** A model's role in the theme: what its neutral colour becomes. */
export type Role = 'background' | 'text' | 'muted' | 'line' | 'border';

export const THEME_TAG = 'tracker-theme';

/** `[r, g, b, a]` (0-255, alpha 0-1) of a CSS colour written as `#rgb`, `#rrggbb`, `#rrggbbaa`,
 *  `rgb()`/`rgba()` or one of the neutral names Bokeh uses; null for anything else. */
export function parseColour(value: string): [number, number, number, number] | null {
  const v = value.trim().toLowerCase();
  const named: Record<string, string> = {
    white: '#ffffff',
    black: '#000000',
    gray: '#808080',
    grey: '#808080',
    lightgray: '#d3d3d3',
    lightgrey: '#d3d3d3',
    darkgray: '#a9a9a9',
    darkgrey: '#a9a9a9',
    dimgray: '#696969',
    dimgrey: '#696969',
    whitesmoke: '#f5f5f5',
    gainsboro: '#dcdcdc',
    silver: '#c0c0c0'
  };
  const hex = named[v] ?? v;
  let m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(hex);
  if (m) {
    return [parseInt(m[1] + m[1], 16), parseInt(m[2] + m[2], 16), parseInt(m[3] + m[3], 16), 1];
  }
  m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})?$/.exec(hex);
  if (m) {
    const a = m[4] === undefined ? 1 : parseInt(m[4], 16) / 255;
    return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16), a];
  }
  m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$/.exec(hex);
  if (m) {
    return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  }
  return null;
}

/** What a colour property takes from the theme, or null to leave it: only neutral colours (greys,
 *  black, white) are themed; a colour with a hue (a run's line) keeps its meaning in every theme. */
export function themedRole(attr: string, value: unknown): Role | null {
  if (typeof value !== 'string' || !attr.endsWith('_color')) {
    return null;
  }
  const rgba = parseColour(value);
  if (rgba === null) {
    return null;
  }
  const [r, g, b] = rgba;
  if (Math.max(r, g, b) - Math.min(r, g, b) > 24) {
    return null; // a hue
  }
  const light = (r + g + b) / 3 / 255;
  if (attr.endsWith('text_color')) {
    return light < 0.35 ? 'text' : light < 0.8 ? 'muted' : null;
  }
  if (attr.endsWith('fill_color')) {
    return light > 0.9 ? 'background' : null;
  }
  if (attr.endsWith('line_color')) {
    return light > 0.8 ? 'border' : light < 0.6 ? 'line' : null;
  }
  return null;
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** The theme's value for each role, read from JupyterLab's CSS variables now. */
function palette(): Record<Role, string> {
  return {
    background: cssVar('--jp-layout-color0', '#111111'),
    text: cssVar('--jp-ui-font-color1', '#eeeeee'),
    muted: cssVar('--jp-ui-font-color2', '#bbbbbb'),
    line: cssVar('--jp-ui-font-color2', '#bbbbbb'),
    border: cssVar('--jp-border-color2', '#444444')
  };
}

function isDark(): boolean {
  return document.body.dataset.jpThemeLight === 'false';
}

/** The original (kernel-side) value of each property this module changed, per model. */
const ORIGINAL = new WeakMap<any, Map<string, unknown>>();
/** The theme each model was last styled for ('' after a restore). */
const STYLED = new WeakMap<any, string>();
const WATCHED = new WeakSet<any>();

function attrsOf(model: any): string[] {
  const props = model?.properties;
  return props && typeof props === 'object' ? Object.keys(props) : [];
}

function isOurs(doc: any): boolean {
  const roots: any[] = typeof doc.roots === 'function' ? doc.roots() : [];
  return roots.some(root => Array.isArray(root?.tags) && root.tags.includes(THEME_TAG));
}

function allModels(doc: any): Iterable<any> {
  return doc.all_models ?? (doc._all_models ? doc._all_models.values() : []);
}

/** Style one model for the current theme (or restore it), unless done already. */
function styleModel(model: any, key: string, colours: Record<Role, string> | null): void {
  if (STYLED.get(model) === key) {
    return;
  }
  STYLED.set(model, key);
  const changes: Record<string, unknown> = {};
  let original = ORIGINAL.get(model);
  if (colours === null) {
    if (original !== undefined) {
      for (const [attr, value] of original) {
        changes[attr] = value;
      }
      ORIGINAL.delete(model);
    }
  } else {
    for (const attr of attrsOf(model)) {
      if (!attr.endsWith('_color')) {
        continue;
      }
      let current: unknown;
      try {
        current = original?.has(attr) ? original.get(attr) : model[attr];
      } catch (error) {
        continue; // an unset property
      }
      const role = themedRole(attr, current);
      if (role === null) {
        continue;
      }
      if (original === undefined) {
        original = new Map();
        ORIGINAL.set(model, original);
      }
      if (!original.has(attr)) {
        original.set(attr, current);
      }
      if (model[attr] !== colours[role]) {
        changes[attr] = colours[role];
      }
    }
  }
  if (Object.keys(changes).length > 0) {
    setLocally(model, changes);
  }
}

/** Set properties of a model in the page only: the views redraw, but no change goes to the kernel.
 *  The theme's colours are the page's business (the kernel's models keep theirs, so a saved
 *  snapshot keeps the light ones), and a document whose widget the kernel already closed (a replaced
 *  chart) would otherwise send its change to a comm that no longer exists ("No such comm"). BokehJS
 *  tells a document of a change only for a model that is syncable: it is made unsyncable for the
 *  duration of the change, silently both ways. */
export function setLocally(model: any, changes: Record<string, unknown>): void {
  const syncable = model.syncable === true;
  try {
    if (syncable) {
      model.setv({ syncable: false }, { silent: true });
    }
    model.setv(changes);
  } catch (error) {
    console.warn('tracker: could not apply the theme to a chart', error);
  } finally {
    if (syncable) {
      model.setv({ syncable: true }, { silent: true });
    }
  }
}

let pending = false;

/** Style every model of every tracker document for the theme now in force. */
export function applyTheme(): void {
  pending = false;
  const bokeh = (window as any).Bokeh;
  if (bokeh === undefined || !Array.isArray(bokeh.documents)) {
    return;
  }
  const dark = isDark();
  const colours = dark ? palette() : null;
  const key = dark ? `${document.body.dataset.jpThemeName ?? 'dark'}` : '';
  for (const doc of bokeh.documents) {
    if (!isOurs(doc)) {
      continue;
    }
    if (!WATCHED.has(doc) && typeof doc.on_change === 'function') {
      WATCHED.add(doc);
      // models added later (a new chart) are styled in the next frame
      doc.on_change(() => schedule(), true);
    }
    for (const model of allModels(doc)) {
      try {
        styleModel(model, key, colours);
      } catch (error) {
        // a property that cannot be read (unset) is not a colour to theme; the other models go on
      }
    }
  }
}

function schedule(): void {
  if (!pending) {
    pending = true;
    requestAnimationFrame(() => applyTheme());
  }
}

let started = false;

/** Start following the theme: on theme switches, on new Bokeh documents in the page (polled: the
 *  widget views add them to `Bokeh.documents`), and on models added to a document. */
export function followTheme(): void {
  if (started) {
    return;
  }
  started = true;
  new MutationObserver(() => {
    // a switch restyles everything: forget what was styled for the old theme
    schedule();
  }).observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light'] });
  let seen = -1;
  window.setInterval(() => {
    const docs = (window as any).Bokeh?.documents;
    const count = Array.isArray(docs) ? docs.length : 0;
    if (count !== seen) {
      seen = count;
      schedule();
    }
  }, 400);
}
