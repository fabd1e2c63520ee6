/** The VS Code side of a request: a TextDocument as the pipeline's DocInput, and which documents get completions. */
import * as vscode from 'vscode';
import { DEFAULT_BUDGETS, pickSnippets, type DocText, type SnippetCandidate } from './context';
import type { DocInput } from './pipeline';
import { languageEnabled, type Settings } from '../settings';

/** URI schemes that never get completions (output panes, SCM input, debug console...). */
export const SKIP_SCHEMES = new Set(['output', 'debug', 'vscode-scm', 'comment', 'git', 'vscode-terminal', 'walkThroughSnippet', 'search-editor-body']);

export function eligible(doc: vscode.TextDocument, s: Settings): boolean {
  if (!s.enable || SKIP_SCHEMES.has(doc.uri.scheme)) return false;
  // Read-only file systems (e.g. git history, virtual read-only providers): nothing can be inserted.
  if (vscode.workspace.fs.isWritableFileSystem(doc.uri.scheme) === false) return false;
  return languageEnabled(s.languages, doc.languageId);
}

export function docInput(doc: vscode.TextDocument, pos: vscode.Position): DocInput {
  return {
    uri: doc.uri.toString(),
    languageId: doc.languageId,
    text: docText(doc),
    offset: doc.offsetAt(pos),
    details: () => ({ path: doc.isUntitled ? doc.uri.path : vscode.workspace.asRelativePath(doc.uri), snippets: snippets(doc) }),
  };
}

function docText(doc: vscode.TextDocument): DocText {
  // Document length without materialising the text: offset of the end of the last line.
  const last = doc.lineAt(doc.lineCount - 1);
  const length = doc.offsetAt(last.range.end);
  return {
    length,
    slice: (s, e) => doc.getText(new vscode.Range(doc.positionAt(s), doc.positionAt(e))),
  };
}

/** The visible part of the other editors, as prompt snippets. */
function snippets(doc: vscode.TextDocument): SnippetCandidate[] {
  const out: SnippetCandidate[] = [];
  for (const ed of vscode.window.visibleTextEditors) {
    const d = ed.document;
    if (d === doc || SKIP_SCHEMES.has(d.uri.scheme) || d.lineCount > 50_000) continue;
    const vr = ed.visibleRanges[0];
    if (!vr) continue;
    const r = new vscode.Range(vr.start.line, 0, Math.min(d.lineCount - 1, vr.start.line + 60), 0);
    out.push({ path: vscode.workspace.asRelativePath(d.uri), text: d.getText(r) });
  }
  return pickSnippets(out, DEFAULT_BUDGETS);
}
