/**
 * Which workspace files feed the workspace n-grams: .gitignore matching (nested files and .git/info/exclude, through
 * the `ignore` package), exclude globs from settings, a deny-list of secrets, binary and size checks. Pure (no
 * `vscode` import).
 */
import ignore, { type Ignore } from 'ignore';

export const INDEX_LIMITS = Object.freeze({
  /** Bytes per file. */
  maxFileBytes: 1_000_000,
  /** Files per workspace. */
  maxFiles: 3000,
  /** Characters in all. */
  maxTotalChars: 24_000_000,
  /** Characters per indexFiles request. */
  batchChars: 2_000_000,
  batchFiles: 64,
});

const BINARY_EXT = new Set(
  (
    'png jpg jpeg gif bmp ico icns webp tif tiff psd svgz pdf zip gz tgz bz2 xz 7z rar tar jar war ear class dll exe so dylib ' +
    'o a lib obj pdb wasm onnx bin dat pt pth ckpt safetensors npy npz pkl pickle h5 hdf5 parquet arrow db sqlite sqlite3 ' +
    'mp3 mp4 m4a wav ogg flac mov avi mkv webm woff woff2 ttf otf eot pyc pyo whl vsix dmg iso img deb rpm apk ipa node'
  ).split(' '),
);

/** Files not worth indexing even if text: lockfiles, minified bundles, source maps. */
export function skipByName(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const dot = base.lastIndexOf('.');
  const ext = dot >= 0 ? base.slice(dot + 1) : '';
  if (BINARY_EXT.has(ext)) return true;
  if (base.endsWith('.min.js') || base.endsWith('.min.css') || base.endsWith('.map')) return true;
  if (base === 'package-lock.json' || base === 'yarn.lock' || base === 'pnpm-lock.yaml' || base === 'cargo.lock' || base === 'poetry.lock') return true;
  return false;
}

/**
 * Files never indexed, whatever .gitignore says: secrets and credentials (gitignore syntax). Their text would
 * otherwise end up in the n-gram store and in drafts shown in other files.
 */
export const SECRET_PATTERNS: readonly string[] = Object.freeze([
  '.env',
  '.env.*',
  '.env*',
  '*.env',
  '.envrc',
  '*.pem',
  '*.key',
  '*.crt',
  '*.cer',
  '*.der',
  '*.p8',
  '*.p12',
  '*.pfx',
  '*.jks',
  '*.keystore',
  '*.kdbx',
  '*.gpg',
  '*.asc',
  '*.ovpn',
  'id_rsa*',
  'id_dsa*',
  'id_ecdsa*',
  'id_ed25519*',
  '.ssh/',
  '.aws/',
  '.gnupg/',
  '.docker/config.json',
  '.kube/config',
  '.npmrc',
  '.yarnrc.yml',
  '.pypirc',
  '.netrc',
  '_netrc',
  '.git-credentials',
  '.htpasswd',
  '.pgpass',
  'credentials*',
  '*credentials.json',
  'secrets.*',
  '*.secret',
  '*.secrets',
  'secret.*',
  'service-account*.json',
  '*.tfstate',
  '*.tfstate.*',
  '*.tfvars',
]);

function safeIgnore(lines: string | readonly string[]): Ignore {
  const ig = ignore({ allowRelativePaths: true });
  // `ignore` skips a line it cannot compile (e.g. "[z-a].txt") rather than the file; add line by line anyway so
  // that one bad line can never cost the others.
  for (const line of typeof lines === 'string' ? lines.split(/\r?\n/) : lines) {
    try {
      ig.add(line);
    } catch {
      /* an invalid line is skipped */
    }
  }
  return ig;
}

/** `ig.test` that never throws (an empty or odd path is "not matched"). */
function test(ig: Ignore, rel: string): { ignored: boolean; unignored: boolean } {
  if (!rel || rel === '/') return { ignored: false, unignored: false };
  try {
    return ig.test(rel);
  } catch {
    return { ignored: false, unignored: false };
  }
}

/** A .gitignore file's rules, matched against paths relative to the directory holding it ("a/b/c.ts"). */
export class GitIgnore {
  private readonly ig: Ignore;
  readonly size: number;

  constructor(text: string) {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() && !l.startsWith('#'));
    this.size = lines.length;
    this.ig = safeIgnore(lines);
  }

  /** Whether `relPath` (a file) is ignored: it or one of its parent directories matches (last rule wins). */
  ignores(relPath: string): boolean {
    return test(this.ig, relPath.replace(/^\/+/, '')).ignored;
  }

  /** The raw verdict for a path ("dir/" for a directory): ignored, explicitly re-included, or neither. */
  test(relPath: string): { ignored: boolean; unignored: boolean } {
    return test(this.ig, relPath);
  }
}

/** A .gitignore (or .git/info/exclude) and the workspace-relative directory it applies to ('' = the root). */
export interface IgnoreSource {
  dir: string;
  text: string;
}

/** Expands one level of `{a,b}` in a VS Code glob (no nesting), e.g. "**\/*.{js,map}" → two patterns. */
function expandBraces(glob: string): string[] {
  const m = /\{([^{}]*)\}/.exec(glob);
  if (!m) return [glob];
  return m[1]!.split(',').flatMap((alt) => expandBraces(glob.slice(0, m.index) + alt + glob.slice(m.index + m[0].length)));
}

/** Gitignore lines for the enabled keys of `files.exclude` / `search.exclude` (value `true`; `when` clauses skipped). */
export function excludePatterns(...settings: (Record<string, unknown> | undefined)[]): string[] {
  const out: string[] = [];
  for (const s of settings) {
    if (!s || typeof s !== 'object') continue;
    for (const [k, v] of Object.entries(s)) {
      if (v !== true || !k.trim()) continue;
      for (let p of expandBraces(k).slice(0, 64)) {
        p = p.replace(/^\.\//, '');
        // VS Code globs are relative to the folder and have no negation or comments: make them literal for gitignore.
        if (p.startsWith('!') || p.startsWith('#')) p = `\\${p}`;
        out.push(p.startsWith('/') || p.startsWith('**') || !p.includes('/') ? p : `/${p}`);
      }
    }
  }
  return out;
}

export interface WorkspaceFilterOptions {
  /** .gitignore files of the folder, each with the directory it sits in. */
  gitignores?: readonly IgnoreSource[];
  /** Text of the folder's .git/info/exclude. */
  infoExclude?: string;
  /** `files.exclude`, `search.exclude` objects as read from the settings. */
  excludes?: readonly (Record<string, unknown> | undefined)[];
  /** Deny-list of secret files (default SECRET_PATTERNS); [] to turn it off. */
  secrets?: readonly string[];
}

/**
 * Which files of one workspace folder may be indexed, by git's rules: `.git/info/exclude`, then the .gitignore files
 * from the root down (a deeper file overrides a shallower one; a file inside an ignored directory cannot be
 * re-included), plus the settings' excludes and a deny-list of secrets that nothing re-includes. Paths are relative
 * to the folder with "/" separators. Pure (no `vscode`), matching through the `ignore` package (the gitignore spec).
 */
export class WorkspaceFilter {
  private readonly sources: { dir: string; ig: GitIgnore }[];
  private readonly excludes: Ignore;
  private readonly secrets: Ignore;

  constructor(opts: WorkspaceFilterOptions = {}) {
    const norm = (d: string) => d.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
    const list: { dir: string; ig: GitIgnore }[] = [];
    if (opts.infoExclude) list.push({ dir: '', ig: new GitIgnore(opts.infoExclude) });
    const gi = [...(opts.gitignores ?? [])].map((g) => ({ dir: norm(g.dir), text: g.text }));
    gi.sort((a, b) => (a.dir === '' ? 0 : a.dir.split('/').length) - (b.dir === '' ? 0 : b.dir.split('/').length));
    for (const g of gi) list.push({ dir: g.dir, ig: new GitIgnore(g.text) });
    this.sources = list;
    this.excludes = safeIgnore(excludePatterns(...(opts.excludes ?? [])));
    this.secrets = safeIgnore(opts.secrets ?? SECRET_PATTERNS);
  }

  /** Why `relPath` is not indexed ('secret', 'exclude setting', '.gitignore'), or undefined when it may be. */
  reason(relPath: string): string | undefined {
    const rel = relPath.replace(/\\/g, '/').replace(/^\/+/, '');
    if (!rel) return undefined;
    if (test(this.secrets, rel).ignored) return 'secret';
    if (test(this.excludes, rel).ignored) return 'exclude setting';
    const parts = rel.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const isDir = i < parts.length;
      const p = parts.slice(0, i).join('/');
      let ignored = false;
      for (const s of this.sources) {
        if (s.dir && !(p.startsWith(`${s.dir}/`) && p.length > s.dir.length + 1)) continue;
        const local = s.dir ? p.slice(s.dir.length + 1) : p;
        const r = s.ig.test(isDir ? `${local}/` : local);
        if (r.ignored) ignored = true;
        else if (r.unignored) ignored = false;
      }
      // An ignored directory cannot have files re-included (git semantics).
      if (ignored) return '.gitignore';
    }
    return undefined;
  }

  ignores(relPath: string): boolean {
    return this.reason(relPath) !== undefined;
  }
}

/**
 * `items.filter(keep)` in slices of at most `sliceMs` of work, yielding to the event loop between them (the
 * extension host must never freeze on a big workspace). Stops early, returning what it kept, once `cancelled()`.
 */
export async function filterInSlices<T>(
  items: readonly T[],
  keep: (item: T) => boolean,
  opts: { sliceMs?: number; cancelled?: () => boolean; now?: () => number; yield?: () => Promise<void> } = {},
): Promise<T[]> {
  const sliceMs = opts.sliceMs ?? 8;
  const now = opts.now ?? (() => performance.now());
  const pause = opts.yield ?? (() => new Promise<void>((r) => setImmediate(r)));
  const out: T[] = [];
  let sliceStart = now();
  for (let i = 0; i < items.length; i++) {
    if (now() - sliceStart >= sliceMs) {
      await pause();
      if (opts.cancelled?.()) return out;
      sliceStart = now();
    }
    if (keep(items[i]!)) out.push(items[i]!);
  }
  return out;
}

/**
 * Joins the enabled keys of `files.exclude` / `search.exclude` objects (values `true`; `when` clauses skipped) with
 * always-excluded folders into one `{a,b}` glob for findFiles. Each folder pattern also excludes its contents.
 */
export function excludeGlob(...settings: (Record<string, unknown> | undefined)[]): string {
  const pats = new Set<string>(['**/node_modules/**', '**/.git/**', '**/dist/**', '**/out/**', '**/build/**', '**/.venv/**', '**/__pycache__/**']);
  for (const s of settings) {
    if (!s) continue;
    for (const [k, v] of Object.entries(s)) {
      if (v !== true || !k || k.includes('{') || k.includes('}') || k.includes(',')) continue;
      pats.add(k);
      if (!k.endsWith('/**')) pats.add(`${k.replace(/\/$/, '')}/**`);
    }
  }
  return `{${[...pats].join(',')}}`;
}
