/**
 * When two drafts are the same draft: the engine's ranking, superposed decoding's search and the editor's list all
 * keep the first (best) of the drafts whose text is equal once surrounding whitespace is ignored.
 */

/** The text two drafts are compared by. */
export function draftKey(text: string): string {
  return text.trim();
}

/** The items whose draft text is new, in order (the first of each key kept). */
export function uniqueDrafts<T>(items: readonly T[], text: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = draftKey(text(item));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
