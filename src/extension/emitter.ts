/** A tiny typed event emitter for the `vscode`-free rooms (the request pipeline publishes through it). */
export interface Subscription {
  dispose(): void;
}

export class Emitter<T> {
  private readonly listeners = new Set<(e: T) => void>();

  /** Subscribes; listeners run synchronously, in subscription order. */
  on(listener: (e: T) => void): Subscription {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }

  dispose(): void {
    this.listeners.clear();
  }
}
