/**
 * Superdraft extension entry: wiring only. Each room owns its state; data flows one way, keystroke → context →
 * request (completions/pipeline.ts) → engine (process/client.ts) → drafts → ghost text (inlineProvider.ts) and the
 * draft picker (panel/controller.ts). The status bar, the panel and the prefetch subscribe to the pipeline's events.
 */
import * as vscode from 'vscode';
import { KeystrokeStarter } from './completions/keystroke';
import { CompletionPipeline } from './completions/pipeline';
import { Prefetcher } from './completions/prefetch';
import { Emitter } from './emitter';
import { InlineProvider } from './completions/inlineProvider';
import { Logger } from './logger';
import { PanelController } from './panel/controller';
import { ProcessLifecycle } from './process/lifecycle';
import { DraftSource } from './remote/draftSource';
import { RemoteBackend } from './remote/remoteBackend';
import { SettingsStore } from './settingsStore';
import { CommandCenter } from './ui/commands';
import { ModelCommands } from './ui/modelCommands';
import { watchStatus } from './ui/status';
import { StatusBar } from './ui/statusBar';
import { NextEditController } from './nextEdit/controller';
import { watchWorkspaceIndex } from './workspace/indexing';
import { WorkspaceIndexer } from './workspace/workspaceIndex';

export { Commands } from './ui/commandIds';

interface Instance {
  api: unknown;
  shutdown(): Promise<void>;
  dispose(): void;
}

function wire(ctx: vscode.ExtensionContext): Instance {
  const logger = new Logger();
  const settings = new SettingsStore(logger);
  const status = new StatusBar();
  const indexing = new Emitter<{ running: boolean; detail: string }>();
  // The restart callback runs later, once every room exists.
  const lifecycle = new ProcessLifecycle(ctx, settings, logger, () => {
    pipeline.cache.clear();
    indexer.reset();
  });
  const client = lifecycle.client;
  // superdraft.backend: the local process or a server the user runs (remote/); `source` forwards to the one in use.
  const remote = new RemoteBackend(ctx, settings, logger, (isRemote) => {
    void lifecycle.useBackend(isRemote);
    source.switched();
  });
  lifecycle.remoteRestart = () => void remote.configure();
  const source = new DraftSource(client, remote.engine, () => remote.remote);
  const indexer = new WorkspaceIndexer(client, logger, (running, detail) => indexing.fire({ running, detail }));
  const pipeline = new CompletionPipeline(source, () => settings.current, logger);
  // Answers computed for the old model, settings or process no longer apply (subscribed first: before any room asks).
  const clearCache = [source.onState((s) => s === 'ready' && pipeline.cache.clear()), settings.onDidChange.on(() => pipeline.cache.clear())];
  const prefetch: Prefetcher = new Prefetcher(pipeline, settings, logger);
  const provider = new InlineProvider(pipeline, settings, logger, prefetch);
  const keystroke = new KeystrokeStarter(pipeline, source, settings);
  const panel = new PanelController(ctx.extensionUri, pipeline, provider, source, settings, logger, () => commands.accepted++);
  const commands = new CommandCenter({ settings, logger, status, process: lifecycle, pipeline, provider, panel, indexer });
  const nextEdit = new NextEditController(ctx.extensionUri, settings, logger);
  const models = new ModelCommands(ctx, settings, logger, status, () => client.info?.device);

  const disposables: vscode.Disposable[] = [
    logger,
    status,
    indexer,
    ...clearCache,
    keystroke,
    ...watchWorkspaceIndex(indexer, client, settings),
    ...watchStatus(status, () => lifecycle.modelLabel, source, settings, pipeline, indexer, indexing),
    ...commands.register(),
    ...models.register(),
    ...nextEdit.register(),
    // A plain adapter object: VS Code probes providers for optional hooks, so expose only the stable method.
    vscode.languages.registerInlineCompletionItemProvider(
      { pattern: '**' },
      { provideInlineCompletionItems: (doc, pos, context, token) => provider.provideTimed(doc, pos, context, token) },
    ),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('superdraft')) settings.reload();
    }),
    vscode.workspace.onDidCloseTextDocument((d) => provider.forget(d.uri.toString())),
    lifecycle,
    remote,
    source,
  ];
  void lifecycle.start();

  return {
    api: {
      provideInlineCompletionItems: provider.provideInlineCompletionItems.bind(provider),
      settings,
      pipeline,
      provider,
      panel,
      commands,
      models,
      client,
    },
    async shutdown() {
      panel.shutdown();
      await client.stop();
    },
    dispose() {
      prefetch.dispose();
      panel.dispose();
      for (const d of disposables.splice(0)) d.dispose();
    },
  };
}

let instance: Instance | undefined;

export function activate(context: vscode.ExtensionContext): { superdraft: unknown } {
  instance = wire(context);
  context.subscriptions.push(instance);
  return { superdraft: instance.api };
}

export async function deactivate(): Promise<void> {
  const s = instance;
  instance = undefined;
  await s?.shutdown();
}
