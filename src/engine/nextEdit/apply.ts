/** Applying next edits and comparing them by the document they produce. */
import type { NextEdit } from './types';

export function applyEdit(text: string, e: NextEdit): string {
  return text.slice(0, e.offset) + e.insert + text.slice(e.offset + e.delete);
}

/** Whether two edits of `text` give the same document (outside the span both touch, both leave `text` as it is). */
export function sameResult(text: string, a: NextEdit, b: NextEdit): boolean {
  const lo = Math.min(a.offset, b.offset);
  const hi = Math.max(a.offset + a.delete, b.offset + b.delete);
  const region = (e: NextEdit): string => text.slice(lo, e.offset) + e.insert + text.slice(e.offset + e.delete, hi);
  return region(a) === region(b);
}
