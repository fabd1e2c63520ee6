/**
 * A next-edit draft on the cursor's line shown as an inline completion item with a replace range (stable API): from
 * the cursor to the site's end, the text between kept and the site's old text replaced. VS Code renders it as ghost
 * text only when the replaced text is a prefix of the item's text, so only a site at or after the cursor whose new
 * text extends its old text (`foo` → `foo_bar`, an insertion) qualifies; any other draft keeps the decoration path.
 */
import type { NextEdit } from '../../engine/nextEdit/nextEdit';

/** The item's replace range (document offsets) and text, or null when the draft does not qualify. */
export function sameLineInlineItem(text: string, cursor: number, d: NextEdit & { old: string }): { from: number; to: number; insertText: string } | null {
  if (d.offset < cursor || d.insert.includes('\n') || !d.insert.startsWith(d.old) || d.insert === d.old) return null;
  const between = text.slice(cursor, d.offset);
  if (between.includes('\n') || text.slice(d.offset, d.offset + d.delete) !== d.old) return null;
  return { from: cursor, to: d.offset + d.delete, insertText: between + d.insert };
}
