/**
 * The user's edit as next-edit drafts read it (no `vscode`: unit-testable): consecutive keystrokes on one line that
 * touch the same region merge into one edit `{offset, delete, insert, old}` (typing `basic` over `tokenizer` is one
 * edit, not five), in offsets of the document after the change.
 */
import type { UserEdit } from '../../engine/nextEdit/nextEdit';

/** One content change as VS Code reports it: the replaced range's offsets in the document before it, and the text. */
export interface ContentChange {
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

export class EditTracker {
  /** The region in the current document: where it starts, its current text's length, and the text it replaced. */
  private region: { start: number; length: number; old: string } | null = null;

  /** Forgets the edit (another document, an accepted draft, a multi-line change). */
  reset(): void {
    this.region = null;
  }

  /**
   * Folds a document change in: `before` is the document text before the change (for the replaced text). A change of
   * several ranges or lines ends the edit.
   */
  apply(changes: readonly ContentChange[], before: (from: number, to: number) => string): void {
    if (changes.length !== 1) return this.reset();
    const c = changes[0];
    const removed = before(c.rangeOffset, c.rangeOffset + c.rangeLength);
    if (c.text.includes('\n') || removed.includes('\n')) return this.reset();
    const r = this.region;
    const end = c.rangeOffset + c.rangeLength;
    if (r && c.rangeOffset <= r.start + r.length && end >= r.start) {
      // overlaps or touches the region: the original text outside it joins the old text
      const leftOld = c.rangeOffset < r.start ? removed.slice(0, r.start - c.rangeOffset) : '';
      const rightOld = end > r.start + r.length ? removed.slice(removed.length - (end - r.start - r.length)) : '';
      const start = Math.min(r.start, c.rangeOffset);
      const newEnd = Math.max(r.start + r.length, end) + c.text.length - c.rangeLength;
      this.region = { start, length: newEnd - start, old: leftOld + r.old + rightOld };
    } else {
      this.region = { start: c.rangeOffset, length: c.text.length, old: removed };
    }
  }

  /** The edit so far as a next-edit request reads it, given the document's current text; null when there is none. */
  edit(text: string): UserEdit | null {
    const r = this.region;
    if (!r || r.start + r.length > text.length) return null;
    const insert = text.slice(r.start, r.start + r.length);
    if (insert === r.old) return null;
    return { offset: r.start, delete: insert.length, insert, old: r.old };
  }
}
