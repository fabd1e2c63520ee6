import * as vscode from 'vscode';

export type UiState = 'loading' | 'ready' | 'thinking' | 'error' | 'disabled' | 'indexing';

/** A request shorter than this never shows the spinner (no flicker on every keystroke). */
const THINKING_DELAY_MS = 250;
/** A new latency figure waits this long, so that the editor paints the ghost text first. */
const LATENCY_DELAY_MS = 300;

/** Status bar item: loading / ready / thinking / error, device and last latency; click opens the quick menu. */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('superdraft.status', vscode.StatusBarAlignment.Right, 100);
  state: UiState = 'loading';
  device = '';
  /** Why this device (asked for, what `auto` found, or the GPU's failure), for the tooltip. */
  deviceWhy = '';
  /** The model in use (an installed model's name, a path, or "embedded"), for the tooltip. */
  model = '';
  /** A model download under way ("45%"), shown next to the name; undefined when none. */
  download: string | undefined;
  latencyMs: number | undefined;
  detail = '';
  /** The state the item shows. */
  private rendered: UiState | undefined;
  private thinkingTimer: ReturnType<typeof setTimeout> | undefined;
  private latencyTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    this.item.name = 'Superdraft';
    this.item.command = 'superdraft.showMenu';
    this.render();
    this.item.show();
  }

  set(state: UiState, detail = ''): void {
    this.state = state;
    this.detail = detail;
    if (state === 'thinking') {
      if (this.rendered !== 'thinking' && !this.thinkingTimer) {
        this.thinkingTimer = setTimeout(() => {
          this.thinkingTimer = undefined;
          if (this.state === 'thinking') this.render();
        }, THINKING_DELAY_MS);
      }
      return;
    }
    if (this.thinkingTimer) clearTimeout(this.thinkingTimer);
    this.thinkingTimer = undefined;
    if (state === 'ready' && this.rendered === 'ready') {
      // Only the latency figure can differ: it is not worth a repaint while the ghost text is being painted.
      this.latencyTimer ??= setTimeout(() => {
        this.latencyTimer = undefined;
        if (this.state === 'ready') this.render();
      }, LATENCY_DELAY_MS);
      return;
    }
    this.render();
  }

  setDownload(text: string | undefined): void {
    if (this.download === text) return;
    this.download = text;
    this.render();
  }

  private render(): void {
    this.rendered = this.state;
    const lat = this.latencyMs !== undefined ? ` ${Math.round(this.latencyMs)} ms` : '';
    const dev = this.device ? ` ${this.device}` : '';
    let icon = '$(sparkle)';
    let tip = 'Superdraft';
    let bg: vscode.ThemeColor | undefined;
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
        tip = `Superdraft: ${this.model ? `${this.model} ` : ''}ready on${dev || ' ?'}${this.deviceWhy ? ` (${this.deviceWhy})` : ''}${lat ? `, last completion${lat}` : ''}`;
        break;
      case 'disabled':
        icon = '$(circle-slash)';
        tip = 'Superdraft: disabled (click to enable)';
        break;
      case 'error':
        icon = '$(error)';
        tip = `Superdraft: ${this.detail || 'error'} (click for actions)`;
        bg = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
    }
    if (this.download) tip = `Superdraft: downloading a model (${this.download}) — ${tip.replace(/^Superdraft: /, '')}`;
    const text = `${icon} Superdraft${this.state === 'error' || this.state === 'disabled' ? '' : dev}${this.state === 'ready' || this.state === 'thinking' ? lat : ''}${this.download ? ` $(cloud-download) ${this.download}` : ''}`;
    // every property set is a message to the workbench: only what changed
    if (this.item.text !== text) this.item.text = text;
    if (this.item.backgroundColor?.id !== bg?.id) this.item.backgroundColor = bg;
    if (this.item.tooltip !== tip) {
      this.item.tooltip = tip;
      this.item.accessibilityInformation = { label: tip };
    }
  }

  dispose(): void {
    if (this.thinkingTimer) clearTimeout(this.thinkingTimer);
    if (this.latencyTimer) clearTimeout(this.latencyTimer);
    this.item.dispose();
  }
}
