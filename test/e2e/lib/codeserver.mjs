// A real VS Code (code-server) in a throw-away sandbox: temp HOME/XDG dirs, fresh user-data-dir and
// extensions-dir, a workspace folder, the packaged .vsix installed with `code-server --install-extension`.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODE_SERVER_BIN, NODE24_BIN } from './env.mjs';

/** Settings every e2e run needs: no suggest widget hiding ghost text, nothing that types for us, no first-run UI. */
export const BASE_SETTINGS = {
  'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
  'editor.suggestOnTriggerCharacters': false,
  'editor.wordBasedSuggestions': 'off',
  'editor.inlineSuggest.enabled': true,
  'editor.inlineSuggest.showToolbar': 'always',
  'editor.autoClosingBrackets': 'never',
  'editor.autoClosingQuotes': 'never',
  'editor.autoClosingComments': 'never',
  'editor.autoSurround': 'never',
  'editor.autoIndent': 'none',
  'editor.formatOnType': false,
  'editor.acceptSuggestionOnEnter': 'off',
  'editor.minimap.enabled': false,
  'editor.occurrencesHighlight': 'off',
  'editor.hover.enabled': 'off',
  'editor.parameterHints.enabled': false,
  'editor.lightbulb.enabled': 'off',
  'files.autoSave': 'off',
  'files.insertFinalNewline': false,
  'files.trimTrailingWhitespace': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.editor.enablePreview': false,
  'workbench.editor.revealIfOpen': true,
  // settings.json and other editors open in the active group, not in a modal overlay
  'workbench.editor.useModal': 'off',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'typescript.validate.enable': false,
  'javascript.validate.enable': false,
  'typescript.suggest.enabled': false,
  'python.languageServer': 'None',
};

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class CodeServer {
  constructor({ keep = false } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'sd-e2e-'));
    this.keep = keep;
    this.home = join(this.dir, 'home');
    this.userData = join(this.dir, 'user-data');
    this.extensions = join(this.dir, 'extensions');
    this.workspace = join(this.dir, 'workspace');
    this.logFile = join(this.dir, 'code-server.log');
    for (const d of [this.home, join(this.home, '.config'), join(this.home, '.local', 'share'), join(this.home, '.cache'),
      join(this.userData, 'User'), this.extensions, this.workspace]) mkdirSync(d, { recursive: true });
    this.settingsPath = join(this.userData, 'User', 'settings.json');
    this.proc = undefined;
    this.port = undefined;
  }

  get env() {
    return {
      ...process.env,
      PATH: `${NODE24_BIN}:${process.env.PATH}`,
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      XDG_DATA_HOME: join(this.home, '.local', 'share'),
      XDG_CACHE_HOME: join(this.home, '.cache'),
      VSCODE_CLI_TELEMETRY: 'off',
      // keep the project's npm/electron settings out of the editor's processes
      ELECTRON_RUN_AS_NODE: '',
    };
  }

  get commonArgs() {
    return ['--user-data-dir', this.userData, '--extensions-dir', this.extensions];
  }

  writeSettings(settings) {
    writeFileSync(this.settingsPath, JSON.stringify(settings, null, 2) + '\n');
  }

  readSettings() {
    return JSON.parse(readFileSync(this.settingsPath, 'utf8'));
  }

  /** Installs a .vsix; returns the installed extension folder. */
  installExtension(vsix) {
    const r = spawnSync(CODE_SERVER_BIN, [...this.commonArgs, '--install-extension', vsix, '--force'], {
      env: this.env, encoding: 'utf8', timeout: 180_000,
    });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (r.status !== 0 || !/successfully installed/i.test(out)) {
      throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status}):\n${out.slice(-3000)}`);
    }
    const dirs = readdirSync(this.extensions).filter((d) => statSync(join(this.extensions, d)).isDirectory() && !d.startsWith('.'));
    if (dirs.length === 0) throw new Error(`no extension folder under ${this.extensions} after install:\n${out}`);
    return { output: out.trim(), folders: dirs.map((d) => join(this.extensions, d)) };
  }

  listExtensions() {
    const r = spawnSync(CODE_SERVER_BIN, [...this.commonArgs, '--list-extensions', '--show-versions'], { env: this.env, encoding: 'utf8' });
    return (r.stdout ?? '').split('\n').filter(Boolean);
  }

  async start({ timeoutMs = 90_000 } = {}) {
    this.port = await freePort();
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const args = [
      '--bind-addr', `127.0.0.1:${this.port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--reconnection-grace-time', '5',
      ...(process.env.SUPERDRAFT_E2E_CS_LOG ? ['--log', process.env.SUPERDRAFT_E2E_CS_LOG] : []),
      ...this.commonArgs,
      this.workspace,
    ];
    const t0 = Date.now();
    this.proc = spawn(CODE_SERVER_BIN, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.proc.stdout.pipe(log);
    this.proc.stderr.pipe(log);
    let exited = null;
    this.proc.once('exit', (code, signal) => { exited = { code, signal }; });
    const url = `http://127.0.0.1:${this.port}/healthz`;
    while (Date.now() - t0 < timeoutMs) {
      if (exited) throw new Error(`code-server exited during start (${JSON.stringify(exited)}):\n${this.logTail()}`);
      try {
        const res = await fetch(url);
        if (res.ok) {
          this.startMs = Date.now() - t0;
          return this;
        }
      } catch { /* not listening yet */ }
      await sleep(250);
    }
    throw new Error(`code-server did not answer ${url} within ${timeoutMs} ms:\n${this.logTail()}`);
  }

  get url() {
    return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.workspace)}`;
  }

  /** The code-server log plus the newest extension-host and Superdraft output-channel logs. */
  logTail(lines = 40) {
    const parts = [];
    const tail = (file, n) => {
      try {
        const t = readFileSync(file, 'utf8').split('\n');
        return t.slice(-n).join('\n');
      } catch { return undefined; }
    };
    const cs = tail(this.logFile, Math.ceil(lines / 3));
    if (cs) parts.push(`--- ${this.logFile}\n${cs}`);
    for (const f of this.findLogs(/exthost\.log$/)) {
      const t = tail(f, Math.ceil(lines / 3));
      if (t) parts.push(`--- ${f}\n${t}`);
    }
    for (const f of this.findLogs(/Superdraft\.log$/)) {
      const t = tail(f, lines);
      if (t) parts.push(`--- ${f}\n${t}`);
    }
    return parts.join('\n');
  }

  findLogs(re) {
    const out = [];
    const walk = (d, depth) => {
      if (depth > 6 || !existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p, depth + 1);
        else if (re.test(e.name)) out.push(p);
      }
    };
    walk(join(this.userData, 'logs'), 0);
    return out.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  }

  /** Processes started under this code-server whose command line matches re (e.g. the inference process). */
  findProcesses(re) {
    const r = spawnSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
    const rows = (r.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
      const m = /^(\d+)\s+(\d+)\s+(.*)$/.exec(l);
      return m ? { pid: Number(m[1]), ppid: Number(m[2]), args: m[3] } : undefined;
    }).filter(Boolean);
    const children = new Map();
    for (const row of rows) {
      if (!children.has(row.ppid)) children.set(row.ppid, []);
      children.get(row.ppid).push(row);
    }
    const mine = [];
    const stack = [...(children.get(this.proc?.pid) ?? [])];
    while (stack.length) {
      const p = stack.pop();
      mine.push(p);
      stack.push(...(children.get(p.pid) ?? []));
    }
    return mine.filter((p) => re.test(p.args));
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      // remember every descendant first: once code-server is gone they are re-parented and untraceable
      const descendants = this.findProcesses(/./);
      const done = new Promise((r) => this.proc.once('exit', r));
      try { process.kill(-this.proc.pid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-this.proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await done;
      clearTimeout(t);
      await sleep(500);
      for (const p of descendants) {
        try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    this.proc = undefined;
  }

  cleanup() {
    if (!this.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
