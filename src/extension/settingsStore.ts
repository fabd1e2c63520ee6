/** The current `superdraft.*` settings, read through VS Code; invalid values are reported once each. */
import * as vscode from 'vscode';
import { Emitter } from './emitter';
import type { Logger } from './logger';
import { DEFAULT_SETTINGS, parseSettings, type Settings } from './settings';

export class SettingsStore {
  current: Settings = { ...DEFAULT_SETTINGS };
  /** After a configuration change, with the previous settings. */
  readonly onDidChange = new Emitter<Settings>();
  private readonly reported = new Set<string>();

  constructor(private readonly logger: Logger) {
    this.read(false);
  }

  /** Re-reads `superdraft.*` after a configuration change and publishes it. */
  reload(): void {
    const prev = this.read(true);
    this.onDidChange.fire(prev);
  }

  private read(report: boolean): Settings {
    const prev = this.current;
    const cfg = vscode.workspace.getConfiguration('superdraft');
    const { settings, problems } = parseSettings((k) => cfg.get(k));
    this.current = settings;
    this.logger.level = settings.logLevel;
    for (const p of problems) {
      this.logger.warn(p.message);
      if (report && !this.reported.has(p.message)) {
        this.reported.add(p.message);
        void vscode.window.showWarningMessage(`Superdraft: ${p.message}`, 'Open Settings').then((a) => {
          if (a) void vscode.commands.executeCommand('workbench.action.openSettings', p.key);
        });
      }
    }
    if (!report) for (const p of problems) this.reported.add(p.message);
    return prev;
  }
}
