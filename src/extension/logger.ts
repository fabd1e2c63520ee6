import * as vscode from 'vscode';
import type { LogLevel } from './settings';

const ORDER: Record<LogLevel, number> = { off: 0, error: 1, warn: 2, info: 3, debug: 4 };

/** The "Superdraft" Output channel, filtered by `superdraft.logLevel`. */
export class Logger implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('Superdraft');
  level: LogLevel = 'info';

  log(level: Exclude<LogLevel, 'off'>, message: string): void {
    if (ORDER[level] > ORDER[this.level]) return;
    this.channel.appendLine(`${new Date().toISOString()} [${level}] ${message}`);
  }
  enabled(level: Exclude<LogLevel, 'off'>): boolean {
    return ORDER[level] <= ORDER[this.level];
  }
  error(m: string): void { this.log('error', m); }
  warn(m: string): void { this.log('warn', m); }
  info(m: string): void { this.log('info', m); }
  debug(m: string): void { this.log('debug', m); }
  show(): void { this.channel.show(true); }
  dispose(): void { this.channel.dispose(); }
}
