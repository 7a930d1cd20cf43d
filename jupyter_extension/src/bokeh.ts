/**
 * BokehJS in the page: loaded once per page from the tracker server extension, which serves the
 * files of the installed `bokeh` package (so the JavaScript and Python versions always match).
 *
 * The run pages that `run.display()` shows need the core, widget, table and WebGL parts: the files
 * the manifest lists, in order. The sidebar's charts use BokehJS's plotting API (`Bokeh.Plotting`,
 * `bokeh-api.min.js`) when the manifest lists it, else the same models from the core bundle
 * (charts.ts); nothing is asked of the server that its manifest does not list.
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';

interface IBokehManifest {
  version: string;
  files: string[];
}

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.async = false;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`tracker: could not load ${src}`));
    document.head.appendChild(script);
  });
}

function bokehBase(): string {
  return URLExt.join(PageConfig.getBaseUrl(), 'tracker', 'bokehjs');
}

let _loading: Promise<string> | null = null;

/** jQuery with jQuery UI's sortable as the page's `$`, unless the page has a `$`: BokehJS's tables
 *  (SlickGrid) take the page's jQuery when there is one, and only with jQuery UI's sortable do they
 *  let the user drag a column header to move the column (`DataTable.reorderable`). Set before
 *  BokehJS loads. */
async function provideJQuery(): Promise<void> {
  const w = window as any;
  if (w.$ !== undefined || w.jQuery !== undefined) {
    return;
  }
  const jquery = (await import('jquery')).default;
  w.$ = w.jQuery = jquery;
  // jQuery UI's modules extend the global jQuery; bundled, each needs the ones before it evaluated
  // first (their AMD dependency lists are not followed), so they are imported one by one, in order.
  // @ts-expect-error: jQuery UI's modules have no type declarations
  await import('jquery-ui/ui/version');
  // @ts-expect-error: as above
  await import('jquery-ui/ui/widget');
  // @ts-expect-error: as above
  await import('jquery-ui/ui/data');
  // @ts-expect-error: as above
  await import('jquery-ui/ui/scroll-parent');
  // @ts-expect-error: as above
  await import('jquery-ui/ui/widgets/mouse');
  // @ts-expect-error: as above
  await import('jquery-ui/ui/widgets/sortable');
}

async function load(): Promise<string> {
  const existing = (window as any).Bokeh;
  if (existing !== undefined) {
    return existing.version as string;
  }
  try {
    await provideJQuery();
  } catch (error) {
    console.warn('tracker: no jQuery UI, the run table\'s columns cannot be dragged', error);
  }
  const base = bokehBase();
  const response = await fetch(URLExt.join(base, 'manifest.json'), { credentials: 'same-origin' });
  if (!response.ok) {
    throw new Error(`tracker: BokehJS manifest answered ${response.status}`);
  }
  const manifest = (await response.json()) as IBokehManifest;
  for (const name of manifest.files) {
    await loadScript(URLExt.join(base, name) + `?v=${encodeURIComponent(manifest.version)}`);
  }
  return manifest.version;
}

/** Load BokehJS (core first, then the other files of the manifest), unless the page has it; every
 *  caller shares one load. A failed load may be tried again. */
export function loadBokeh(): Promise<string> {
  if (_loading === null) {
    _loading = load();
    _loading.catch(() => {
      _loading = null;
    });
  }
  return _loading;
}

/** The global `Bokeh`, loading it first when the page has none. Rejects with an Error that says
 *  what went wrong (the views show it). */
export async function bokehGlobal(): Promise<any> {
  await loadBokeh();
  const bokeh = (window as any).Bokeh;
  if (bokeh === undefined) {
    throw new Error('BokehJS is not loaded');
  }
  return bokeh;
}
