/**
 * startOnKeystroke: VS Code asks inline providers about 50 ms after a keystroke (its fixed debounce for automatic
 * requests; a stable-API provider cannot shorten it). Starting the same request on the keystroke itself, from the
 * document and selection events that reach the extension host a few ms after it, lets the engine use that wait:
 * the provider then joins the request under way (or finds its drafts in the cache). The next edit of the document
 * cancels it, as VS Code cancels the provider; so does any other request for the document (supersede).
 * The VS Code event side of the pipeline (it reads editor events, so it imports `vscode`).
 */
import * as vscode from 'vscode';
import { docInput, eligible } from './documents';
import type { EngineView } from '../remote/draftSource';
import type { SettingsStore } from '../settingsStore';
import type { CompletionPipeline } from './pipeline';

export class KeystrokeStarter implements vscode.Disposable {
  /** The latest keystroke's edit, until the selection change that follows it starts a request. */
  private pendingEdit: { doc: vscode.TextDocument; version: number; at: number } | undefined;
  /** The request started by the latest keystroke; the next edit of its document cancels it. */
  private keystrokeCts: { uri: string; cts: vscode.CancellationTokenSource } | undefined;
  /** `editor.inlineSuggest.enabled` per language id (VS Code asks no provider where it is off). */
  private readonly inlineSuggestEnabled = new Map<string, boolean>();
  /** When the active editor's document last changed (typing while the model loads gets drafts once ready). */
  private lastEditAt = 0;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly pipeline: CompletionPipeline,
    private readonly client: EngineView,
    private readonly settings: SettingsStore,
  ) {
    this.disposables = [
      vscode.workspace.onDidChangeTextDocument((e) => this.onEdit(e)),
      vscode.window.onDidChangeTextEditorSelection((e) => this.onSelection(e)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('editor.inlineSuggest.enabled')) this.inlineSuggestEnabled.clear();
      }),
      client.onState((s) => {
        const ed = vscode.window.activeTextEditor;
        if (s === 'ready' && ed && eligible(ed.document, settings.current) && Date.now() - this.lastEditAt < 15_000) {
          // The user typed while the model was loading: ask for ghost text at the cursor now.
          void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
        }
      }),
    ];
  }

  private onEdit(e: vscode.TextDocumentChangeEvent): void {
    if (!e.contentChanges.length) return;
    const uri = e.document.uri.toString();
    if (this.keystrokeCts?.uri === uri) {
      this.keystrokeCts.cts.cancel();
      this.keystrokeCts = undefined;
    }
    if (e.document !== vscode.window.activeTextEditor?.document) return;
    this.lastEditAt = Date.now();
    // Undo and redo: VS Code does not trigger inline suggestions for them.
    this.pendingEdit = this.settings.current.startOnKeystroke && e.reason === undefined ? { doc: e.document, version: e.document.version, at: performance.now() } : undefined;
  }

  private onSelection(e: vscode.TextEditorSelectionChangeEvent): void {
    const edit = this.pendingEdit;
    if (!edit || e.textEditor.document !== edit.doc) return;
    this.pendingEdit = undefined;
    const doc = edit.doc;
    // The cursor moved by the edit itself (the events arrive together), not by a later click or arrow key.
    if (doc.version !== edit.version || performance.now() - edit.at > 100 || e.textEditor !== vscode.window.activeTextEditor) return;
    // One empty cursor (the provider's position); with several, VS Code still asks, and the provider does it then.
    if (e.selections.length !== 1 || !e.selections[0]!.isEmpty) return;
    if (!eligible(doc, this.settings.current) || this.client.state !== 'ready' || !this.inlineSuggestOn(doc.languageId)) return;
    const cts = new vscode.CancellationTokenSource();
    this.keystrokeCts = { uri: doc.uri.toString(), cts };
    this.pipeline
      .draftsAt(docInput(doc, e.selections[0]!.active), { kind: 'keystroke', automatic: true }, cts.token)
      .catch(() => undefined)
      .finally(() => {
        if (this.keystrokeCts?.cts === cts) this.keystrokeCts = undefined;
        cts.dispose();
      });
  }

  private inlineSuggestOn(languageId: string): boolean {
    let on = this.inlineSuggestEnabled.get(languageId);
    if (on === undefined) {
      on = vscode.workspace.getConfiguration('editor.inlineSuggest', { languageId }).get<boolean>('enabled') !== false;
      this.inlineSuggestEnabled.set(languageId, on);
    }
    return on;
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
