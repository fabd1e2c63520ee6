/** Post-processing of a decoded draft against the code around the cursor (stop rules: stop.ts). */
import type { CompletionMode } from '../../protocol';
import { balanceBadness as badness } from './lexer';
import { createStopRule, firstLine, isBlank, lastLine } from './stop';

export interface PostProcessOptions {
  prefix: string;
  suffix: string;
  mode: CompletionMode;
  languageId?: string;
  /** Do not apply the stop rule (fixed-length benchmark runs). Overlap trimming still applies. */
  ignoreStop?: boolean;
}

/** Removes the tail of `text` that the rest of the cursor's line already contains. */
function trimLineOverlap(text: string, lineBefore: string, restOfLine: string): string {
  const rest = restOfLine.trimStart();
  if (!rest) return text;
  const lastNl = text.lastIndexOf('\n');
  const tailLine = text.slice(lastNl + 1);
  const head = lastNl < 0 ? lineBefore : '';
  const whole = rest.trimEnd();
  const before = badness(head + tailLine + restOfLine);
  for (let k = Math.min(tailLine.length, rest.length); k >= 1; k--) {
    const over = rest.slice(0, k);
    if (!tailLine.endsWith(over)) continue;
    const kept = tailLine.slice(0, tailLine.length - k);
    const after = badness(head + kept + restOfLine);
    // Trim when it repairs the line's balance, or when the whole rest of the line is repeated without changing it.
    if (after < before || (after === before && over.trimEnd() === whole)) return text.slice(0, text.length - k);
  }
  return text;
}

/** Cuts the completion before a line that repeats the suffix's next code line (same indentation). */
function trimRepeatedSuffixLine(text: string, suffix: string, restOfLine: string): string {
  if (!isBlank(restOfLine)) return text;
  const lines = suffix.split('\n').slice(1);
  const next = lines.find((l) => !isBlank(l));
  if (next === undefined) return text;
  const target = next.trimEnd();
  const tl = text.split('\n');
  for (let i = 1; i < tl.length; i++) {
    if (tl[i].trimEnd() === target) return tl.slice(0, i).join('\n');
  }
  return text;
}

/**
 * The engine's one clean-up of a raw draft: the stop rule, a repeated suffix line, trailing whitespace, the overlap with
 * the rest of the cursor's line; null when nothing is left or the suffix already starts with it.
 */
export function postProcess(text: string, opts: PostProcessOptions): string | null {
  // A draft cut by its token budget inside a multi-byte character ends in U+FFFD: that part is not text yet.
  let t = text.replace(/\uFFFD+$/, '');
  if (!opts.ignoreStop) {
    const cut = createStopRule(opts).check(t);
    if (cut >= 0) t = t.slice(0, cut);
  }
  const lineBefore = lastLine(opts.prefix);
  const restOfLine = firstLine(opts.suffix).replace(/\r$/, '');
  t = trimRepeatedSuffixLine(t, opts.suffix, restOfLine);
  // Trailing whitespace: drop it, except spaces on a single line that code follows on the cursor's line.
  if (t.includes('\n') || isBlank(restOfLine)) t = t.replace(/\s+$/, '');
  else t = t.replace(/[\r\n]+$/, '');
  t = trimLineOverlap(t, lineBefore, restOfLine);
  const core = t.trim();
  if (!core) return null;
  if (opts.suffix.trimStart().startsWith(core)) return null;
  return t;
}
