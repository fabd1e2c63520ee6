/**
 * Next-edit calibration cases from a git history (this repository's own, by default): the dev set's recipe applied to
 * other code. A commit that makes the same in-line token change on two or more lines of a file gives a positive case
 * (one of those lines, chosen by a seeded hash, is the user's edit; the others are the expected next edits); a file
 * whose whole diff in a commit is one changed line gives a negative case (nothing should be proposed).
 *
 *   npx tsx training/next_edit_cases.ts [--repo DIR] [--max-per-file 3] [--max-commits 2000] [--commit-negatives] > cases.jsonl
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tokenChange } from '../src/engine/nextEdit/tokens';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const repo = opt('repo', '.');
const maxPerFile = Number(opt('max-per-file', '3'));
const maxCommits = Number(opt('max-commits', '2000'));
/** Negative cases only from commits whose whole diff (every file) is one changed line, as the recipe says. */
const commitNegatives = args.includes('--commit-negatives');
const EXT = /\.(ts|tsx|js|mjs|py)$/;
/** Built or bundled files (a rebuild changes them everywhere at once: a machine's edits, not a person's). */
const GENERATED = /(?:^|\/)dist\/|\.min\.js$|\.bundle\.js$/;
const LANG: Record<string, string> = { ts: 'typescript', tsx: 'typescriptreact', js: 'javascript', mjs: 'javascript', py: 'python' };

const git = (...a: string[]): string => execFileSync('git', ['-C', repo, ...a], { encoding: 'utf8', maxBuffer: 256 << 20 });

interface Pair { line: number; oldLine: string; newLine: string }

/** Per file of one commit's diff (-U0): the changed-line pairs of hunks that remove and add the same number of lines. */
function filePairs(diff: string): Map<string, { pairs: Pair[]; changed: number }> {
  const out = new Map<string, { pairs: Pair[]; changed: number }>();
  let file = '';
  let rem: string[] = [];
  let add: string[] = [];
  let at = 0;
  const flush = () => {
    const f = out.get(file);
    if (!f) return;
    f.changed += Math.max(rem.length, add.length);
    if (rem.length === add.length) rem.forEach((o, i) => f.pairs.push({ line: at + i, oldLine: o, newLine: add[i] }));
    rem = [];
    add = [];
  };
  for (const l of diff.split('\n')) {
    if (l.startsWith('diff --git')) {
      flush();
      const m = / b\/(.*)$/.exec(l);
      file = m ? m[1] : '';
      if (EXT.test(file) && !GENERATED.test(file)) out.set(file, { pairs: [], changed: 0 });
    } else if (l.startsWith('@@')) {
      flush();
      const m = /^@@ -(\d+)/.exec(l);
      at = m ? Number(m[1]) - 1 : 0;
    } else if (l.startsWith('-') && !l.startsWith('---')) rem.push(l.slice(1));
    else if (l.startsWith('+') && !l.startsWith('+++')) add.push(l.slice(1));
  }
  flush();
  return out;
}

const hash = (s: string): number => createHash('sha256').update(s).digest().readUInt32BE(0);

/** Offset of line `n` (0-based) in `lines` joined by '\n'. */
const lineOffset = (lines: string[], n: number): number => lines.slice(0, n).reduce((s, l) => s + l.length + 1, 0);

/** One case as the dev set writes it, or null when the file cannot be read. */
function makeCase(commit: string, path: string, user: Pair, others: Pair[]): object | null {
  let before: string;
  try {
    before = git('show', `${commit}^:${path}`);
  } catch {
    return null;
  }
  if (before.length > 200_000) return null;
  const lines = before.split('\n');
  if (lines[user.line] !== user.oldLine || others.some((o) => lines[o.line] !== o.oldLine)) return null;
  const ch = tokenChange(user.oldLine, user.newLine)!;
  const pre = ch.before.join('').length;
  const oldText = ch.old.join('');
  const insert = ch.neu.join('');
  const text = [...lines.slice(0, user.line), user.newLine, ...lines.slice(user.line + 1)].join('\n');
  const offset = lineOffset(lines, user.line) + pre;
  const delta = user.newLine.length - user.oldLine.length;
  const expected = others.map((o) => {
    const c = tokenChange(o.oldLine, o.newLine)!;
    const base = lineOffset(lines, o.line) + (o.line > user.line ? delta : 0);
    return { offset: base + c.before.join('').length, delete: c.old.join('').length, insert: c.neu.join('') };
  });
  const ext = path.split('.').pop()!;
  return {
    id: `own:${commit.slice(0, 10)}:${path}:${offset}`,
    language: LANG[ext] ?? 'plaintext',
    path,
    text,
    cursor: offset + insert.length,
    edit: { offset, delete: insert.length, insert, old: oldText },
    expected,
  };
}

function main(): void {
  const commits = git('log', '--no-merges', '--format=%H', '-n', String(maxCommits)).trim().split('\n');
  let pos = 0;
  let neg = 0;
  for (const commit of commits) {
    let diff: string;
    try {
      diff = git('diff', '-U0', '--no-color', '--no-renames', `${commit}^`, commit);
    } catch {
      continue; // the root commit
    }
    const files = filePairs(diff);
    const commitChanged = [...files.values()].reduce((n, f) => n + f.changed, 0) + (diff.match(/^diff --git/gm)?.length ?? 0) - files.size;
    for (const [path, { pairs, changed }] of files) {
      const groups = new Map<string, Pair[]>();
      for (const p of pairs) {
        const ch = tokenChange(p.oldLine, p.newLine);
        if (!ch || (ch.before.length === 0 && ch.after.length === 0)) continue; // not an in-line change
        if (!p.oldLine.trim()) continue;
        const key = JSON.stringify([ch.old.join(''), ch.neu.join('')]);
        groups.set(key, [...(groups.get(key) ?? []), p]);
      }
      let made = 0;
      for (const [key, g] of groups) {
        if (g.length < 2 || made >= maxPerFile) continue;
        const u = g[hash(commit + path + key) % g.length];
        const c = makeCase(commit, path, u, g.filter((x) => x !== u));
        if (c) {
          process.stdout.write(JSON.stringify(c) + '\n');
          made++;
          pos++;
        }
      }
      if (changed === 1 && pairs.length === 1 && groups.size === 1 && (!commitNegatives || commitChanged === 1)) {
        const c = makeCase(commit, path, pairs[0], []);
        if (c) {
          process.stdout.write(JSON.stringify(c) + '\n');
          neg++;
        }
      }
    }
  }
  process.stderr.write(`${pos} positive, ${neg} negative cases\n`);
}

main();
