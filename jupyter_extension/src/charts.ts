/**
 * Line charts drawn with BokehJS, themed from JupyterLab's `--jp-*` CSS variables (read when a
 * chart is drawn; a theme change draws the charts again).
 *
 * With BokehJS's plotting API in the page (`Bokeh.Plotting`, the manifest's `bokeh-api.min.js`) a
 * chart is a `Bokeh.Plotting.figure` with `line()`s, shown by `Bokeh.Plotting.show`. Without it the
 * same plot is built from the core bundle's models (`Bokeh.Models`: Plot, axes, grids, a Line glyph
 * per series, a Legend) in a `Document` shown by `Bokeh.embed.add_document_standalone`.
 */
import { bokehGlobal } from './bokeh';

/** One line: a run's series of one metric. */
export interface ILine {
  label: string;
  colour: string;
  x: (number | null)[];
  y: (number | null)[];
}

/** Line colours for runs on one chart (Bokeh's Category10): readable on light and dark. */
export const LINE_PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf'
];

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** The theme's colours, resolved now (Bokeh draws on a canvas: it needs values, not variables). */
export function themeColours() {
  return {
    background: cssVar('--jp-layout-color1', 'transparent'),
    text: cssVar('--jp-ui-font-color1', 'currentColor'),
    muted: cssVar('--jp-ui-font-color2', 'currentColor'),
    grid: cssVar('--jp-border-color2', 'rgba(128,128,128,0.3)'),
    border: cssVar('--jp-border-color1', 'rgba(128,128,128,0.5)'),
    font: cssVar('--jp-ui-font-family', 'sans-serif')
  };
}

type Colours = ReturnType<typeof themeColours>;

/** What a chart draws. */
interface IChartSpec {
  title: string;
  height: number;
  xLabel: string;
  legend: boolean;
  name?: string;
  lines: ILine[];
  colours: Colours;
}

/** A plot built, its data sources by line label, and how to show it in an element. */
interface IDrawn {
  plot: any;
  sources: Map<string, any>;
  show: (host: HTMLElement) => Promise<any>;
}

function axisStyle(c: Colours) {
  return {
    axis_label_text_color: c.muted,
    axis_label_text_font: c.font,
    axis_label_text_font_style: 'normal',
    major_label_text_color: c.muted,
    axis_line_color: c.border,
    major_tick_line_color: c.border,
    minor_tick_line_color: c.border
  };
}

function legendStyle(c: Colours) {
  return {
    background_fill_color: c.background,
    background_fill_alpha: 0.7,
    border_line_color: c.border,
    label_text_color: c.text,
    label_text_font: c.font,
    label_text_font_size: '10px',
    label_height: 12,
    glyph_height: 10,
    glyph_width: 14,
    spacing: 0,
    padding: 4,
    margin: 6,
    click_policy: 'hide',
    location: 'top_right'
  };
}

function plotStyle(spec: IChartSpec) {
  const c = spec.colours;
  return {
    height: spec.height,
    sizing_mode: 'stretch_width',
    background_fill_color: c.background,
    border_fill_color: c.background,
    outline_line_color: c.border,
    min_border_left: 40
  };
}

function source(Bokeh: any, Source: any, spec: IChartSpec, line: ILine): any {
  return new Source({
    data: { x: numbers(line.x), y: numbers(line.y) },
    ...(spec.name ? { name: `${spec.name}:${line.label}` } : {})
  });
}

/** The chart with BokehJS's plotting API. */
function plottingFigure(Bokeh: any, spec: IChartSpec): IDrawn {
  const c = spec.colours;
  const p = Bokeh.Plotting.figure({
    ...plotStyle(spec),
    title: spec.title,
    tools: 'pan,box_zoom,wheel_zoom,reset,save',
    toolbar_location: 'right',
    x_axis_label: spec.xLabel
  });
  p.title.setv({ text_color: c.text, text_font: c.font, text_font_size: '12px' });
  p.toolbar.logo = null;
  p.axes.forEach((axis: any) => axis.setv(axisStyle(c)));
  p.grids.forEach((grid: any) => grid.setv({ grid_line_color: c.grid, grid_line_alpha: 0.6 }));
  const sources = new Map<string, any>();
  for (const line of spec.lines) {
    const data = source(Bokeh, Bokeh.ColumnDataSource, spec, line);
    sources.set(line.label, data);
    const attrs: Record<string, unknown> = { source: data, line_color: line.colour, line_width: 2 };
    if (spec.legend) {
      attrs.legend_label = line.label;
    }
    p.line({ field: 'x' }, { field: 'y' }, attrs);
  }
  if (spec.legend && spec.lines.length) {
    p.legend.setv(legendStyle(c));
  }
  return { plot: p, sources, show: host => Bokeh.Plotting.show(p, host) };
}

/** The same chart from the core bundle's models (no plotting API in the page). */
function modelsFigure(Bokeh: any, spec: IChartSpec): IDrawn {
  const c = spec.colours;
  const M = Bokeh.Models;
  const xaxis = new M.LinearAxis({ axis_label: spec.xLabel, ...axisStyle(c) });
  const yaxis = new M.LinearAxis(axisStyle(c));
  const plot = new M.Plot({
    ...plotStyle(spec),
    title: new M.Title({ text: spec.title, text_color: c.text, text_font: c.font, text_font_size: '12px' }),
    x_range: new M.DataRange1d(),
    y_range: new M.DataRange1d(),
    x_scale: new M.LinearScale(),
    y_scale: new M.LinearScale(),
    toolbar: new M.Toolbar({
      logo: null,
      tools: [new M.PanTool(), new M.BoxZoomTool(), new M.WheelZoomTool(), new M.ResetTool(), new M.SaveTool()]
    }),
    toolbar_location: 'right'
  });
  plot.add_layout(xaxis, 'below');
  plot.add_layout(yaxis, 'left');
  plot.add_layout(new M.Grid({ dimension: 0, ticker: xaxis.ticker, grid_line_color: c.grid, grid_line_alpha: 0.6 }));
  plot.add_layout(new M.Grid({ dimension: 1, ticker: yaxis.ticker, grid_line_color: c.grid, grid_line_alpha: 0.6 }));
  const sources = new Map<string, any>();
  const renderers: any[] = [];
  const items: any[] = [];
  for (const line of spec.lines) {
    const data = source(Bokeh, M.ColumnDataSource, spec, line);
    sources.set(line.label, data);
    const glyph = new M.Line({ x: { field: 'x' }, y: { field: 'y' }, line_color: line.colour, line_width: 2 });
    const renderer = new M.GlyphRenderer({ data_source: data, glyph });
    renderers.push(renderer);
    items.push(new M.LegendItem({ label: { value: line.label }, renderers: [renderer] }));
  }
  plot.renderers = renderers;
  if (spec.legend && items.length) {
    plot.add_layout(new M.Legend({ items, ...legendStyle(c) }), 'center');
  }
  const { Document } = Bokeh.require('document');
  const doc = new Document();
  doc.add_root(plot);
  const show = async (host: HTMLElement) => {
    const views = await Bokeh.embed.add_document_standalone(doc, host);
    return views.get_by_id(plot.id); // the plot's view (removed with the chart)
  };
  return { plot, sources, show };
}

function numbers(values: (number | null)[]): number[] {
  return values.map(v => (v === null || v === undefined ? NaN : v));
}

/** The charts on screen, drawn again when JupyterLab's theme changes (it sets the body's
 *  `data-jp-theme-name` once the theme's CSS is in). */
const LIVE = new Set<LineChart>();
let observer: MutationObserver | null = null;

function watchTheme(): void {
  if (observer !== null || typeof MutationObserver === 'undefined') {
    return;
  }
  observer = new MutationObserver(() => {
    // the new variables apply on the next frame
    requestAnimationFrame(() => LIVE.forEach(chart => void chart.retheme().catch(() => undefined)));
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light'] });
}

/**
 * A chart of one metric in `host`: one line per `ILine`, a legend when asked for. `update()` sets
 * the data of the drawn lines (no redraw of the figure) while the lines stay the same; a different
 * set of lines, or `retheme()`, draws the figure again.
 */
export class LineChart {
  private _figure: any = null;
  private _view: any = null;
  private _sources = new Map<string, any>();
  private _lines: ILine[] = [];
  private _drawing: Promise<void> = Promise.resolve();
  private _disposed = false;

  constructor(
    readonly host: HTMLElement,
    readonly title: string,
    readonly options: { legend?: boolean; xLabel?: string; name?: string; height?: number } = {}
  ) {
    host.classList.add('tracker-Chart');
    LIVE.add(this);
    watchTheme();
  }

  /** Draw these lines: the first time (or when the set of lines changed) a new figure, else new
   *  data in the drawn one. Rejects when BokehJS cannot draw (shown by the caller). */
  draw(lines: ILine[]): Promise<void> {
    this._drawing = this._drawing.catch(() => undefined).then(() => this._draw(lines));
    return this._drawing;
  }

  /** Draw again with the theme's current colours. */
  retheme(): Promise<void> {
    const lines = this._lines;
    if (this._figure === null) {
      return this._drawing;
    }
    this._drawing = this._drawing.catch(() => undefined).then(() => {
      this._remove();
      return this._draw(lines);
    });
    return this._drawing;
  }

  /** Points drawn, all lines together. */
  get points(): number {
    return this._lines.reduce((n, l) => n + l.x.length, 0);
  }

  dispose(): void {
    this._disposed = true;
    LIVE.delete(this);
    this._remove();
  }

  private async _draw(lines: ILine[]): Promise<void> {
    if (this._disposed) {
      return;
    }
    const sameLines =
      this._figure !== null &&
      lines.length === this._lines.length &&
      lines.every((l, i) => l.label === this._lines[i].label && l.colour === this._lines[i].colour);
    this._lines = lines;
    this.host.dataset.points = String(this.points);
    if (sameLines) {
      for (const line of lines) {
        this._sources.get(line.label).data = { x: numbers(line.x), y: numbers(line.y) };
      }
      return;
    }
    const Bokeh = await bokehGlobal();
    if (this._disposed) {
      return;
    }
    this._remove();
    const spec: IChartSpec = {
      title: this.title,
      height: this.options.height ?? 240,
      xLabel: this.options.xLabel ?? 'step',
      legend: !!this.options.legend,
      name: this.options.name,
      lines,
      colours: themeColours()
    };
    const drawn = Bokeh.Plotting !== undefined ? plottingFigure(Bokeh, spec) : modelsFigure(Bokeh, spec);
    this._figure = drawn.plot;
    this._sources = drawn.sources;
    this.host.replaceChildren();
    this._view = await drawn.show(this.host);
    this.host.dataset.drawnWith = Bokeh.Plotting !== undefined ? 'plotting' : 'models';
    if (this._disposed) {
      this._remove();
    }
  }

  private _remove(): void {
    const Bokeh = (window as any).Bokeh;
    if (this._view) {
      try {
        this._view.remove();
      } catch {
        // already gone with its element
      }
    }
    if (this._figure && Bokeh?.documents) {
      const doc = this._figure.document;
      const i = Bokeh.documents.indexOf(doc);
      if (i >= 0) {
        Bokeh.documents.splice(i, 1);
      }
    }
    this._view = null;
    this._figure = null;
    this._sources.clear();
    this.host.replaceChildren();
  }
}
