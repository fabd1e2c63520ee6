import { describe, expect, it } from 'vitest';
import { EditTracker, type ContentChange } from '../../../src/extension/nextEdit/editTracker';

/** Applies changes to a document one at a time, as VS Code reports them, feeding the tracker. */
function type(doc: string, steps: ContentChange[], tracker = new EditTracker()): { doc: string; tracker: EditTracker } {
  for (const c of steps) {
    const before = doc;
    tracker.apply([c], (from, to) => before.slice(from, to));
    doc = doc.slice(0, c.rangeOffset) + c.text + doc.slice(c.rangeOffset + c.rangeLength);
  }
  return { doc, tracker };
}

describe('EditTracker', () => {
  it('merges selecting a name and typing its replacement into one edit', () => {
    const doc = 'const data = read();\nuse(data);\n';
    // replace "data" (offset 6) by typing r, a, w: the first keystroke replaces the selection
    const { doc: after, tracker } = type(doc, [
      { rangeOffset: 6, rangeLength: 4, text: 'r' },
      { rangeOffset: 7, rangeLength: 0, text: 'a' },
      { rangeOffset: 8, rangeLength: 0, text: 'w' },
    ]);
    expect(after).toBe('const raw = read();\nuse(data);\n');
    expect(tracker.edit(after)).toEqual({ offset: 6, delete: 3, insert: 'raw', old: 'data' });
  });

  it('backspacing into the original text extends what was replaced', () => {
    const doc = 'let fooBar = 1;';
    // delete "Bar" with three backspaces, then type "Baz"
    const { doc: after, tracker } = type(doc, [
      { rangeOffset: 9, rangeLength: 1, text: '' },
      { rangeOffset: 8, rangeLength: 1, text: '' },
      { rangeOffset: 7, rangeLength: 1, text: '' },
      { rangeOffset: 7, rangeLength: 0, text: 'Baz' },
    ]);
    expect(after).toBe('let fooBaz = 1;');
    expect(tracker.edit(after)).toEqual({ offset: 7, delete: 3, insert: 'Baz', old: 'Bar' });
  });

  it('an edit elsewhere starts a new edit; a multi-line change ends it', () => {
    const doc = 'a = 1\nb = 2\n';
    const { doc: after, tracker } = type(doc, [
      { rangeOffset: 4, rangeLength: 1, text: '3' },
      { rangeOffset: 10, rangeLength: 1, text: '4' },
    ]);
    expect(tracker.edit(after)).toEqual({ offset: 10, delete: 1, insert: '4', old: '2' });
    const { doc: after2, tracker: t2 } = type(after, [{ rangeOffset: 5, rangeLength: 0, text: '\n' }], tracker);
    expect(t2.edit(after2)).toBeNull();
  });

  it('typing a change and undoing it by hand leaves no edit', () => {
    const { doc, tracker } = type('x = 1', [
      { rangeOffset: 4, rangeLength: 1, text: '2' },
      { rangeOffset: 4, rangeLength: 1, text: '1' },
    ]);
    expect(tracker.edit(doc)).toBeNull();
  });
});
