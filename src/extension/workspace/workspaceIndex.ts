/**
 * Workspace n-grams: reads workspace files (files.exclude, search.exclude, nested .gitignore files and
 * .git/info/exclude respected, secrets never, size-limited, binary skipped) and sends them to the inference process
 * in batches, with progress; re-indexes a file on save. Nothing is read in an untrusted workspace. The filtering runs
 * in short slices that yield to the event loop, so a big workspace never freezes the extension host.
 */
import * as vscode from 'vscode';
import type { InferenceClient } from '../process/client';
import type { Logger } from '../logger';
import { looksBinary } from '../completions/context';
import { INDEX_LIMITS, WorkspaceFilter, excludeGlob, filterInSlices, skipByName, type IgnoreSource } from './fileFilter';
import { LIMITS, type NgramFile } from '../../protocol';

/** .gitignore files read per workspace folder (nested ones included). */
const MAX_GITIGNORE_FILES = 500;

export class WorkspaceIndexer implements vscode.Disposable {
  private readonly filters = new Map<string, WorkspaceFilter>(); // workspace folder uri -> its filter
  private readonly indexed = new Set<string>();
  private cts: vscode.CancellationTokenSource | undefined;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  files = 0;
  tokens = 0;
  running = false;

  constructor(
    private readonly client: InferenceClient,
    private readonly logger: Logger,
    private readonly onState: (running: boolean, detail: string) => void,
  ) {}

  pathOf(uri: vscode.Uri): string {
    // Same spelling as CompletionRequest.path, so a saved file replaces its own n-grams.
    return vscode.workspace.asRelativePath(uri);
  }

  private async readText(uri: vscode.Uri): Promise<string | undefined> {
    try {
      const bytes = await vscode.workspace.fs.readFile(uri);
      return bytes.length > INDEX_LIMITS.maxFileBytes ? undefined : this.decoder.decode(bytes);
    } catch {
      return undefined;
    }
  }

  private excludeSettings(): (Record<string, unknown> | undefined)[] {
    return [
      vscode.workspace.getConfiguration('files').get<Record<string, unknown>>('exclude'),
      vscode.workspace.getConfiguration('search').get<Record<string, unknown>>('exclude'),
    ];
  }

  /** Builds each folder's filter: .git/info/exclude, every .gitignore under it, the exclude settings, the secrets list. */
  private async loadFilters(token?: vscode.CancellationToken): Promise<void> {
    this.filters.clear();
    const excludes = this.excludeSettings();
    for (const f of vscode.workspace.workspaceFolders ?? []) {
      const base = f.uri.path.replace(/\/$/, '');
      const gitignores: IgnoreSource[] = [];
      const found = await vscode.workspace.findFiles(new vscode.RelativePattern(f, '**/.gitignore'), excludeGlob(...excludes), MAX_GITIGNORE_FILES, token);
      for (const uri of found) {
        const text = await this.readText(uri);
        if (text === undefined) continue;
        const rel = uri.path.slice(base.length + 1);
        gitignores.push({ dir: rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '', text });
      }
      const infoExclude = await this.readText(vscode.Uri.joinPath(f.uri, '.git', 'info', 'exclude'));
      this.filters.set(f.uri.toString(), new WorkspaceFilter({ gitignores, infoExclude, excludes }));
    }
  }

  /** Whether a file must not be indexed (.gitignore, excludes, secrets), by its folder's filter. */
  private filtered(uri: vscode.Uri): boolean {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    if (!folder) return true;
    let filter = this.filters.get(folder.uri.toString());
    // Before the first full index (a save right after start): at least the secrets and the exclude settings.
    filter ??= new WorkspaceFilter({ excludes: this.excludeSettings() });
    const rel = uri.path.slice(folder.uri.path.replace(/\/$/, '').length + 1);
    return filter.ignores(rel);
  }

  private async read(uri: vscode.Uri): Promise<string | undefined> {
    if (skipByName(uri.path)) return undefined;
    try {
      const st = await vscode.workspace.fs.stat(uri);
      if (st.type & vscode.FileType.Directory || st.size > INDEX_LIMITS.maxFileBytes) return undefined;
      const bytes = await vscode.workspace.fs.readFile(uri);
      if (bytes.subarray(0, 8192).includes(0)) return undefined;
      const text = this.decoder.decode(bytes);
      if (looksBinary(text.slice(0, 8192))) return undefined;
      return text;
    } catch {
      return undefined;
    }
  }

  /** Indexes the whole workspace (cancels a run in progress). Nothing in an untrusted workspace. */
  async indexWorkspace(): Promise<void> {
    this.cts?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    if (!vscode.workspace.workspaceFolders?.length) return;
    if (!vscode.workspace.isTrusted) {
      this.logger.info('workspace n-grams: not indexing an untrusted workspace (trust it to index)');
      return;
    }
    this.running = true;
    this.onState(true, 'finding files');
    const t0 = Date.now();
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Superdraft: indexing workspace', cancellable: false },
        async (progress) => {
          await this.loadFilters(cts.token);
          if (cts.token.isCancellationRequested) return;
          const uris = await vscode.workspace.findFiles('**/*', excludeGlob(...this.excludeSettings()), INDEX_LIMITS.maxFiles * 2, cts.token);
          const kept = await filterInSlices(uris, (u) => !skipByName(u.path) && !this.filtered(u), { cancelled: () => cts.token.isCancellationRequested });
          if (cts.token.isCancellationRequested) return;
          const candidates = kept.slice(0, INDEX_LIMITS.maxFiles);
          let total = 0;
          let batch: NgramFile[] = [];
          let batchChars = 0;
          let done = 0;
          this.files = 0;
          this.tokens = 0;
          const flush = async () => {
            if (!batch.length || cts.token.isCancellationRequested) return;
            const r = await this.client.indexFiles({ files: batch, replace: true }, cts.token);
            for (const f of batch) this.indexed.add(f.path);
            this.files += r.files;
            this.tokens += r.tokens;
            batch = [];
            batchChars = 0;
          };
          for (const uri of candidates) {
            if (cts.token.isCancellationRequested) return;
            const text = await this.read(uri);
            done++;
            if (text === undefined || !text.trim()) continue;
            if (total + text.length > INDEX_LIMITS.maxTotalChars) break;
            const path = this.pathOf(uri);
            if (path.length > LIMITS.maxPathChars || text.length > LIMITS.maxIndexFileChars) continue;
            total += text.length;
            batch.push({ path, text });
            batchChars += text.length;
            if (batch.length >= INDEX_LIMITS.batchFiles || batchChars >= INDEX_LIMITS.batchChars) {
              await flush();
              const msg = `${done}/${candidates.length} files`;
              progress.report({ message: msg });
              this.onState(true, msg);
            }
          }
          await flush();
          this.logger.info(`workspace n-grams: ${this.files} files, ${this.tokens} tokens indexed in ${Date.now() - t0} ms (${candidates.length} candidates)`);
        },
      );
    } catch (err) {
      if (!cts.token.isCancellationRequested) this.logger.warn(`workspace indexing stopped: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      if (this.cts === cts) {
        this.running = false;
        this.onState(false, '');
      }
      cts.dispose();
    }
  }

  /** Re-indexes a saved document (replacing its previous n-grams). */
  async onSave(doc: vscode.TextDocument): Promise<void> {
    if (doc.uri.scheme !== 'file' && doc.uri.scheme !== 'vscode-vfs' && doc.uri.scheme !== 'vscode-remote') return;
    if (!vscode.workspace.isTrusted) return;
    // A changed .gitignore applies to the next saves (and the next full index).
    if (doc.uri.path.endsWith('/.gitignore') && this.filters.size > 0) await this.loadFilters().catch(() => undefined);
    if (!vscode.workspace.getWorkspaceFolder(doc.uri) || skipByName(doc.uri.path) || this.filtered(doc.uri)) return;
    const text = doc.getText();
    if (text.length > INDEX_LIMITS.maxFileBytes || looksBinary(text.slice(0, 8192))) return;
    const path = this.pathOf(doc.uri);
    if (path.length > LIMITS.maxPathChars) return;
    try {
      await this.client.indexFiles({ files: [{ path, text }], replace: true });
      this.indexed.add(path);
      this.logger.debug(`re-indexed ${path}`);
    } catch (err) {
      this.logger.debug(`re-index of ${path} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Removes everything indexed (the setting was turned off): replaces each path with empty text. */
  async clear(): Promise<void> {
    this.cts?.cancel();
    const files = [...this.indexed].map((path) => ({ path, text: '' }));
    this.indexed.clear();
    this.files = 0;
    this.tokens = 0;
    for (let i = 0; i < files.length; i += 500) {
      try {
        await this.client.indexFiles({ files: files.slice(i, i + 500), replace: true });
      } catch {
        return;
      }
    }
  }

  /** Forget what was sent (the process restarted with an empty store). */
  reset(): void {
    this.cts?.cancel();
    this.indexed.clear();
  }

  dispose(): void {
    this.cts?.cancel();
  }
}
