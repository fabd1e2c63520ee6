import * as vscode from 'vscode';

export type UiState = 'loading' | 'ready' | 'thinking' | 'error' | 'disabled' | 'indexing';

/** Status bar item: loading / ready / thinking / error, device and last latency; click opens the quick menu. */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('superdraft.status', vscode.StatusBarAlignment.Right, 100);
  state: UiState = 'loading';
  device = '';
  latencyMs: number | undefined;
  detail = '';

  constructor() {
    this.item.name = 'Superdraft';
    this.item.command = 'superdraft.showMenu';
    this.render();
    this.item.show();
  }

  set(state: UiState, detail = ''): void {
    this.state = state;
    this.detail = detail;
    this.render();
  }

  private render(): void {
    const lat = this.latencyMs !== undefined ? ` ${Math.round(this.latencyMs)} ms` : '';
    const dev = this.device ? ` ${this.device}` : '';
    let icon = '$(sparkle)';
    let tip = 'Superdraft';
    this.item.backgroundColor = undefined;
    switch (this.state) {
      case 'loading':
        icon = '$(loading~spin)';
        tip = `Superdraft: loading the model${this.detail ? ` — ${this.detail}` : ''}`;
        break;
      case 'indexing':
        icon = '$(loading~spin)';
        tip = `Superdraft: indexing workspace n-grams${this.detail ? ` — ${this.detail}` : ''}`;
        break;
      case 'thinking':
        icon = '$(sync~spin)';
        tip = 'Superdraft: computing drafts';
        break;
      case 'ready':
        tip = `Superdraft: ready on${dev || ' ?'}${lat ? `, last completion${lat}` : ''}`;
        break;
      case 'disabled':
        icon = '$(circle-slash)';
        tip = 'Superdraft: disabled (click to enable)';
        break;
      case 'error':
        icon = '$(error)';
        tip = `Superdraft: ${this.detail || 'error'} (click for actions)`;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
    }
    this.item.text = `${icon} Superdraft${this.state === 'error' || this.state === 'disabled' ? '' : dev}${this.state === 'ready' || this.state === 'thinking' ? lat : ''}`;
    this.item.tooltip = tip;
    this.item.accessibilityInformation = { label: tip };
  }

  dispose(): void {
    this.item.dispose();
  }
}
