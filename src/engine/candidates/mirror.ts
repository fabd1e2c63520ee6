/**
 * Drafts from lines that mirror the one being typed. Code often repeats a line's shape with other names:
 *
 *     if (topP !== undefined) req.topP = topP;
 *     if (temperature !== undefined)|           ← cursor
 *
 * The copy search (copy.ts) needs the text before the cursor to occur verbatim, so it proposes ` req.topP = topP;`.
 * Here a nearby line whose start has the same tokens as the cursor's line, except for one or two names (identifiers
 * or numbers), lends its rest with the same renaming applied: ` req.temperature = temperature;`. Renaming works on
 * the parts of a name too (`superposed_k4` → `beam_k4` renames `superposed` to `beam` in the rest of the line).
 * The sites are ranked by the model with the other drafts (rank.ts), like copies.
 */
import type { CopySite } from './copy';

/** Lines scanned above and below the cursor's line, nearest first. */
const LINES_ABOVE = 400;
const LINES_BELOW = 100;
/** Most distinct names a mirrored line may rename. */
const MAX_RENAMES = 2;
/** Fewest characters of the cursor's line (outside renamed names) that must be equal. */
const MIN_EQUAL_CHARS = 4;
/** Fewest non-blank tokens on the cursor's line. */
const MIN_TOKENS = 3;

/** Identifiers, numbers, runs of blanks, and single other characters. */
const TOKEN = /[A-Za-z_$][\w$]*|\d+(?:\.\d+)?|\s+|[^]/g;
const NAME_START = /^[\w$]/;
const NAME_END = /[\w$]$/;
/** The parts of a name: camelCase humps, ACRONYMS, digits, underscore runs. */
const NAME_PART = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[_$]+/g;

function tokens(line: string): string[] {
  return line.match(TOKEN) ?? [];
}

function isName(token: string): boolean {
  return NAME_START.test(token);
}

/**
 * The narrowest renaming that turns `from` into `to`: the parts they do not share at either end
 * (`superposed_k4` → `beam_k4` gives `superposed` → `beam`), or the whole names.
 */
export function renamingOf(from: string, to: string): [string, string] {
  const a = from.match(NAME_PART) ?? [];
  const b = to.match(NAME_PART) ?? [];
  if (a.join('') !== from || b.join('') !== to) return [from, to];
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x = a.slice(head, a.length - tail).join('');
  const y = b.slice(head, b.length - tail).join('');
  return x.length > 0 ? [x, y] : [from, to];
}

const upperFirst = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

/** A token of the mirrored line with the renamings applied (whole names first, then parts in their case forms). */
function rename(token: string, whole: ReadonlyMap<string, string>, parts: readonly [string, string][]): string {
  if (!isName(token)) return token;
  const direct = whole.get(token);
  if (direct !== undefined) return direct;
  let out = token;
  for (const [x, y] of parts) {
    if (x.length < 2) continue;
    for (const [f, t] of [[x, y], [upperFirst(x), upperFirst(y)], [lowerFirst(x), lowerFirst(y)], [x.toUpperCase(), y.toUpperCase()]]) {
      if (out.includes(f)) {
        out = out.split(f).join(t);
        break;
      }
    }
  }
  return out;
}

/** The lines near the cursor's line, nearest first, with their offsets (negative: above). */
function nearbyLines(prefix: string, suffix: string, lineStart: number): [string, number][] {
  // walk back LINES_ABOVE line breaks rather than splitting the whole prefix (documents run to megabytes)
  let from = lineStart - 1;
  for (let n = 0; n < LINES_ABOVE && from >= 0; n++) from = from > 0 ? prefix.lastIndexOf('\n', from - 1) : -1;
  const above = lineStart > 0 ? prefix.slice(from + 1, lineStart - 1).split('\n').reverse() : [];
  const nl = suffix.indexOf('\n');
  const below = nl < 0 ? [] : suffix.slice(nl + 1, nl + 1 + 64 * 1024).split('\n').slice(0, LINES_BELOW);
  const out: [string, number][] = [];
  for (let i = 0; i < Math.max(above.length, below.length); i++) {
    if (i < above.length) out.push([above[i], -(i + 1)]);
    if (i < below.length) out.push([below[i], i + 1]);
  }
  return out;
}

/**
 * Lines near the cursor that mirror the cursor's line with names renamed, as copy sites (best first: nearest).
 * `matchLength` counts the characters that were equal (the evidence the ranking weighs); `renamed` lists the names.
 * Sites whose continuation (first line, trimmed) is in `exclude` are left out.
 */
export function findMirrors(prefix: string, suffix: string, maxSites: number, exclude: ReadonlySet<string> = new Set()): CopySite[] {
  if (maxSites <= 0) return [];
  const lineStart = prefix.lastIndexOf('\n') + 1;
  const line = prefix.slice(lineStart);
  const typed = tokens(line);
  const solid = typed.filter((t) => t.trim().length > 0).length;
  if (solid < MIN_TOKENS) return [];
  // a name the cursor is inside of is matched by its start
  const partial = typed.length > 0 && isName(typed[typed.length - 1]) && NAME_END.test(line) ? typed[typed.length - 1] : '';
  const whole = partial ? typed.slice(0, -1) : typed;
  const out: CopySite[] = [];
  const seen = new Set(exclude);
  for (const [other, offset] of nearbyLines(prefix, suffix, lineStart)) {
    if (other.length < line.length - 16) continue;
    const theirs = tokens(other);
    if (theirs.length <= whole.length) continue;
    const names = new Map<string, string>();
    let equal = 0;
    let renamedTokens = 0;
    let ok = true;
    for (let i = 0; i < whole.length && ok; i++) {
      const a = theirs[i];
      const b = whole[i];
      if (a === b) {
        if (a.trim()) equal += a.length;
      } else if (isName(a) && isName(b) && (names.get(a) ?? b) === b) {
        names.set(a, b);
        renamedTokens++;
      } else if (!(i === 0 && !a.trim() && !b.trim())) ok = false; // indentation may differ
    }
    if (!ok || names.size === 0 || names.size > MAX_RENAMES || equal < MIN_EQUAL_CHARS || renamedTokens * 2 > solid) continue;
    const parts = [...names].map(([a, b]) => renamingOf(a, b));
    let text = theirs
      .slice(whole.length)
      .map((t) => rename(t, names, parts))
      .join('');
    if (partial) {
      if (!text.startsWith(partial) || text.length === partial.length) continue;
      text = text.slice(partial.length);
    }
    const key = text.trim();
    if (key.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push({ path: '', offset, matchLength: equal, text, renamed: [...names] });
    if (out.length >= maxSites) break;
  }
  return out;
}
