/**
 * Next-edit drafts: after the user's edit, where and what the next one is likely to be. Offsets are UTF-16 offsets in
 * the document after the user's edit (`text`); an edit replaces `delete` characters at `offset` with `insert`.
 */

/** The edit the user just made: `old` is the text it replaced (so `text.slice(offset, offset + insert.length)` is new). */
export interface UserEdit {
  offset: number;
  delete: number;
  insert: string;
  old: string;
}

/** One proposed next edit in `text`'s offsets. */
export interface NextEdit {
  offset: number;
  delete: number;
  insert: string;
}

/** A ranked next-edit draft: the edit, the probability-like score it was ranked by and how it was found. */
export interface NextEditDraft extends NextEdit {
  score: number;
  /** 'same': the user's change repeated at another site. */
  kind: 'same';
  /** The line (0-based) of the site in `text`. */
  line: number;
  /** The site's text before the edit (what a preview shows as old). */
  old: string;
}

export interface NextEditRequest {
  text: string;
  edit: UserEdit;
  languageId?: string;
  /** Drafts wanted (at most). */
  k: number;
  /** Drafts scoring below this are not shown (the calibrated default in protocol/defaults.ts). */
  threshold: number;
  /**
   * Score adjustments per site (a rejected or ignored draft lowers its site for the session): keyed by
   * `siteKey(old, insert, line text)`, added to the site's log-odds.
   */
  penalties?: ReadonlyMap<string, number>;
}
