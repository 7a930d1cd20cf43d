/**
 * tracker's front end for JupyterLab 4 and Notebook 7.
 *
 * The run pages that `run.display()` shows are jupyter_bokeh widgets, whose views need BokehJS
 * (`window.Bokeh`) in the page before they render. Offline there is no CDN, and inlining BokehJS in
 * every output adds megabytes to each notebook, so this plugin loads it once per page from the
 * tracker server extension, which serves the files of the installed `bokeh` package (so the
 * JavaScript and Python versions always match).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
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

/** Load BokehJS (core first, then its widget, table and WebGL parts), unless the page has it. */
export async function loadBokeh(): Promise<string> {
  const existing = (window as any).Bokeh;
  if (existing !== undefined) {
    return existing.version as string;
  }
  const base = URLExt.join(PageConfig.getBaseUrl(), 'tracker', 'bokehjs');
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

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'tracker-jupyter:bokehjs',
  description: 'Loads BokehJS once per page for tracker run pages.',
  autoStart: true,
  activate: async (app: JupyterFrontEnd): Promise<void> => {
    // Plugins activate before any notebook output renders, and the application waits for this
    // promise, so a widget view never looks for window.Bokeh before it is there.
    try {
      const version = await loadBokeh();
      document.body.dataset.trackerBokeh = version;
    } catch (error) {
      console.warn(String(error));
    }
  }
};

export default plugin;
