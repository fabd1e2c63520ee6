/**
 * The draft picker's controller: opens and restores the panel, shows the drafts at the cursor (those the inline
 * provider shows, or its own panel request), runs "Compare strategies" and inserts a picked draft. It subscribes to
 * the pipeline's request events and the provider's drafts; nothing in the request path calls it.
 */
import * as vscode from 'vscode';
import type { CompletionPipeline, Result } from '../completions/pipeline';
import { docInput, eligible } from '../completions/documents';
import type { InlineProvider } from '../completions/inlineProvider';
import type { Logger } from '../logger';
import type { EngineView } from '../remote/draftSource';
import { needsRestart } from '../settings';
import type { SettingsStore } from '../settingsStore';
import { DraftPanel, PANEL_VIEW_TYPE, type PanelHost } from './panel';
import { panelDrafts, type PanelGroup, type PanelView } from './panelHtml';
import { STRATEGIES } from '../../protocol';

export class PanelController implements PanelHost, vscode.Disposable {
  private panel: DraftPanel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private cts: vscode.CancellationTokenSource | undefined;
  private viewSeq = 0;
  private lastEditor: vscode.TextEditor | undefined = vscode.window.activeTextEditor;
  /** A comparison is on show: cursor moves do not replace it. */
  private compareActive = false;
  /** The document whose requests under way the panel waits for (their drafts come through onDraftsShown). */
  private waitingFor: string | undefined;
  private disposing = false;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly pipeline: CompletionPipeline,
    private readonly provider: InlineProvider,
    private readonly client: EngineView,
    private readonly settings: SettingsStore,
    private readonly logger: Logger,
    /** A draft was inserted from the panel. */
    private readonly onInserted: () => void,
  ) {
    this.disposables = [
      pipeline.onRequest.on((e) => {
        if (e.phase === 'start') this.panel?.status('thinking');
        else if (e.phase === 'done') this.panel?.status('ready');
        else if (e.phase === 'cancelled') this.panel?.status('idle');
        else if (e.phase === 'failed') this.panel?.status('error', e.message);
      }),
      provider.onDraftsShown.on(({ doc, pos, result, newList }) => {
        if (this.waitingFor === doc.uri.toString()) this.waitingFor = undefined;
        if (newList) this.panel?.shown(result.drafts[0]!.strategy, 1);
        if (this.panel?.visible && !this.compareActive) this.showDrafts(doc, pos, result);
      }),
      pipeline.inFlight.onSettled.on((uri) => {
        if (this.waitingFor !== uri) return;
        this.waitingFor = undefined;
        this.schedule(0);
      }),
      client.onState(() => this.schedule(0)),
      settings.onDidChange.on((prev) => {
        const s = settings.current;
        if (prev.enable !== s.enable && !s.enable) this.panel?.status('disabled', 'Superdraft is disabled');
        if (!needsRestart(prev, s)) this.schedule(0); // a restart updates it through the client's state

      }),
      vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
          panel.webview.options = DraftPanel.options(extensionUri);
          this.panel?.dispose();
          this.attach(new DraftPanel(panel, extensionUri, this));
        },
      }),
      vscode.window.onDidChangeActiveTextEditor((ed) => {
        if (ed) {
          this.lastEditor = ed;
          this.compareActive = false;
          this.schedule();
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor.document.uri.scheme === 'output') return;
        this.lastEditor = e.textEditor;
        if (this.compareActive) this.compareActive = false;
        this.schedule();
      }),
    ];
  }

  open(focus = true): DraftPanel {
    const ed = this.activeEditor();
    const column = ed?.viewColumn !== undefined ? ((ed.viewColumn + 1) as vscode.ViewColumn) : vscode.ViewColumn.Beside;
    if (this.panel) {
      this.panel.reveal(this.panel.panel.viewColumn ?? column, !focus);
    } else {
      this.attach(DraftPanel.create(this.extensionUri, this, vscode.ViewColumn.Beside, !focus));
    }
    this.compareActive = false;
    this.schedule(0);
    return this.panel!;
  }

  /** Highlights the draft the ghost text shows (cycling). */
  highlight(strategy: string, rank: number): void {
    this.panel?.shown(strategy, rank);
  }

  private attach(panel: DraftPanel): void {
    this.panel = panel;
    panel.onDidDispose = () => {
      if (this.panel === panel) this.panel = undefined;
      this.cts?.cancel();
      void vscode.commands.executeCommand('setContext', 'superdraft.draftPickerOpen', false);
      const ed = this.lastEditor;
      if (!this.disposing && ed && !ed.document.isClosed) void vscode.window.showTextDocument(ed.document, ed.viewColumn);
    };
    void vscode.commands.executeCommand('setContext', 'superdraft.draftPickerOpen', true);
  }

  refresh(): void {
    if (this.panel?.view) this.panel.showView(this.panel.view);
    this.schedule(0);
  }

  private schedule(ms = 120): void {
    if (!this.panel?.visible || this.compareActive) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.update();
    }, ms);
  }

  private async update(): Promise<void> {
    const panel = this.panel;
    if (!panel?.visible || this.compareActive) return;
    const s = this.settings.current;
    if (!s.enable) return panel.status('disabled', 'Superdraft is disabled');
    if (this.client.state === 'error') return panel.status('error', this.client.lastError ?? 'inference process stopped');
    if (this.client.state !== 'ready') return panel.status('thinking', 'loading model…');
    const ed = this.activeEditor();
    if (!ed || !eligible(ed.document, s)) return panel.status('idle', ed ? 'not enabled for this file' : 'no editor');
    const doc = ed.document;
    const pos = ed.selection.active;
    // The provider already computed drafts here: reuse them.
    const shown = this.provider.shownAt(doc, doc.offsetAt(pos));
    if (shown) return this.showDrafts(doc, pos, shown);
    if (this.pipeline.inFlight.busy(doc.uri.toString())) {
      // Drafts for this document are being computed (ghost text, or a request started on the keystroke): the
      // provider's result (onDraftsShown) or the end of the requests under way (inFlight.onSettled) updates the panel.
      this.waitingFor = doc.uri.toString();
      return;
    }
    this.cts?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    try {
      const res = await this.pipeline.draftsAt(docInput(doc, pos), { kind: 'panel' }, cts.token);
      if (res && !cts.token.isCancellationRequested && this.panel === panel) this.showDrafts(doc, pos, res);
    } catch (err) {
      panel.status('error', err instanceof Error ? err.message : String(err));
    } finally {
      cts.dispose();
      if (this.cts === cts) this.cts = undefined;
    }
  }

  async compareStrategies(): Promise<PanelView | undefined> {
    const ed = this.activeEditor();
    if (!ed) {
      void vscode.window.showInformationMessage('Superdraft: open a file and place the cursor to compare strategies.');
      return undefined;
    }
    try {
      await this.client.ready();
    } catch (e) {
      void vscode.window.showErrorMessage(`Superdraft: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
    const panel = this.open(false);
    this.compareActive = true;
    this.cts?.cancel();
    const doc = ed.document;
    const pos = ed.selection.active;
    const groups: PanelGroup[] = STRATEGIES.map((strategy) => ({ strategy, drafts: [] }));
    const view = this.makeView('compare', doc, pos, groups);
    panel.showView(view);
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    for (const g of groups) {
      if (cts.token.isCancellationRequested || this.panel !== panel) break;
      panel.status('thinking', `running ${g.strategy}…`);
      try {
        const res = await this.pipeline.draftsAt(docInput(doc, pos), { kind: 'compare', strategy: g.strategy }, cts.token);
        if (res) {
          g.ms = res.ms;
          g.timing = res.timing;
          g.drafts = panelDrafts(res.drafts, pos.line);
        }
      } catch (err) {
        g.error = err instanceof Error ? err.message : String(err);
      }
      panel.showView({ ...view, groups: groups.map((x) => ({ ...x })) });
    }
    panel.status('ready', 'comparison done');
    this.logger.info(`compare at ${view.file}:${view.line}:${view.column}: ${groups.map((g) => `${g.strategy} ${g.ms?.toFixed(0) ?? '-'} ms`).join(', ')}`);
    return panel.view;
  }

  insert(viewId: number, strategy: string, rank: number): void {
    const view = this.panel?.view;
    if (!view || view.id !== viewId) {
      this.logger.debug(`ignored insert from a stale panel view ${viewId}`);
      return;
    }
    const draft = view.groups.find((g) => g.strategy === strategy)?.drafts.find((d) => d.rank === rank);
    const ed = this.activeEditor();
    if (!draft || !ed) return;
    void (async () => {
      const ok = await ed.edit((b) => {
        if (ed.selection.isEmpty) b.insert(ed.selection.active, draft.text);
        else b.replace(ed.selection, draft.text);
      });
      if (!ok) {
        void vscode.window.showWarningMessage('Superdraft: the draft could not be inserted (is the editor read-only?).');
        return;
      }
      this.onInserted();
      this.logger.info(`inserted draft #${rank} (${strategy}) from the panel`);
      this.compareActive = false;
      await vscode.window.showTextDocument(ed.document, ed.viewColumn, false);
    })();
  }

  log(message: string): void {
    this.logger.debug(message);
  }

  private showDrafts(doc: vscode.TextDocument, pos: vscode.Position, res: Result): void {
    const group: PanelGroup = {
      strategy: res.strategy,
      ms: res.source === 'cache' ? undefined : res.ms,
      cached: res.source === 'cache',
      timing: res.timing,
      drafts: panelDrafts(res.drafts, pos.line),
    };
    this.panel?.showView(this.makeView('drafts', doc, pos, [group]));
  }

  private makeView(mode: PanelView['mode'], doc: vscode.TextDocument, pos: vscode.Position, groups: PanelGroup[]): PanelView {
    return {
      id: ++this.viewSeq,
      mode,
      file: vscode.workspace.asRelativePath(doc.uri),
      line: pos.line + 1,
      column: pos.character + 1,
      languageId: doc.languageId,
      groups,
    };
  }

  private activeEditor(): vscode.TextEditor | undefined {
    const ed = vscode.window.activeTextEditor ?? this.lastEditor;
    if (ed && !ed.document.isClosed) return ed;
    return undefined;
  }

  /** Stops the panel's own work before the process stops. */
  shutdown(): void {
    if (this.timer) clearTimeout(this.timer);
    this.cts?.cancel();
  }

  dispose(): void {
    this.disposing = true;
    this.panel?.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
