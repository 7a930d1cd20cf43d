// Which Bokeh colour properties the notebook theme changes (src/nbtheme.ts, its pure part).
import { parseColour, setLocally, themedRole } from '../src/nbtheme';

describe('parseColour', () => {
  it('reads hex, rgb() and neutral names', () => {
    expect(parseColour('#fff')).toEqual([255, 255, 255, 1]);
    expect(parseColour('#444444')).toEqual([68, 68, 68, 1]);
    expect(parseColour('rgba(0, 0, 0, 0.5)')).toEqual([0, 0, 0, 0.5]);
    expect(parseColour('black')).toEqual([0, 0, 0, 1]);
    expect(parseColour('firebrick')).toBeNull();
    expect(parseColour('not a colour')).toBeNull();
  });
});

describe('themedRole', () => {
  it('themes neutral text, fills and lines', () => {
    expect(themedRole('major_label_text_color', '#444444')).toBe('text');
    expect(themedRole('axis_label_text_color', 'black')).toBe('text');
    expect(themedRole('text_color', '#888888')).toBe('muted');
    expect(themedRole('background_fill_color', '#ffffff')).toBe('background');
    expect(themedRole('border_fill_color', 'white')).toBe('background');
    expect(themedRole('grid_line_color', '#e5e5e5')).toBe('border');
    expect(themedRole('axis_line_color', 'black')).toBe('line');
  });

  it('keeps colours with a hue, non-colour properties and non-string values', () => {
    expect(themedRole('line_color', '#1f77b4')).toBeNull(); // a run's colour
    expect(themedRole('fill_color', '#d62728')).toBeNull();
    expect(themedRole('text_font', '#444444')).toBeNull();
    expect(themedRole('line_color', null)).toBeNull();
    expect(themedRole('line_color', { field: '_colour' })).toBeNull();
    expect(themedRole('fill_color', '#808080')).toBeNull(); // a mid grey fill is data, not background
  });
});

describe('setLocally', () => {
  // A model as BokehJS has it: a change reaches the document (and through jupyter_bokeh the
  // kernel) only while the model is syncable; a silent set changes the value and tells no one.
  function fakeModel() {
    const sent: Record<string, unknown>[] = [];
    const model: any = {
      syncable: true,
      line_color: 'black',
      setv(attrs: Record<string, unknown>, options: { silent?: boolean } = {}) {
        Object.assign(model, attrs);
        if (!options.silent && model.syncable) {
          sent.push(attrs);
        }
      }
    };
    return { model, sent };
  }

  it('changes the page model and sends nothing to the kernel', () => {
    const { model, sent } = fakeModel();
    setLocally(model, { line_color: '#d4d4d4' });
    expect(model.line_color).toBe('#d4d4d4');
    expect(model.syncable).toBe(true);
    expect(sent).toEqual([]);
  });

  it('leaves a model that was not syncable as it was', () => {
    const { model, sent } = fakeModel();
    model.syncable = false;
    setLocally(model, { line_color: 'white' });
    expect(model.syncable).toBe(false);
    expect(sent).toEqual([]);
  });

  it('restores syncable when the change throws', () => {
    const { model } = fakeModel();
    const setv = model.setv;
    model.setv = (attrs: Record<string, unknown>, options?: { silent?: boolean }) => {
      if (!options?.silent) {
        throw new Error('bad value');
      }
      setv(attrs, options);
    };
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    setLocally(model, { line_color: 'white' });
    expect(model.syncable).toBe(true);
    warn.mockRestore();
  });
});
