/**
 * Next-edit drafts in the editor, with stable APIs only: after an edit settles, the drafts (engine/nextEdit, pure and
 * fast, so computed here in the extension host without a round trip to the inference process) show as a decoration
 * on the site: a gutter mark, the old text struck through and `→ new` after it. Tab jumps to the site, Tab again
 * accepts (and the next drafts are computed from the accepted edit: "carry it through" in a few Tabs); Alt+] / Alt+[
 * cycle the drafts; Esc dismisses. The context key `superdraft.nextEditVisible` gates the keys, and package.json's
 * `when` clauses let completion ghost text win Tab and Alt+] while it is visible. A dismissed or ignored draft lowers
 * its site's score for the rest of the session. A draft on the cursor's line that extends its old text is offered as
 * an inline completion item with a replace range instead (inlineItem.ts): VS Code's own Tab accepts it, and the
 * accepted edit drafts the next one as a Tab on a decoration does.
 */
import * as vscode from 'vscode';
import { applyEdit, proposeNextEdits, siteKey, type NextEditDraft, type UserEdit } from '../../engine/nextEdit/nextEdit';
import { DEFAULTS } from '../../protocol/defaults';
import type { Logger } from '../logger';
import type { SettingsStore } from '../settingsStore';
import { Commands } from '../ui/commandIds';
import { carriedDrafts } from './carry';
import { EditTracker } from './editTracker';
import { sameLineInlineItem } from './inlineItem';

const NEXT_EDIT_COMMANDS = { tab: Commands.nextEditTab, next: Commands.nextEditNext, previous: Commands.nextEditPrevious, dismiss: Commands.nextEditDismiss } as const;

const CONTEXT_KEY = 'superdraft.nextEditVisible';
/** Log-odds taken off a site's score each time its draft is dismissed or ignored. */
const PENALTY = 1.5;

interface Shown {
  uri: string;
  version: number;
  drafts: NextEditDraft[];
  index: number;
  jumped: boolean;
  /** The document's text when the drafts were computed (an accepted inline item is recognised by its result). */
  text: string;
  /** The current draft is offered as an inline completion item (no decoration). */
  inline: boolean;
}

export class NextEditController implements vscode.Disposable {
  private readonly trackers = new Map<string, EditTracker>();
  private readonly penalties = new Map<string, number>();
  private shown: Shown | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private applying = false;
  private readonly mark: vscode.TextEditorDecorationType;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    extensionUri: vscode.Uri,
    private readonly settings: SettingsStore,
    private readonly logger: Logger,
  ) {
    this.mark = vscode.window.createTextEditorDecorationType({
      gutterIconPath: vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg'),
      gutterIconSize: 'contain',
      textDecoration: 'line-through',
      backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.modifiedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Right,
    });
  }

  register(): vscode.Disposable[] {
    this.disposables.push(
      this.mark,
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      vscode.window.onDidChangeActiveTextEditor((e) => {
        this.clear(true);
        this.track(e);
      }),
      vscode.workspace.onDidCloseTextDocument((d) => {
        this.trackers.delete(d.uri.toString());
        this.texts.delete(d.uri.toString());
      }),
      vscode.commands.registerCommand(NEXT_EDIT_COMMANDS.tab, () => this.tab()),
      vscode.commands.registerCommand(NEXT_EDIT_COMMANDS.next, () => this.cycle(1)),
      vscode.commands.registerCommand(NEXT_EDIT_COMMANDS.previous, () => this.cycle(-1)),
      vscode.commands.registerCommand(NEXT_EDIT_COMMANDS.dismiss, () => this.clear(true)),
      vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, { provideInlineCompletionItems: (doc, pos) => this.inlineItems(doc, pos) }),
    );
    this.track(vscode.window.activeTextEditor);
    return [this];
  }

  /** The drafts shown now (tests, the picker). */
  get drafts(): readonly NextEditDraft[] {
    return this.shown?.drafts ?? [];
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    if (e.contentChanges.length === 0) return;
    if (!this.settings.current.enable || !this.settings.current.nextEdit) {
      this.texts.clear(); // nothing read per keystroke while off
      return;
    }
    const key = e.document.uri.toString();
    const editor = vscode.window.activeTextEditor;
    const active = editor?.document === e.document;
    // VS Code's event does not carry the replaced text: read it from the document's text before the change
    const before = this.texts.get(key);
    if (before !== undefined || active) this.texts.set(key, e.document.getText());
    if (this.applying || !active) return;
    if (this.acceptedInline(editor!)) return;
    // a user edit while drafts show: they were ignored
    this.clear(true);
    let tracker = this.trackers.get(key);
    if (!tracker) this.trackers.set(key, (tracker = new EditTracker()));
    const changes = e.contentChanges.map((c) => ({ rangeOffset: c.rangeOffset, rangeLength: c.rangeLength, text: c.text }));
    if (before === undefined) tracker.reset();
    else tracker.apply(changes, (from, to) => before.slice(from, to));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.compute(e.document), DEFAULTS.nextEditDebounceMs);
  }

  /** Each tracked document's text as of its latest change (the replaced text of the next one is read from it). */
  private readonly texts = new Map<string, string>();

  /** Starts tracking an editor's document (its text before the first edit). */
  track(editor: vscode.TextEditor | undefined): void {
    if (editor) this.texts.set(editor.document.uri.toString(), editor.document.getText());
  }

  private compute(doc: vscode.TextDocument): void {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document !== doc) return;
    const edit: UserEdit | null = this.trackers.get(doc.uri.toString())?.edit(doc.getText()) ?? null;
    if (!edit) return;
    this.showFor(editor, (text) => proposeNextEdits({ text, edit, languageId: doc.languageId, k: this.settings.current.drafts, threshold: DEFAULTS.nextEditThreshold, penalties: this.penalties }));
  }

  /** The next drafts after an accepted one (carry.ts: its other sites, without asking the gate again). */
  private carry(editor: vscode.TextEditor, accepted: NextEditDraft): void {
    this.trackers.get(editor.document.uri.toString())?.reset();
    this.showFor(editor, (text) => carriedDrafts(text, accepted, { k: this.settings.current.drafts, languageId: editor.document.languageId, penalties: this.penalties }), ' (carried)');
  }

  private showFor(editor: vscode.TextEditor, propose: (text: string) => NextEditDraft[], what = ''): void {
    const doc = editor.document;
    const t0 = performance.now();
    const drafts = propose(doc.getText());
    this.logger.debug(`next edit: ${drafts.length} draft(s)${what} in ${(performance.now() - t0).toFixed(1)} ms`);
    if (drafts.length === 0) return this.clear(false);
    this.shown = { uri: doc.uri.toString(), version: doc.version, drafts, index: 0, jumped: false, text: doc.getText(), inline: false };
    this.render(editor);
  }

  private current(editor: vscode.TextEditor | undefined): NextEditDraft | null {
    const s = this.shown;
    if (!s || !editor || editor.document.uri.toString() !== s.uri || editor.document.version !== s.version) return null;
    return s.drafts[s.index] ?? null;
  }

  private rangeOf(doc: vscode.TextDocument, d: NextEditDraft): vscode.Range {
    return new vscode.Range(doc.positionAt(d.offset), doc.positionAt(d.offset + d.delete));
  }

  private render(editor: vscode.TextEditor): void {
    const d = this.current(editor);
    if (!d) return this.clear(false);
    const s = this.shown!;
    s.inline = this.inlineFor(editor, d) !== null;
    if (s.inline) {
      editor.setDecorations(this.mark, []);
      void vscode.commands.executeCommand('setContext', CONTEXT_KEY, false);
      void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      return;
    }
    const range = this.rangeOf(editor.document, d);
    const label = `${d.old ? '' : '+ '}→ ${d.insert || '(delete)'}${s.drafts.length > 1 ? `  (${s.index + 1}/${s.drafts.length}, Alt+] next)` : ''}  Tab`;
    editor.setDecorations(this.mark, [
      {
        range,
        renderOptions: { after: { contentText: ` ${label}`, color: new vscode.ThemeColor('editorGhostText.foreground'), fontStyle: 'italic' } },
        hoverMessage: new vscode.MarkdownString().appendCodeblock(`- ${d.old}\n+ ${d.insert}`, 'diff'),
      },
    ]);
    void vscode.commands.executeCommand('setContext', CONTEXT_KEY, true);
  }

  /** Tab: jump to the draft's site (revealing it); at the site, accept it and draft the next edit from it. */
  private async tab(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const d = this.current(editor);
    if (!editor || !d) return this.clear(false);
    const range = this.rangeOf(editor.document, d);
    const at = editor.selection.isEmpty && range.contains(editor.selection.active);
    if (!this.shown!.jumped && !at) {
      this.shown!.jumped = true;
      editor.selection = new vscode.Selection(range.start, range.start);
      editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      return;
    }
    this.applying = true;
    let ok = false;
    try {
      ok = await editor.edit((b) => b.replace(range, d.insert));
    } finally {
      this.applying = false;
    }
    this.clear(false);
    if (!ok) return;
    const end = editor.document.positionAt(d.offset + d.insert.length);
    editor.selection = new vscode.Selection(end, end);
    // carry it through: the accepted draft is the user's latest edit
    this.carry(editor, d);
  }

  /** The current draft as an inline item at the editor's cursor, or null when it takes the decoration path. */
  private inlineFor(editor: vscode.TextEditor, d: NextEditDraft) {
    if (!editor.selection.isEmpty) return null;
    return sameLineInlineItem(this.shown!.text, editor.document.offsetAt(editor.selection.active), d);
  }

  private inlineItems(doc: vscode.TextDocument, pos: vscode.Position): vscode.InlineCompletionItem[] {
    const editor = vscode.window.activeTextEditor;
    const d = this.current(editor);
    if (!editor || !d || editor.document !== doc || !this.shown!.inline) return [];
    const item = sameLineInlineItem(this.shown!.text, doc.offsetAt(pos), d);
    return item ? [new vscode.InlineCompletionItem(item.insertText, new vscode.Range(doc.positionAt(item.from), doc.positionAt(item.to)))] : [];
  }

  /** Whether the change just made is the inline draft accepted; if so, the next drafts are computed from it. */
  private acceptedInline(editor: vscode.TextEditor): boolean {
    const s = this.shown;
    const d = s?.inline && s.uri === editor.document.uri.toString() ? s.drafts[s.index] : undefined;
    if (!s || !d || editor.document.getText() !== applyEdit(s.text, d)) return false;
    this.clear(false);
    this.carry(editor, d);
    return true;
  }

  private cycle(step: number): void {
    const editor = vscode.window.activeTextEditor;
    const s = this.shown;
    if (!s || !this.current(editor)) return this.clear(false);
    s.index = (s.index + step + s.drafts.length) % s.drafts.length;
    s.jumped = false;
    this.render(editor!);
  }

  /** Hides the drafts; `rejected`: the user dismissed or ignored them, so their sites score lower this session. */
  clear(rejected: boolean): void {
    const s = this.shown;
    if (!s) return; // nothing shown: no decoration or context key to reset (this runs on every keystroke)
    if (rejected) {
      const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === s.uri);
      const d = s.drafts[s.index];
      if (editor && d && d.line < editor.document.lineCount) {
        const key = siteKey(d.old, d.insert, editor.document.lineAt(d.line).text);
        this.penalties.set(key, (this.penalties.get(key) ?? 0) - PENALTY);
      }
    }
    this.shown = null;
    for (const e of vscode.window.visibleTextEditors) e.setDecorations(this.mark, []);
    void vscode.commands.executeCommand('setContext', CONTEXT_KEY, false);
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
