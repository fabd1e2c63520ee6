/**
 * Stop rules and post-processing for code completions.
 *
 * Modes:
 *  - line: the completion ends at the end of the cursor's line. When the cursor stands on a blank line (nothing but
 *    whitespace before and after it on that line), leading blank lines are allowed and the completion is the first
 *    line with code.
 *  - block: the completion is a block of lines.
 *      * "opener" case — the cursor line (or, on a blank line, the previous non-blank line) opens a block
 *        (ends with `{`, `(`, `[`, `:`, `=>`, `=`, `do`, `then`, ...): the completion is that block's body. It ends
 *        before the first line indented at or below the opener (indentation languages such as Python), or, in other
 *        languages, before a line indented below the opener / after the line at the opener's level that closes it
 *        (`}`, `end`; `} else {` continues), or after a line that closes a bracket opened before the completion.
 *      * otherwise the completion continues the current block: it ends before a line indented below the block, at a
 *        blank line, after a line where brackets opened across lines by the completion close, or after a line that
 *        closes a bracket opened before the completion.
 *  - auto: `line` when code follows the cursor on its line or the line has code that does not open a block;
 *    `block` on a blank line or at the end of a line that opens a block.
 * Max tokens, end tokens, the time budget and repetition end a draft too (DraftState.push in decode/decode.ts);
 * postprocess.ts applies this rule once more to the finished text, with the clean-up against the suffix.
 */
import type { CompletionMode } from '../../protocol';
import { BracketScanner, stateAtCursor, stripLineComment, syntaxOf, type LexState } from './lexer';

export type ResolvedMode = 'line' | 'block';

export interface StopContext {
  mode: CompletionMode;
  prefix: string;
  suffix: string;
  languageId?: string;
}

export interface StopRule {
  /** The mode in effect (auto resolved). */
  readonly mode: ResolvedMode;
  /** -1: continue; otherwise the completion is text.slice(0, result) and generation stops. */
  check(text: string): number;
}

/** Words that open a block at the end of a line. */
const OPENER_WORDS = /(?:^|[^\w$])(?:do(?:\s*\|[^|]*\|)?|then|else|begin|try|finally|repeat|loop)\s*$/;
const OPENER_CHARS = /(?:[{([:]|=>|->|=|\\)\s*$/;

/** Visual indentation width (tab = 4). */
export function indentWidth(line: string): number {
  let w = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32) w++;
    else if (c === 9) w += 4 - (w % 4);
    else break;
  }
  return w;
}

export function isBlank(s: string): boolean {
  return s.trim().length === 0;
}

export function lastLine(s: string): string {
  const i = s.lastIndexOf('\n');
  return i < 0 ? s : s.slice(i + 1);
}

export function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

export function opensBlock(line: string, languageId?: string): boolean {
  const syn = syntaxOf(languageId);
  const code = stripLineComment(line, syn).trimEnd();
  if (!code) return false;
  if (OPENER_CHARS.test(code)) {
    // `x == y`, `a <= b` and friends end with '=' only as part of an operator that needs a right operand: still opens.
    return true;
  }
  return OPENER_WORDS.test(code);
}

/** Auto mode: line when code follows the cursor on its line, or the line has code that does not open a block. */
export function resolveMode(mode: CompletionMode, prefix: string, suffix: string, languageId?: string): ResolvedMode {
  if (mode === 'line' || mode === 'block') return mode;
  const after = firstLine(suffix);
  if (!isBlank(after)) return 'line';
  const before = lastLine(prefix);
  if (isBlank(before)) return 'block';
  return opensBlock(before, languageId) ? 'block' : 'line';
}

function lastNonBlankLine(prefix: string): string | null {
  let end = prefix.length;
  // skip the cursor line itself
  const cut = prefix.lastIndexOf('\n');
  if (cut < 0) return null;
  end = cut;
  while (end > 0) {
    const start = prefix.lastIndexOf('\n', end - 1) + 1;
    const line = prefix.slice(start, end);
    if (!isBlank(line)) return line;
    if (start === 0) return null;
    end = start - 1;
  }
  return null;
}

/** The stop rule of a completion: the rest of the line (line mode) or a block (block mode); see the top of this file. */
export function createStopRule(ctx: StopContext): StopRule {
  const mode = resolveMode(ctx.mode, ctx.prefix, ctx.suffix, ctx.languageId);
  return mode === 'line' ? lineRule(ctx) : blockRule(ctx);
}

/** Line mode: ends at the end of the cursor's line; on a blank line, at the end of the first line with code. */
function lineRule(ctx: StopContext): StopRule {
  const blankLine = isBlank(lastLine(ctx.prefix)) && isBlank(firstLine(ctx.suffix));
  return {
    mode: 'line',
    check(text: string): number {
      if (!blankLine) return text.indexOf('\n');
      let i = 0;
      while (i < text.length && /\s/.test(text[i])) i++;
      if (i >= text.length) return -1;
      return text.indexOf('\n', i);
    },
  };
}

/** The block rule's scan state at a line start of a text it has checked. */
interface Snap {
  text: string;
  pos: number;
  lineNo: number;
  seenCode: boolean;
  refIndent: number;
  spanning: boolean;
  depth: number;
  lex: LexState;
}

/**
 * Drafts grow by appending tokens and check() sees the whole text each time: the scan state at the last line start of
 * recent texts (keyed by length), so a check resumes from there when a new text extends one of them.
 */
class Snapshots {
  private readonly byLength = new Map<number, Snap[]>();
  private count = 0;
  lookup(text: string): Snap | null {
    for (let d = 0; d <= 64 && d <= text.length; d++) {
      const list = this.byLength.get(text.length - d);
      if (!list) continue;
      for (const snap of list) if (text.startsWith(snap.text)) return snap;
    }
    return null;
  }
  remember(snap: Snap): void {
    if (this.count >= 256) {
      this.byLength.clear();
      this.count = 0;
    }
    const list = this.byLength.get(snap.text.length);
    if (list) list.push(snap);
    else this.byLength.set(snap.text.length, [snap]);
    this.count++;
  }
}

/**
 * Block mode (see the top of this file). check() is one scan over the text, line-end rules and indentation rules
 * interleaved as characters arrive: one step, kept whole so that it resumes from a snapshot.
 */
function blockRule(ctx: StopContext): StopRule {
  const mode = 'block';
  const syn = syntaxOf(ctx.languageId);
  const lineBefore = lastLine(ctx.prefix);
  const restOfLine = firstLine(ctx.suffix);
  const cursorLineHasCode = !isBlank(lineBefore);
  const openerLine = cursorLineHasCode ? lineBefore : lastNonBlankLine(ctx.prefix);
  const opener = openerLine !== null && opensBlock(openerLine, ctx.languageId) && (cursorLineHasCode || isBlank(restOfLine));
  const openerIndent = openerLine !== null ? indentWidth(openerLine) : 0;
  // A block opened by a bracket closes with a line at the opener's level (`}`, `)`), also in Python; a block opened
  // by ':' in an indentation language ends before the first line at or below the opener's level.
  const indentOnlyBlock =
    opener && syn.indentOnly && openerLine !== null && !/[{([]\s*$/.test(stripLineComment(openerLine, syn).trimEnd());
  const init = stateAtCursor(lineBefore, syn);
  const snapshots = new Snapshots();
  return {
    mode,
    check(text: string): number {
      const from = snapshots.lookup(text);
      const sc = from ? new BracketScanner(syn, from.lex, from.depth) : new BracketScanner(syn, init);
      let lineStart = from ? from.pos : 0; // index in text where the current line starts
      let lineNo = from ? from.lineNo : 0; // 0 = the cursor's line
      let lineIndent = -1; // indentation of the current line once its first code char is seen
      let seenCode = from ? from.seenCode : false; // the completion has produced code
      let refIndent = from ? from.refIndent : -1; // non-opener: indentation of the block being continued
      let spanning = from ? from.spanning : false; // brackets opened by the completion stayed open across a line end
      if (!from && !opener && cursorLineHasCode) refIndent = indentWidth(lineBefore);
      let cp: Omit<Snap, 'text'> | null = from;
      for (let i = lineStart; i < text.length; ) {
        const c = text[i];
        if (c === '\n') {
          // End of a line: line-end rules.
          const line = text.slice(lineStart, i);
          const full = lineNo === 0 ? lineBefore + line : line;
          const blank = isBlank(full);
          if (!blank) {
            if (sc.depth < 0) return i; // closed a bracket opened before the completion
            if (opener) {
              if (lineNo > 0 && !indentOnlyBlock && lineIndent >= 0 && lineIndent <= openerIndent && !opensBlock(full, ctx.languageId)) return i;
            } else {
              if (spanning && sc.depth <= 0) return i;
              if (sc.depth > 0) spanning = true;
            }
          } else if (seenCode && !opener && sc.depth <= 0 && lineNo > 0) {
            // a blank line after code ends a non-opener block (the blank line is not part of it)
            return lineStart - 1;
          }
          sc.feed(text, i);
          i++;
          lineStart = i;
          lineNo++;
          lineIndent = -1;
          cp = { pos: i, lineNo, seenCode, refIndent, spanning, depth: sc.depth, lex: sc.state };
          continue;
        }
        if (lineIndent < 0 && c !== ' ' && c !== '\t' && c !== '\r') {
          // First code character of a line: indentation rules.
          const lineText = lineNo === 0 ? lineBefore + text.slice(lineStart, i) : text.slice(lineStart, i);
          lineIndent = indentWidth(lineText);
          if (lineNo > 0) {
            if (opener) {
              if (indentOnlyBlock ? lineIndent <= openerIndent : lineIndent < openerIndent) return Math.max(0, lineStart - 1);
            } else if (refIndent < 0) {
              refIndent = lineIndent;
            } else if (lineIndent < refIndent) {
              return Math.max(0, lineStart - 1);
            }
          } else if (!opener && refIndent < 0) {
            refIndent = lineIndent;
          }
          seenCode = true;
        }
        i += sc.feed(text, i);
      }
      if (cp && cp.pos > 0) snapshots.remember({ ...cp, text });
      return -1;
    },
  };
}
