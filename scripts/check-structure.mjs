#!/usr/bin/env node
// Fails when the source tree drifts from docs/architecture.md's rules:
//  - no file under src/ over MAX_FILE_LINES lines (the vendored onnx.proto aside);
//  - no function over MAX_FUNCTION_LINES lines (first to last line) unless the comment right above it says why it is
//    one step (it contains "one step");
//  - the rooms' import rules (RULES below): the engine and the contract never reach the editor, the CLI or the
//    inference-process entry; the CLI never imports the extension;
//  - src/engine/ keeps at most MAX_ENGINE_TOP files at its top level (its stages are folders).
// Prints each violation, or one line of counts. Usage: node scripts/check-structure.mjs
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;
const MAX_ENGINE_TOP = 10;
/** [room, rooms it must not import]; a room is a path prefix under the repository root ('vscode' is the module). */
const RULES = [
  ['src/engine/', ['src/extension/', 'src/cli/', 'src/process/', 'src/install/', 'src/prepare/', 'src/remote/', 'src/serve/', 'vscode']],
  ['src/protocol/', ['src/engine/', 'src/extension/', 'src/cli/', 'src/process/', 'src/install/', 'src/prepare/', 'src/remote/', 'src/serve/', 'vscode']],
  ['src/cli/', ['src/extension/', 'vscode']],
  ['src/process/', ['src/extension/', 'src/cli/', 'vscode']],
  ['src/install/', ['src/extension/', 'src/cli/', 'src/process/', 'vscode']],
  ['src/prepare/', ['src/extension/', 'src/cli/', 'src/process/', 'src/install/', 'vscode']],
  ['src/remote/', ['src/extension/', 'src/cli/', 'src/process/', 'src/serve/', 'vscode']],
  ['src/serve/', ['src/extension/', 'src/cli/', 'src/process/', 'src/install/', 'src/prepare/', 'vscode']],
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sources = (dir) =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );

const problems = [];
let functions = 0;
const files = sources('src');
for (const file of files) {
  const text = readFileSync(join(root, file), 'utf8');
  const lines = text.split('\n').length;
  if (lines > MAX_FILE_LINES) problems.push(`${file}: ${lines} lines (at most ${MAX_FILE_LINES})`);
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isModuleDeclaration(node) === false && (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      const spec = node.moduleSpecifier.text;
      const target = spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)) + '/' : spec;
      for (const [room, banned] of RULES) {
        if (!file.startsWith(room)) continue;
        for (const b of banned) if (b.includes('/') ? target.startsWith(b) : target === b || target.startsWith(`${b}/`)) problems.push(`${file}: imports ${spec} (${room} never imports ${b})`);
      }
    }
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      functions++;
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > MAX_FUNCTION_LINES) {
        // The comment above the function, or above the statement that holds it (a const, a property, an export).
        let holder = node;
        while (holder.parent && !ts.isSourceFile(holder.parent) && !ts.isBlock(holder.parent) && !ts.isClassLike(holder.parent) && !ts.isObjectLiteralExpression(holder.parent)) holder = holder.parent;
        const comments = (ts.getLeadingCommentRanges(text, holder.getFullStart()) ?? []).map((c) => text.slice(c.pos, c.end)).join('\n');
        if (!/one step/i.test(comments)) {
          const name = node.name?.getText(sf) ?? holder.name?.getText?.(sf) ?? '(anonymous)';
          problems.push(`${file}:${start + 1}: function ${name} is ${end - start + 1} lines (at most ${MAX_FUNCTION_LINES} without a comment saying why it is one step)`);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}
const engineTop = readdirSync(join(root, 'src/engine'), { withFileTypes: true }).filter((e) => e.isFile());
if (engineTop.length > MAX_ENGINE_TOP) problems.push(`src/engine/: ${engineTop.length} files at the top level (at most ${MAX_ENGINE_TOP}; stages are folders)`);

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`${problems.length} structure problem(s) under src/`);
  process.exit(1);
}
console.log(`structure ok: ${files.length} files, ${functions} functions under src/`);
