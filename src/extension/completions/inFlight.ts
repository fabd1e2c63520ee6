/**
 * The one registry of the requests under way, per document: what a new request for the same position joins instead
 * of starting over, what a prefetch checks before computing a position again, what the panel and the prefetcher ask
 * ("is anything computing drafts for this document?"), the requests a newer one for the same document supersedes,
 * and the background requests a foreground one cancels (the engine runs one request at a time: a prefetch must not
 * delay what the user waits for). No `vscode` import.
 */
import { Emitter } from '../emitter';
import type { TokenLike } from '../process/client';

/** Where drafts belong: the cache key (document, parameters, suffix), the prompt prefix and the cursor offset. */
export interface Position {
  key: string;
  prefix: string;
  offset: number;
}

/** A request under way, which a request for the same position waits for instead of starting over. */
export interface Running extends Position {
  uri: string;
  /** A prefetch: its drafts are read back from the prefix cache (they belong to a position not yet typed). */
  background: boolean;
  /** A later request for the same document that also supersedes cancels this one (REQUEST_KINDS). */
  supersede: boolean;
  /** Its result; undefined when it was cancelled or failed. */
  done: Promise<unknown>;
  /** Cancels it (background requests: a foreground one started). */
  cancel(): void;
}

export class InFlight {
  private readonly byDoc = new Map<string, Set<Running>>();
  /** The last foreground request for this document (uri) ended; none is under way for it any more. */
  readonly onSettled = new Emitter<string>();

  /** Registers `r` until its `done` settles. */
  add(r: Running): void {
    let set = this.byDoc.get(r.uri);
    if (!set) this.byDoc.set(r.uri, (set = new Set()));
    set.add(r);
    void r.done.finally(() => {
      set.delete(r);
      if (set.size === 0) this.byDoc.delete(r.uri);
      if (!r.background && !this.busy(r.uri)) this.onSettled.fire(r.uri);
    });
  }

  /** A request under way for this position (its prompt may start earlier: the prefix window of a prefetch). */
  find(uri: string, at: Position): Running | undefined {
    for (const r of this.byDoc.get(uri) ?? []) if (r.key === at.key && r.offset === at.offset && r.prefix.endsWith(at.prefix)) return r;
    return undefined;
  }

  /** Whether a foreground request (ghost text, keystroke, panel, compare) is computing drafts for this document. */
  busy(uri: string): boolean {
    for (const r of this.byDoc.get(uri) ?? []) if (!r.background) return true;
    return false;
  }

  /** Cancels the superseding requests under way for this document: a newer one replaces them. */
  supersede(uri: string): void {
    for (const r of this.byDoc.get(uri) ?? []) if (r.supersede) r.cancel();
  }

  /** Cancels every background request (in every document). */
  cancelBackground(): void {
    for (const set of this.byDoc.values()) for (const r of set) if (r.background) r.cancel();
  }
}

/** A token cancelled by its parent or by `cancel()`: how the registry cancels a request someone else started. */
export class LinkedToken implements TokenLike {
  private cancelled = false;
  private readonly listeners = new Set<() => void>();
  private readonly parentSub: { dispose(): void };

  constructor(parent: TokenLike) {
    this.parentSub = parent.onCancellationRequested(() => this.cancel());
    if (parent.isCancellationRequested) this.cancelled = true;
  }

  get isCancellationRequested(): boolean {
    return this.cancelled;
  }

  onCancellationRequested(listener: () => void): { dispose(): void } {
    if (this.cancelled) {
      queueMicrotask(listener);
      return { dispose: () => undefined };
    }
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const l of [...this.listeners]) l();
    this.listeners.clear();
  }

  dispose(): void {
    this.parentSub.dispose();
    this.listeners.clear();
  }
}
