/**
 * The one lexer of code text the stop rules, the copy's bracket balancing and the clean-up share: strings (one line,
 * or triple-quoted where `#` comments), comments by language family, bracket depth. Heuristic, not a parser: it reads
 * text the model is still writing, a line or a block at a time.
 */

/** Languages whose blocks end by indentation alone. */
const INDENT_LANGUAGES = new Set(['python', 'yaml', 'nim', 'coffeescript', 'pug', 'haml', 'sass', 'stylus', 'fsharp', 'gdscript', 'mojo', 'cython']);
const HASH_COMMENT = new Set([
  'python', 'ruby', 'shellscript', 'shell', 'bash', 'sh', 'zsh', 'fish', 'perl', 'r', 'yaml', 'toml', 'makefile',
  'dockerfile', 'powershell', 'elixir', 'nim', 'coffeescript', 'julia', 'cmake', 'gdscript', 'mojo', 'cython', 'tcl', 'crystal',
]);
const DASH_COMMENT = new Set(['lua', 'sql', 'haskell', 'elm', 'ada', 'vhdl', 'plsql']);
const NO_SLASH_COMMENT = new Set([...HASH_COMMENT, ...DASH_COMMENT, 'html', 'xml', 'markdown', 'plaintext', 'ini']);

export interface LexState {
  /** Inside a string opened with this quote ('"', "'", '`', or '"""' / "'''"). */
  str: string;
  blockComment: boolean;
}

export interface Syntax {
  /** Blocks end by indentation alone (Python, YAML, ...). */
  indentOnly: boolean;
  /** `#` starts a line comment; `'''`/`"""` strings. */
  hash: boolean;
  /** `--` starts a line comment. */
  dash: boolean;
  /** `//` line comments and slash-star block comments. */
  slash: boolean;
  /** Only a `#` at the start or after a space or tab starts a comment (`this.#field` is code), whatever `hash` says. */
  hashAfterSpace?: boolean;
  /** Slash-star is not read as a block comment (a single line read without knowing its language). */
  noBlockComments?: boolean;
}

/**
 * One line of code whose language is not known (a copied line): strings, `//`, and `#` comments after a space; no
 * triple quotes or block comments.
 */
export const ANY_LINE: Readonly<Syntax> = Object.freeze({ indentOnly: false, hash: false, dash: false, slash: true, hashAfterSpace: true, noBlockComments: true });

/** How comments and strings look in a language (by VS Code language id). */
export function syntaxOf(languageId: string | undefined): Syntax {
  const id = (languageId ?? '').toLowerCase();
  return { indentOnly: INDENT_LANGUAGES.has(id), hash: HASH_COMMENT.has(id), dash: DASH_COMMENT.has(id), slash: !NO_SLASH_COMMENT.has(id) };
}

/** Removes a trailing line comment (roughly) so that `foo {  // x` still counts as an opener. */
export function stripLineComment(line: string, syn: Syntax): string {
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

/**
 * Scans text for brackets outside strings and comments, one character (or multi-character token) per `feed`, from
 * `init`; `depth` is relative to the start of the scan, `bracket` the bracket the last `feed` read as code.
 */
export class BracketScanner {
  depth = 0;
  bracket = '';
  private st: LexState;
  lineComment = false;
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
    this.bracket = '';
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
    if (this.syn.slash && !this.syn.noBlockComments && c === '/' && text[i + 1] === '*') {
      this.st.blockComment = true;
      return 2;
    }
    if (this.syn.hashAfterSpace ? c === '#' && (i === 0 || text[i - 1] === ' ' || text[i - 1] === '\t') : this.syn.hash && c === '#') {
      this.lineComment = true;
      return 1;
    }
    if (this.syn.dash && c === '-' && text[i + 1] === '-') {
      this.lineComment = true;
      return 2;
    }
    if (c === '(' || c === '[' || c === '{') this.depth++;
    else if (c === ')' || c === ']' || c === '}') this.depth--;
    else return 1;
    this.bracket = c;
    return 1;
  }
  get state(): LexState {
    return { ...this.st };
  }
}

/** Lexer state at the cursor, judged from the cursor's line only (strings and comments do not carry across lines). */
export function stateAtCursor(lineBefore: string, syn: Syntax): LexState {
  const sc = new BracketScanner(syn, { str: '', blockComment: false });
  for (let i = 0; i < lineBefore.length; ) i += sc.feed(lineBefore, i);
  return sc.state;
}

/**
 * Balance badness of a line: |bracket depth| plus one per quote kind left open. It counts every bracket and quote,
 * strings included, on purpose: it compares two endings of one line (the overlap trim), not what the code means.
 */
export function balanceBadness(s: string): number {
  let depth = 0;
  let bad = 0;
  for (const c of s) {
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) bad++;
      else depth--;
    }
  }
  bad += depth;
  for (const q of ['"', "'", '`']) if (s.split(q).length % 2 === 0) bad++;
  return bad;
}
