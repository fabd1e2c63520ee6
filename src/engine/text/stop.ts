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
 * Max tokens and EOS are the caller's business.
 *
 * postProcess() applies the rule to a finished text and removes what the text after the cursor already has: a
 * completion line that repeats the suffix's next line (and what follows it), and a tail that overlaps the rest of the
 * cursor's line (`)` already present); it returns null for an empty draft or one that only repeats the suffix.
 */
import type { CompletionMode } from '../../protocol';

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

/** Languages whose blocks end by indentation alone. */
const INDENT_LANGUAGES = new Set(['python', 'yaml', 'nim', 'coffeescript', 'pug', 'haml', 'sass', 'stylus', 'fsharp', 'gdscript', 'mojo', 'cython']);
const HASH_COMMENT = new Set([
  'python', 'ruby', 'shellscript', 'shell', 'bash', 'sh', 'zsh', 'fish', 'perl', 'r', 'yaml', 'toml', 'makefile',
  'dockerfile', 'powershell', 'elixir', 'nim', 'coffeescript', 'julia', 'cmake', 'gdscript', 'mojo', 'cython', 'tcl', 'crystal',
]);
const DASH_COMMENT = new Set(['lua', 'sql', 'haskell', 'elm', 'ada', 'vhdl', 'plsql']);
const NO_SLASH_COMMENT = new Set([...HASH_COMMENT, ...DASH_COMMENT, 'html', 'xml', 'markdown', 'plaintext', 'ini']);
/** Words that open a block at the end of a line. */
const OPENER_WORDS = /(?:^|[^\w$])(?:do(?:\s*\|[^|]*\|)?|then|else|begin|try|finally|repeat|loop)\s*$/;
const OPENER_CHARS = /(?:[{([:]|=>|->|=|\\)\s*$/;

interface LexState {
  /** Inside a string opened with this quote ('"', "'", '`', or '"""' / "'''"). */
  str: string;
  blockComment: boolean;
}

interface Syntax {
  indentOnly: boolean;
  hash: boolean;
  dash: boolean;
  slash: boolean;
}

function syntaxOf(languageId: string | undefined): Syntax {
  const id = (languageId ?? '').toLowerCase();
  return { indentOnly: INDENT_LANGUAGES.has(id), hash: HASH_COMMENT.has(id), dash: DASH_COMMENT.has(id), slash: !NO_SLASH_COMMENT.has(id) };
}

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

/** Removes a trailing line comment (roughly) so that `foo {  // x` still counts as an opener. */
function stripLineComment(line: string, syn: Syntax): string {
  let out = line;
  if (syn.slash) {
    const i = out.indexOf('//');
    if (i >= 0 && !/["'`]/.test(out.slice(i))) out = out.slice(0, i);
  }
  if (syn.hash) {
    const i = out.indexOf('#');
    if (i > 0 && !/["'`]/.test(out.slice(i))) out = out.slice(0, i);
  }
  return out;
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

/**
 * Scans text for brackets outside strings and comments, starting from `state`. Calls onLine(depthAtEnd, lineEnd)
 * at each newline. Returns the final depth. Depth is relative to the start of the scan.
 */
class BracketScanner {
  depth = 0;
  private st: LexState;
  private lineComment = false;
  constructor(
    private readonly syn: Syntax,
    init: LexState,
    depth = 0,
  ) {
    this.st = { ...init };
    this.depth = depth;
  }
  /** Feeds one character (with lookahead text for multi-char tokens); returns how many chars were consumed. */
  feed(text: string, i: number): number {
    const c = text[i];
    if (c === '\n') {
      this.lineComment = false;
      // Single-quoted strings do not span lines in most languages; recover from a stray quote.
      if (this.st.str === '"' || this.st.str === "'") this.st.str = '';
      return 1;
    }
    if (this.lineComment) return 1;
    if (this.st.blockComment) {
      if (c === '*' && text[i + 1] === '/') {
        this.st.blockComment = false;
        return 2;
      }
      return 1;
    }
    if (this.st.str) {
      const q = this.st.str;
      if (c === '\\') return text[i + 1] === '\n' ? 1 : 2;
      if (text.startsWith(q, i)) {
        this.st.str = '';
        return q.length;
      }
      return 1;
    }
    if (c === '"' || c === "'" || c === '`') {
      if ((c === '"' || c === "'") && text[i + 1] === c && text[i + 2] === c && this.syn.hash) {
        this.st.str = c + c + c;
        return 3;
      }
      // An apostrophe between letters (Rust lifetimes, English in docs) is not a string.
      if (c === "'" && /\w/.test(text[i - 1] ?? '') && this.syn.hash === false && !this.syn.slash) return 1;
      this.st.str = c;
      return 1;
    }
    if (this.syn.slash && c === '/' && text[i + 1] === '/') {
      this.lineComment = true;
      return 2;
    }
    if (this.syn.slash && c === '/' && text[i + 1] === '*') {
      this.st.blockComment = true;
      return 2;
    }
    if (this.syn.hash && c === '#') {
      this.lineComment = true;
      return 1;
    }
    if (this.syn.dash && c === '-' && text[i + 1] === '-') {
      this.lineComment = true;
      return 2;
    }
    if (c === '(' || c === '[' || c === '{') this.depth++;
    else if (c === ')' || c === ']' || c === '}') this.depth--;
    return 1;
  }
  get state(): LexState {
    return { ...this.st };
  }
}

/** Lexer state at the cursor, judged from the cursor's line only (strings and comments do not carry across lines). */
function stateAtCursor(lineBefore: string, syn: Syntax): LexState {
  const sc = new BracketScanner(syn, { str: '', blockComment: false });
  for (let i = 0; i < lineBefore.length; ) i += sc.feed(lineBefore, i);
  return sc.state;
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

export function createStopRule(ctx: StopContext): StopRule {
  const mode = resolveMode(ctx.mode, ctx.prefix, ctx.suffix, ctx.languageId);
  const syn = syntaxOf(ctx.languageId);
  const lineBefore = lastLine(ctx.prefix);
  const restOfLine = firstLine(ctx.suffix);
  if (mode === 'line') {
    const blankLine = isBlank(lineBefore) && isBlank(restOfLine);
    return {
      mode,
      check(text: string): number {
        if (!blankLine) return text.indexOf('\n');
        let i = 0;
        while (i < text.length && /\s/.test(text[i])) i++;
        if (i >= text.length) return -1;
        return text.indexOf('\n', i);
      },
    };
  }

  // Block mode.
  const cursorLineHasCode = !isBlank(lineBefore);
  const openerLine = cursorLineHasCode ? lineBefore : lastNonBlankLine(ctx.prefix);
  const opener = openerLine !== null && opensBlock(openerLine, ctx.languageId) && (cursorLineHasCode || isBlank(restOfLine));
  const openerIndent = openerLine !== null ? indentWidth(openerLine) : 0;
  // A block opened by a bracket closes with a line at the opener's level (`}`, `)`), also in Python; a block opened
  // by ':' in an indentation language ends before the first line at or below the opener's level.
  const indentOnlyBlock =
    opener && syn.indentOnly && openerLine !== null && !/[{([]\s*$/.test(stripLineComment(openerLine, syn).trimEnd());
  const init = stateAtCursor(lineBefore, syn);
  // Drafts grow by appending tokens and check() sees the whole text each time: remember the scan state at the last
  // line start of recent texts (keyed by length) and resume from there when a new text extends one of them.
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
  const cache = new Map<number, Snap[]>();
  let cached = 0;
  const lookup = (text: string): Snap | null => {
    for (let d = 0; d <= 64 && d <= text.length; d++) {
      const list = cache.get(text.length - d);
      if (!list) continue;
      for (const snap of list) if (text.startsWith(snap.text)) return snap;
    }
    return null;
  };
  const remember = (snap: Snap): void => {
    if (cached >= 256) {
      cache.clear();
      cached = 0;
    }
    const list = cache.get(snap.text.length);
    if (list) list.push(snap);
    else cache.set(snap.text.length, [snap]);
    cached++;
  };
  return {
    mode,
    check(text: string): number {
      const from = lookup(text);
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
      if (cp && cp.pos > 0) remember({ ...cp, text });
      return -1;
    },
  };
}
