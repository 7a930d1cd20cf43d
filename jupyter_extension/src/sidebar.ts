/**
 * The Runs sidebar plugin: the panel in the left area, run and comparison views in the main area,
 * and the commands of the run context menu and the views' buttons (copy id, copy path, insert a
 * cell that opens the run, compare).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, ICommandPalette, MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { CompareView } from './compare';
import { IRun } from './model';
import { RunsPanel } from './panel';
import { RunView } from './runview';

export namespace CommandIDs {
  export const open = 'tracker-jupyter:open-run';
  export const copyId = 'tracker-jupyter:copy-run-id';
  export const copyPath = 'tracker-jupyter:copy-run-path';
  export const insertCell = 'tracker-jupyter:insert-run-cell';
  export const compare = 'tracker-jupyter:compare-runs';
  export const refresh = 'tracker-jupyter:refresh-runs';
  export const show = 'tracker-jupyter:show-runs';
}

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h2v16h16v2H3z"/>
    <path d="M7.6 15.4 6.2 14l4.8-4.8 3 3 5.3-5.3 1.4 1.4-6.7 6.7-3-3z"/>
  </g>
</svg>`;

export const runsIcon = new LabIcon({ name: 'tracker-jupyter:runs', svgstr: ICON_SVG });

/** The code of a cell that opens a run's page in a notebook. */
export function openRunCode(project: string, id: string): string {
  return `import tracker\ntracker.Api().run(${JSON.stringify(`${project}/${id}`)}).display()`;
}

interface IRunArgs {
  project?: string;
  id?: string;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'tracker-jupyter:sidebar',
  description: 'The Runs sidebar: browse runs live, open them and compare them.',
  autoStart: true,
  optional: [INotebookTracker, ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const { commands, shell } = app;
    const views = new Map<string, MainAreaWidget<RunView>>();

    const kernelBusy = (): boolean => {
      let busy = false;
      notebooks?.forEach(panel => {
        if (panel.sessionContext.session?.kernel?.status === 'busy') {
          busy = true;
        }
      });
      return busy;
    };

    const openRun = (project: string, id: string): void => {
      const key = `${project}/${id}`;
      const existing = views.get(key);
      if (existing && !existing.isDisposed) {
        shell.activateById(existing.id);
        return;
      }
      const content = new RunView({
        project,
        id,
        execute: (command, args) => void commands.execute(command, args as any),
        actions: [
          { command: CommandIDs.copyId, label: 'Copy ID', title: 'Copy the run id' },
          { command: CommandIDs.copyPath, label: 'Copy path', title: 'Copy project/id' },
          {
            command: CommandIDs.insertCell,
            label: 'Insert cell',
            title: 'Insert a code cell that opens this run into the current notebook'
          }
        ]
      });
      const widget = new MainAreaWidget({ content });
      widget.id = content.id;
      widget.title.label = content.title.label;
      widget.title.caption = content.title.caption;
      widget.title.icon = runsIcon;
      widget.title.closable = true;
      widget.addClass('tracker-RunView-widget');
      content.title.changed.connect(() => {
        widget.title.label = content.title.label;
      });
      views.set(key, widget);
      widget.disposed.connect(() => views.delete(key));
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

    const compareRuns = (runs: IRun[]): void => {
      if (runs.length === 1) {
        openRun(runs[0].project, runs[0].id);
        return;
      }
      const content = new CompareView(runs);
      const widget = new MainAreaWidget({ content });
      widget.id = content.id;
      widget.title.label = content.title.label;
      widget.title.caption = content.title.caption;
      widget.title.icon = runsIcon;
      widget.title.closable = true;
      widget.addClass('tracker-RunView-widget');
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

    const panel = new RunsPanel({
      open: run => openRun(run.project, run.id),
      compare: compareRuns,
      busy: kernelBusy
    });
    panel.title.icon = runsIcon;
    panel.title.caption = 'Runs';
    shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, panel.id);

    // a cell run may start a run: poll now, and fast while the kernel is busy; once more when it ends
    NotebookActions.executionScheduled.connect(() => panel.wake());
    NotebookActions.executed.connect(() => panel.wake());

    /** The run a command acts on: its args, else the row under the context menu, else the last clicked. */
    const target = (args: IRunArgs): { project: string; id: string } | null => {
      if (args.project && args.id) {
        return { project: args.project, id: args.id };
      }
      const node = app.contextMenuHitTest(n => n.classList?.contains('tracker-RunsPanel-run')) ?? null;
      const run = panel.runAt(node);
      return run ? { project: run.project, id: run.id } : null;
    };
    const hasTarget = (args: any) => target(args as IRunArgs) !== null;

    commands.addCommand(CommandIDs.open, {
      label: 'Open Run',
      caption: 'Open the run in the main area',
      isEnabled: hasTarget,
      execute: args => {
        const t = target(args as IRunArgs);
        if (t) {
          openRun(t.project, t.id);
        }
      }
    });
    commands.addCommand(CommandIDs.copyId, {
      label: 'Copy Run ID',
      isEnabled: hasTarget,
      execute: args => {
        const t = target(args as IRunArgs);
        if (t) {
          Clipboard.copyToSystem(t.id);
          Notification.info(`Copied ${t.id}`, { autoClose: 2000 });
        }
      }
    });
    commands.addCommand(CommandIDs.copyPath, {
      label: 'Copy Run Path',
      caption: 'Copy project/id, as tracker.Api().run() takes it',
      isEnabled: hasTarget,
      execute: args => {
        const t = target(args as IRunArgs);
        if (t) {
          Clipboard.copyToSystem(`${t.project}/${t.id}`);
          Notification.info(`Copied ${t.project}/${t.id}`, { autoClose: 2000 });
        }
      }
    });
    commands.addCommand(CommandIDs.insertCell, {
      label: 'Insert Cell Opening the Run',
      caption: 'Insert a code cell that opens the run into the current notebook',
      isEnabled: args => hasTarget(args) && !!notebooks?.currentWidget,
      execute: args => {
        const t = target(args as IRunArgs);
        const current = notebooks?.currentWidget;
        if (!t) {
          return;
        }
        if (!current) {
          Notification.warning('Open a notebook to insert the cell into.', { autoClose: 4000 });
          return;
        }
        const notebook = current.content;
        NotebookActions.insertBelow(notebook);
        NotebookActions.changeCellType(notebook, 'code');
        notebook.activeCell?.model.sharedModel.setSource(openRunCode(t.project, t.id));
        shell.activateById(current.id);
      }
    });
    commands.addCommand(CommandIDs.compare, {
      label: () => {
        const n = panel.model.selectedRuns.length;
        return n > 1 ? `Compare ${n} Selected Runs` : 'Compare Selected Runs';
      },
      isEnabled: () => panel.model.selectedRuns.length > 1,
      execute: () => compareRuns(panel.model.selectedRuns)
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Runs',
      execute: () => {
        panel.model.invalidate();
        panel.wake();
      }
    });
    commands.addCommand(CommandIDs.show, {
      label: 'Show Runs Sidebar',
      execute: () => shell.activateById(panel.id)
    });

    palette?.addItem({ command: CommandIDs.show, category: 'Tracker' });
    palette?.addItem({ command: CommandIDs.refresh, category: 'Tracker' });

    const selector = '.tracker-RunsPanel-run';
    [CommandIDs.open, CommandIDs.copyId, CommandIDs.copyPath, CommandIDs.insertCell, CommandIDs.compare].forEach(
      (command, i) => app.contextMenu.addItem({ command, selector, rank: i + 1 })
    );
    app.contextMenu.addItem({ command: CommandIDs.refresh, selector: '.tracker-RunsPanel', rank: 20 });
  }
};

export default plugin;
