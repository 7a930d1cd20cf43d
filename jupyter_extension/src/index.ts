/**
 * tracker's front end for JupyterLab 4 and Notebook 7.
 *
 * The run pages that `run.display()` shows are jupyter_bokeh widgets, whose views need BokehJS
 * (`window.Bokeh`) in the page before they render. Offline there is no CDN, and inlining BokehJS in
 * every output adds megabytes to each notebook, so the first plugin loads it once per page from the
 * tracker server extension, which serves the files of the installed `bokeh` package (so the
 * JavaScript and Python versions always match; see bokeh.ts).
 *
 * The same plugin makes those pages follow JupyterLab's light or dark theme (nbtheme.ts).
 *
 * The second plugin is the Runs sidebar (sidebar.ts): runs browsed live, opened and compared.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

import { loadBokeh } from './bokeh';
import { followTheme } from './nbtheme';
import sidebar from './sidebar';

export { bokehGlobal, loadBokeh } from './bokeh';

const bokehjs: JupyterFrontEndPlugin<void> = {
  id: 'tracker-jupyter:bokehjs',
  description: 'Loads BokehJS once per page for tracker run pages.',
  autoStart: true,
  activate: async (app: JupyterFrontEnd): Promise<void> => {
    // Plugins activate before any notebook output renders, and the application waits for this
    // promise, so a widget view never looks for window.Bokeh before it is there.
    try {
      const version = await loadBokeh();
      document.body.dataset.trackerBokeh = version;
      followTheme(); // run pages drawn in the kernel take the theme's colours (nbtheme.ts)
    } catch (error) {
      console.warn(String(error));
    }
  }
};

export default [bokehjs, sidebar];
