/**
 * The remote backend in VS Code: the RemoteEngine configured from `superdraft.backend`, `superdraft.endpoint`,
 * `superdraft.remoteModel`, `superdraft.remoteFim` and the API key in VS Code's secret storage (**Superdraft: Set API
 * Key**), reconfigured when any of them changes; at most one notification per cause of failure, naming the setting.
 * The key is never logged: it goes from the secret storage into the Authorization header only.
 */
import * as vscode from 'vscode';
import type { Logger } from '../logger';
import { remoteChanged } from '../settings';
import type { SettingsStore } from '../settingsStore';
import { Commands } from '../ui/commandIds';
import type { RemoteError } from '../../remote/errors';
import { RemoteEngine } from './remoteEngine';

/** SecretStorage key of the API key. */
export const API_KEY_SECRET = 'superdraft.apiKey';

export class RemoteBackend implements vscode.Disposable {
  readonly engine: RemoteEngine;
  private readonly disposables: vscode.Disposable[];
  private generation = 0;

  constructor(
    private readonly ctx: vscode.ExtensionContext,
    private readonly settings: SettingsStore,
    private readonly logger: Logger,
    /** After the backend setting changed (the caller starts or stops the local process). */
    private readonly onBackendChange: (remote: boolean) => void,
  ) {
    this.engine = new RemoteEngine({ log: (level, m) => logger.log(level, m), onProblem: (e) => this.report(e) });
    this.disposables = [
      settings.onDidChange.on((prev) => {
        if (!remoteChanged(prev, settings.current)) return;
        const wasRemote = prev.backend !== 'local';
        void this.configure();
        if (wasRemote !== this.remote || prev.backend !== settings.current.backend) this.onBackendChange(this.remote);
      }),
      ctx.secrets.onDidChange((e) => {
        if (e.key === API_KEY_SECRET) void this.configure();
      }),
      vscode.commands.registerCommand(Commands.setApiKey, () => this.setApiKey()),
    ];
    void this.configure();
  }

  get remote(): boolean {
    return this.settings.current.backend !== 'local';
  }

  /** Reads the settings and the key and gives the engine its server (none with the local backend). */
  async configure(): Promise<void> {
    const g = ++this.generation;
    const s = this.settings.current;
    if (s.backend === 'local') {
      this.engine.configure(undefined);
      return;
    }
    const apiKey = (await this.ctx.secrets.get(API_KEY_SECRET)) || undefined;
    if (g !== this.generation) return;
    this.engine.configure({ backend: s.backend, endpoint: s.endpoint, model: s.remoteModel, fim: s.remoteFim, ...(apiKey ? { apiKey } : {}) });
    this.logger.info(`drafts from ${s.backend} at ${this.engine.info?.device ?? s.endpoint} (model ${s.remoteModel || 'the server\'s'}; API key ${apiKey ? 'set' : 'not set'})`);
  }

  private report(e: RemoteError): void {
    const actions = e.code === 'auth' ? ['Set API Key', 'Open Settings'] : ['Open Settings', 'Show Log'];
    void vscode.window.showErrorMessage(`Superdraft (${this.settings.current.backend}): ${e.message}`, ...actions).then((a) => {
      if (a === 'Set API Key') void this.setApiKey();
      else if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', e.setting ?? 'superdraft.backend');
      else if (a === 'Show Log') this.logger.show();
    });
  }

  private async setApiKey(): Promise<void> {
    const key = await vscode.window.showInputBox({
      title: 'Superdraft: API key of the completion server',
      prompt: 'Sent as "Authorization: Bearer …" to superdraft.endpoint; kept in VS Code\'s secret storage. Empty removes it.',
      password: true,
      ignoreFocusOut: true,
    });
    if (key === undefined) return;
    if (key.trim()) await this.ctx.secrets.store(API_KEY_SECRET, key.trim());
    else await this.ctx.secrets.delete(API_KEY_SECRET);
    void vscode.window.showInformationMessage(key.trim() ? 'Superdraft: API key saved.' : 'Superdraft: API key removed.');
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    this.engine.stop();
  }
}
