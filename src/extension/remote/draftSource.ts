/**
 * Where drafts come from, as one object for the pipeline (completions/pipeline.ts: CompletionSource) and the rooms that watch
 * the engine's state (status bar, keystroke starter, picker): the local inference process or a remote server,
 * chosen by `superdraft.backend`. Each member forwards to the one in use; a switch fires onState with the new state.
 */
import type { CompletionRequest, CompletionResponse, InitializeResult, ProgressParams } from '../../protocol';
import type { ClientState, InferenceClient, TokenLike } from '../process/client';
import type { RemoteEngine } from './remoteEngine';

/** What the status bar, the keystroke starter and the picker read of the engine (InferenceClient has all of it). */
export interface EngineView {
  readonly state: ClientState;
  readonly stateReason: string | undefined;
  readonly lastError: string | undefined;
  readonly modelLoadFailed: boolean;
  readonly info: InitializeResult | undefined;
  onState(l: (s: ClientState) => void): { dispose(): void };
  onProgress(l: (p: ProgressParams) => void): { dispose(): void };
  ready(): Promise<unknown>;
  complete(req: CompletionRequest, token?: TokenLike): Promise<CompletionResponse>;
}

export class DraftSource implements EngineView {
  private readonly listeners = new Set<(s: ClientState) => void>();
  private readonly subs: { dispose(): void }[];

  constructor(
    private readonly local: InferenceClient,
    private readonly remoteEngine: RemoteEngine,
    /** Whether the remote backend is in use (superdraft.backend is not local). */
    private readonly isRemote: () => boolean,
  ) {
    this.subs = [
      local.onState((s) => !this.isRemote() && this.fire(s)),
      remoteEngine.onState((s) => this.isRemote() && this.fire(s)),
    ];
  }

  private get active(): EngineView {
    return this.isRemote() ? this.remoteEngine : this.local;
  }

  get remote(): boolean {
    return this.isRemote();
  }
  get state(): ClientState {
    return this.active.state;
  }
  get stateReason(): string | undefined {
    return this.active.stateReason;
  }
  get lastError(): string | undefined {
    return this.active.lastError;
  }
  get modelLoadFailed(): boolean {
    return this.active.modelLoadFailed;
  }
  get info(): InitializeResult | undefined {
    return this.active.info;
  }

  onState(l: (s: ClientState) => void): { dispose(): void } {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  }

  onProgress(l: (p: ProgressParams) => void): { dispose(): void } {
    return this.local.onProgress((p) => !this.isRemote() && l(p));
  }

  ready(): Promise<unknown> {
    return this.active.ready();
  }

  complete(req: CompletionRequest, token?: TokenLike): Promise<CompletionResponse> {
    return this.active.complete(req, token);
  }

  /** The backend setting changed: tell the watchers the state of the one now in use. */
  switched(): void {
    this.fire(this.state);
  }

  private fire(s: ClientState): void {
    for (const l of [...this.listeners]) l(s);
  }

  dispose(): void {
    for (const s of this.subs.splice(0)) s.dispose();
    this.listeners.clear();
  }
}
