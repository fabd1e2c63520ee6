/** The commands (ids also listed in package.json), the quick menu, the strategy picker and the diagnostics report. */
import * as vscode from 'vscode';
import type { CompletionPipeline } from '../completions/pipeline';
import type { InlineProvider } from '../completions/inlineProvider';
import type { Logger } from '../logger';
import type { PanelController } from '../panel/controller';
import type { ProcessLifecycle } from '../process/lifecycle';
import type { SettingsStore } from '../settingsStore';
import type { WorkspaceIndexer } from '../workspace/workspaceIndex';
import { Commands } from './commandIds';
import type { StatusBar } from './statusBar';
import { STRATEGIES, type StrategyName } from '../../protocol';


export interface Rooms {
  settings: SettingsStore;
  logger: Logger;
  status: StatusBar;
  process: ProcessLifecycle;
  pipeline: CompletionPipeline;
  provider: InlineProvider;
  panel: PanelController;
  indexer: WorkspaceIndexer;
}

export class CommandCenter {
  /** Drafts accepted (ghost text) or inserted (panel). */
  accepted = 0;

  constructor(private readonly r: Rooms) {}

  register(): vscode.Disposable[] {
    const r = this.r;
    const reg = (id: string, fn: (...a: any[]) => unknown) => vscode.commands.registerCommand(id, fn);
    return [
      reg(Commands.enable, () => this.setEnabled(true)),
      reg(Commands.disable, () => this.setEnabled(false)),
      reg(Commands.toggle, () => this.setEnabled(!r.settings.current.enable)),
      reg(Commands.chooseStrategy, () => this.chooseStrategy()),
      reg(Commands.openDraftPicker, () => {
        r.panel.open(true);
      }),
      reg(Commands.compareStrategies, () => r.panel.compareStrategies()),
      reg(Commands.restart, () => r.process.restart()),
      reg(Commands.diagnostics, (open?: boolean) => this.diagnostics(open !== false)),
      reg(Commands.showMenu, () => this.showMenu()),
      reg(Commands.showLog, () => r.logger.show()),
      reg(Commands.showNext, () => this.cycle(1)),
      reg(Commands.showPrevious, () => this.cycle(-1)),
      reg(Commands.accepted, (info: { listId: number; rank: number; strategy: StrategyName } | undefined) => {
        this.accepted++;
        r.logger.info(`accepted ghost-text draft #${info?.rank ?? '?'} (${info?.strategy ?? '?'})`);
      }),
      reg(Commands.reindex, () => r.indexer.indexWorkspace()),
    ];
  }

  private async setEnabled(on: boolean): Promise<void> {
    await vscode.workspace.getConfiguration('superdraft').update('enable', on, vscode.ConfigurationTarget.Global);
  }

  private async cycle(dir: 1 | -1): Promise<number> {
    const { index, draft } = await this.r.provider.cycleShown(dir);
    if (draft) this.r.panel.highlight(draft.strategy, draft.rank);
    return index;
  }

  async chooseStrategy(): Promise<StrategyName | undefined> {
    const client = this.r.process.client;
    const items = STRATEGIES.map((s) => {
      const lat = client.latency.get(s);
      return {
        label: s,
        description: s === this.r.settings.current.strategy ? '(current)' : '',
        detail: lat !== undefined ? `last completion ${Math.round(lat)} ms` : 'not measured yet',
        strategy: s,
      };
    });
    const pick = await vscode.window.showQuickPick(items, { title: 'Superdraft: decoding strategy', placeHolder: 'Choose how drafts are decoded' });
    if (!pick) return undefined;
    const cfg = vscode.workspace.getConfiguration('superdraft');
    const insp = cfg.inspect('strategy');
    const target = insp?.workspaceFolderValue !== undefined || insp?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await cfg.update('strategy', pick.strategy, target);
    return pick.strategy;
  }

  async diagnostics(open = true): Promise<Record<string, unknown>> {
    const { process, pipeline, provider, indexer, settings } = this.r;
    const client = process.client;
    let server: unknown;
    try {
      server = await client.diagnostics();
    } catch (e) {
      server = { error: e instanceof Error ? e.message : String(e) };
    }
    const report = {
      state: client.state,
      lastError: client.lastError ?? null,
      pid: client.pid ?? null,
      initialize: client.info ?? null,
      server,
      client: {
        requests: client.requests,
        cancelled: client.cancelled,
        restarts: client.restarts,
        providerCalls: provider.calls,
        joinedKeystrokeRequests: pipeline.joins,
        accepted: this.accepted,
        latencyMs: Object.fromEntries([...client.latency].map(([k, v]) => [k, Math.round(v)])),
        hostWorkMs: pipeline.hostStats(),
        prefixCache: { entries: pipeline.cache.size, hits: pipeline.cache.hits, misses: pipeline.cache.misses },
        workspaceNgrams: { enabled: settings.current.workspaceNgrams, files: indexer.files, tokens: indexer.tokens, indexing: indexer.running },
      },
      device: {
        asked: settings.current.device,
        running: client.info?.device ?? null,
        why: client.info?.deviceReason ?? null,
        gpuFailure: client.info?.gpuFailure ?? client.gpuFallback ?? null,
      },
      model: { in_use: process.modelLabel, path: process.resolveModelPath() || '(embedded)', loaded: client.info?.model ?? null },
      settings: settings.current,
    };
    if (open) {
      const doc = await vscode.workspace.openTextDocument({ language: 'json', content: JSON.stringify(report, null, 2) });
      await vscode.window.showTextDocument(doc, { preview: true });
    }
    return report;
  }

  async showMenu(): Promise<void> {
    type Item = vscode.QuickPickItem & { run: () => unknown };
    const { settings, panel, process, logger, status } = this.r;
    const s = settings.current;
    const items: Item[] = [
      { label: s.enable ? '$(circle-slash) Disable completions' : '$(check) Enable completions', run: () => this.setEnabled(!s.enable) },
      { label: '$(settings) Choose strategy…', description: s.strategy, run: () => this.chooseStrategy() },
      { label: '$(list-unordered) Open draft picker', run: () => panel.open(true) },
      { label: '$(split-horizontal) Compare strategies at cursor', run: () => panel.compareStrategies() },
      { label: '$(package) Manage models…', description: process.modelLabel, run: () => vscode.commands.executeCommand(Commands.manageModels) },
      { label: '$(cloud-download) Install model…', run: () => vscode.commands.executeCommand(Commands.installModel) },
      { label: '$(debug-restart) Restart inference process', run: () => process.restart() },
      { label: '$(pulse) Show diagnostics', run: () => this.diagnostics(true) },
      { label: '$(output) Show log', run: () => logger.show() },
      { label: '$(gear) Open settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:superdraft.superdraft') },
    ];
    const client = process.client;
    const title = `Superdraft — ${client.state}${client.info ? ` on ${client.info.device}` : ''}${status.latencyMs !== undefined ? `, last ${Math.round(status.latencyMs)} ms` : ''}`;
    const pick = await vscode.window.showQuickPick(items, { title });
    if (pick) await pick.run();
  }
}
