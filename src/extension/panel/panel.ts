/** Draft-picker webview panel (host side). The page is media/panel.js + media/highlight.js + media/panel.css. */
import * as vscode from 'vscode';
import { buildPanelHtml, describeMessage, makeNonce, type HostToPanel, type PanelStatus, type PanelToHost, type PanelView } from './panelHtml';

export const PANEL_VIEW_TYPE = 'superdraft.draftPicker';

export interface PanelHost {
  /** Called when the webview is ready (handshake) or becomes visible: the host sends the current view. */
  refresh(): void;
  insert(viewId: number, strategy: string, rank: number): void;
  log(message: string): void;
}

export class DraftPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private pending: HostToPanel[] = [];
  private disposed = false;
  view: PanelView | undefined;
  onDidDispose: (() => void) | undefined;

  static create(extensionUri: vscode.Uri, host: PanelHost, column: vscode.ViewColumn, preserveFocus: boolean): DraftPanel {
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, 'Superdraft Drafts', { viewColumn: column, preserveFocus }, DraftPanel.options(extensionUri));
    return new DraftPanel(panel, extensionUri, host);
  }

  static options(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      retainContextWhenHidden: false,
      enableFindWidget: false,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')],
    };
  }

  constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly host: PanelHost,
  ) {
    const w = panel.webview;
    w.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')] };
    const media = (f: string) => w.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', f)).toString();
    w.html = buildPanelHtml({
      cspSource: w.cspSource,
      nonce: makeNonce(),
      scriptUri: media('panel.js'),
      highlightUri: media('highlight.js'),
      styleUri: media('panel.css'),
    });
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
    this.disposables.push(
      w.onDidReceiveMessage((m: PanelToHost) => this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState((e) => {
        if (e.webviewPanel.visible) this.host.refresh();
      }),
    );
  }

  get visible(): boolean {
    return !this.disposed && this.panel.visible;
  }

  private onMessage(m: PanelToHost): void {
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        for (const p of this.pending.splice(0)) void this.panel.webview.postMessage(p);
        this.host.refresh();
        break;
      case 'insert':
        if (typeof m.viewId === 'number' && typeof m.rank === 'number' && typeof m.strategy === 'string') this.host.insert(m.viewId, m.strategy, m.rank);
        break;
      case 'close':
        this.panel.dispose();
        break;
      default:
        this.host.log(`unknown panel message ${describeMessage(m)}`);
    }
  }

  private post(msg: HostToPanel): void {
    if (this.disposed) return;
    if (!this.ready) {
      // Keep only the latest of each type until the handshake.
      this.pending = this.pending.filter((p) => p.type !== msg.type);
      this.pending.push(msg);
      return;
    }
    void this.panel.webview.postMessage(msg);
  }

  showView(view: PanelView): void {
    this.view = view;
    this.post({ type: 'view', view });
  }

  status(status: PanelStatus, message?: string): void {
    this.post({ type: 'status', status, message });
  }

  shown(strategy: string, rank: number): void {
    this.post({ type: 'shown', strategy: strategy as never, rank });
  }

  reveal(column: vscode.ViewColumn, preserveFocus: boolean): void {
    this.panel.reveal(column, preserveFocus);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.onDidDispose?.();
  }
}
