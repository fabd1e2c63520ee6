import { describe, expect, it } from 'vitest';
import { applyEdit } from '../../../src/engine/nextEdit/nextEdit';
import { sameLineInlineItem } from '../../../src/extension/nextEdit/inlineItem';

describe('a same-line next-edit draft as an inline completion item', () => {
  const text = 'call(fooBar, foo, foo)\nfoo\n';
  // the user renamed the first argument: foo → fooBar; the cursor is after it (offset 11)
  const draft = { offset: 13, delete: 3, insert: 'fooBar', old: 'foo', line: 0 };

  it('spans from the cursor to the site, keeps the text between, and gives the same document as the draft', () => {
    const item = sameLineInlineItem(text, 11, draft)!;
    expect(item).toEqual({ from: 11, to: 16, insertText: ', fooBar' });
    // the replaced text is a prefix of the item's text: VS Code shows the rest as ghost text
    expect(item.insertText.startsWith(text.slice(item.from, item.to))).toBe(true);
    expect(text.slice(0, item.from) + item.insertText + text.slice(item.to)).toBe(applyEdit(text, draft));
  });

  it('leaves to the decoration: a site before the cursor, on another line, or a change that is not an extension', () => {
    expect(sameLineInlineItem(text, 17, draft)).toBeNull();
    expect(sameLineInlineItem(text, 11, { offset: 23, delete: 3, insert: 'fooBar', old: 'foo' })).toBeNull();
    expect(sameLineInlineItem(text, 11, { ...draft, insert: 'bar' })).toBeNull();
    expect(sameLineInlineItem(text, 11, { ...draft, insert: 'foo' })).toBeNull();
  });

  it('an insertion (nothing replaced) at or after the cursor qualifies', () => {
    expect(sameLineInlineItem(text, 11, { offset: 16, delete: 0, insert: '!', old: '' })).toEqual({ from: 11, to: 16, insertText: ', foo!' });
  });
});
