/**
 * Workspace n-grams: reads workspace files (files.exclude, search.exclude and .gitignore respected, size-limited,
 * binary skipped) and sends them to the inference process in batches, with progress; re-indexes a file on save.
 */
import * as vscode from 'vscode';
import type { InferenceClient } from './client';
import type { Logger } from './logger';
import { looksBinary } from './context';
import { GitIgnore, INDEX_LIMITS, excludeGlob, skipByName } from './fileFilter';
import type { NgramFile } from '../protocol';

export class WorkspaceIndexer implements vscode.Disposable {
  private readonly ignores = new Map<string, GitIgnore>(); // workspace folder uri -> .gitignore
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

  private async loadGitIgnores(): Promise<void> {
    this.ignores.clear();
    for (const f of vscode.workspace.workspaceFolders ?? []) {
      try {
        const bytes = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(f.uri, '.gitignore'));
        this.ignores.set(f.uri.toString(), new GitIgnore(this.decoder.decode(bytes)));
      } catch {
        /* no .gitignore */
      }
    }
  }

  private gitIgnored(uri: vscode.Uri): boolean {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    if (!folder) return false;
    const gi = this.ignores.get(folder.uri.toString());
    if (!gi) return false;
    const rel = uri.path.slice(folder.uri.path.replace(/\/$/, '').length + 1);
    return gi.ignores(rel);
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

  /** Indexes the whole workspace (cancels a run in progress). */
  async indexWorkspace(): Promise<void> {
    this.cts?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    if (!vscode.workspace.workspaceFolders?.length) return;
    this.running = true;
    this.onState(true, 'finding files');
    const t0 = Date.now();
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Superdraft: indexing workspace', cancellable: false },
        async (progress) => {
          await this.loadGitIgnores();
          const cfgFiles = vscode.workspace.getConfiguration('files').get<Record<string, unknown>>('exclude');
          const cfgSearch = vscode.workspace.getConfiguration('search').get<Record<string, unknown>>('exclude');
          const uris = await vscode.workspace.findFiles('**/*', excludeGlob(cfgFiles, cfgSearch), INDEX_LIMITS.maxFiles * 2, cts.token);
          const candidates = uris.filter((u) => !skipByName(u.path) && !this.gitIgnored(u)).slice(0, INDEX_LIMITS.maxFiles);
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
            total += text.length;
            batch.push({ path: this.pathOf(uri), text });
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
    if (!vscode.workspace.getWorkspaceFolder(doc.uri) || skipByName(doc.uri.path) || this.gitIgnored(doc.uri)) return;
    const text = doc.getText();
    if (text.length > INDEX_LIMITS.maxFileBytes || looksBinary(text.slice(0, 8192))) return;
    const path = this.pathOf(doc.uri);
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
