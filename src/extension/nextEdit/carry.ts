/**
 * The drafts after an accepted one (no `vscode`: unit-testable). The accepted draft is read as the user's latest edit,
 * in the document after it, and its remaining sites are the next drafts: Tab, Tab carries a rename through the file.
 * The gate (engine/nextEdit/gate.ts) is not asked again: it estimates whether a fresh edit gets carried at all, and
 * accepting a draft has just answered that. Asked anyway, it reads a rename whose definition is already renamed (the
 * new name defined elsewhere, the old one still used) as a switch to an existing name and ended the chain after one Tab.
 */
import { proposeNextEdits, type NextEditDraft, type UserEdit } from '../../engine/nextEdit/nextEdit';

/** An accepted draft as the user's edit in the document after it. */
export function acceptedEdit(d: NextEditDraft): UserEdit {
  return { offset: d.offset, delete: d.insert.length, insert: d.insert, old: d.old };
}

/** The next drafts after `accepted` was applied to give `text`: its other sites, best first, at most k, ungated. */
export function carriedDrafts(text: string, accepted: NextEditDraft, opts: { k: number; languageId?: string; penalties?: ReadonlyMap<string, number> }): NextEditDraft[] {
  return proposeNextEdits({ text, edit: acceptedEdit(accepted), languageId: opts.languageId, k: opts.k, threshold: 0, penalties: opts.penalties });
}
