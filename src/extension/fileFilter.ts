/**
 * Which workspace files feed the workspace n-grams: .gitignore matching, exclude globs from settings, binary and
 * size checks. Pure (no `vscode` import).
 */

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

function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // "**/" = any number of directories, "/**" = anything below, "**" = anything.
        if (glob[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end > i) {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += '[' + cls.replace(/\\/g, '\\\\') + ']';
        i = end;
      } else re += '\\[';
    } else if (c === '\\' && i + 1 < glob.length) {
      re += '\\' + glob[++i];
    } else re += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  return re;
}

interface Rule {
  re: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

/** A .gitignore file's rules, matched against paths relative to the directory holding it ("a/b/c.ts"). */
export class GitIgnore {
  private readonly rules: Rule[] = [];

  constructor(text: string) {
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.replace(/(?<!\\)\s+$/, '');
      if (!line || line.startsWith('#')) continue;
      let negate = false;
      if (line.startsWith('!')) {
        negate = true;
        line = line.slice(1);
      } else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1);
      let dirOnly = false;
      if (line.endsWith('/')) {
        dirOnly = true;
        line = line.slice(0, -1);
      }
      if (!line) continue;
      const anchored = line.includes('/');
      if (line.startsWith('/')) line = line.slice(1);
      const body = globToRegex(line);
      const re = new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`);
      this.rules.push({ re, negate, dirOnly });
    }
  }

  get size(): number {
    return this.rules.length;
  }

  /** Whether `relPath` (a file) is ignored: it or one of its parent directories matches (last rule wins). */
  ignores(relPath: string): boolean {
    const parts = relPath.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const isDir = i < parts.length;
      let ignored = false;
      for (const r of this.rules) {
        if (r.dirOnly && !isDir) continue;
        if (r.re.test(p)) ignored = !r.negate;
      }
      // An ignored directory cannot have files re-included (git semantics).
      if (ignored) return true;
    }
    return false;
  }
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
