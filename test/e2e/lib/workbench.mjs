// Drives the VS Code workbench in Debian's chromium through playwright-core.
import { chromium } from 'playwright-core';
import { chromiumPath } from './env.mjs';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Installed in every page before VS Code loads: timestamps of keystrokes and of ghost-text appearance. */
function instrumentPage() {
  const w = window;
  if (w !== w.top) return; // only the workbench page, not webview frames
  w.__sd = { keys: [], ghost: [], status: [], loadedAt: Date.now() };
  document.addEventListener('keydown', (e) => {
    w.__sd.keys.push({ t: performance.now(), key: e.key });
    if (w.__sd.keys.length > 4000) w.__sd.keys.splice(0, 2000);
  }, true);
  const ghostText = () => {
    const spans = document.querySelectorAll('.monaco-editor.focused .ghost-text-decoration, .monaco-editor.focused .ghost-text-decoration-preview, .monaco-editor.focused .ghost-text');
    let s = '';
    for (const el of spans) s += el.textContent;
    return s;
  };
  const superdraftStatus = () => {
    for (const el of document.querySelectorAll('.statusbar-item')) {
      const label = el.getAttribute('aria-label') ?? '';
      const text = el.textContent?.trim() ?? '';
      if (/superdraft/i.test(label) || /superdraft/i.test(text)) {
        const icon = [...el.querySelectorAll('.codicon')].map((c) => [...c.classList].filter((x) => x.startsWith('codicon-')).join(' ')).join(' ');
        return `${text} | ${label} | ${icon}`;
      }
    }
    return '';
  };
  let last = '';
  let lastStatus = '';
  const obs = new MutationObserver(() => {
    const g = ghostText();
    if (g !== last) {
      last = g;
      w.__sd.ghost.push({ t: performance.now(), text: g });
      if (w.__sd.ghost.length > 8000) w.__sd.ghost.splice(0, 4000);
    }
    const st = superdraftStatus();
    if (st !== lastStatus) {
      lastStatus = st;
      w.__sd.status.push({ t: performance.now(), wall: Date.now(), status: st });
      if (w.__sd.status.length > 400) w.__sd.status.splice(0, 200);
    }
  });
  const start = () => obs.observe(document.body, { subtree: true, childList: true, characterData: true });
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
}

export class Workbench {
  static async launch({ url, viewport = { width: 1400, height: 900 } }) {
    const executablePath = chromiumPath();
    const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    await context.addInitScript(instrumentPage);
    const page = await context.newPage();
    const wb = new Workbench(browser, context, page);
    page.on('console', (m) => { if (m.type() === 'error') wb.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => wb.consoleErrors.push(String(e)));
    await page.goto(url);
    await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
    // the explorer shows the workspace once the remote connection and extension host are up
    await page.waitForSelector('.explorer-folders-view, .explorer-viewlet', { timeout: 90_000 });
    return wb;
  }

  constructor(browser, context, page) {
    this.browser = browser;
    this.context = context;
    this.page = page;
    this.consoleErrors = [];
  }

  async close() {
    await this.browser.close().catch(() => {});
  }

  async screenshot(path) {
    await this.page.screenshot({ path, fullPage: false, timeout: 15_000 });
    return path;
  }

  /** Takes keyboard focus away from a webview (keys typed there do not reach the workbench's keybindings). */
  async leaveWebview() {
    await this.page.evaluate(() => {
      const a = document.activeElement;
      if (a && a.tagName === 'IFRAME') a.blur();
    });
  }

  /** Opens the quick input with `key` (F1, Control+P) and returns its input box. */
  async openQuickInput(key, timeout) {
    const page = this.page;
    const input = page.locator('.quick-input-widget input.input');
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.leaveWebview();
      await page.keyboard.press('Escape');
      await page.keyboard.press(key);
      try {
        await input.waitFor({ state: 'visible', timeout: attempt < 2 ? 3_000 : timeout });
        return input;
      } catch {
        // focus somewhere that does not forward keys (a webview): put it in a text editor and retry
        await this.focusEditor().catch(() => this.focusAnyEditor());
      }
    }
    await input.waitFor({ state: 'visible', timeout: 1 });
    return input;
  }

  /** Runs a command through the command palette by its title (as shown in the palette). */
  async runCommand(title, { timeout = 15_000 } = {}) {
    const page = this.page;
    const input = await this.openQuickInput('F1', timeout);
    await input.fill(`>${title}`);
    // pick the row whose label is exactly the title (Enter would run whatever the palette ranks first)
    const exact = new RegExp(`^\\s*${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
    const row = page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: exact }) }).first();
    await row.waitFor({ state: 'visible', timeout });
    await row.click();
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout }).catch(() => {});
  }

  /**
   * Opens a workspace file through Quick Open and waits for its editor to have focus. Clicks the row
   * whose label is the file name (Enter takes whatever row Quick Open had focused a moment before the
   * filter applied) and tries again when something (a notification, a restart) closed Quick Open.
   */
  async openFile(name, { timeout = 30_000 } = {}) {
    const page = this.page;
    const tab = page.locator('.tab.active', { hasText: name }).first();
    const exact = new RegExp(`^\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
    const deadline = Date.now() + timeout;
    for (let attempt = 1; ; attempt++) {
      const left = Math.max(1_000, deadline - Date.now());
      try {
        const input = await this.openQuickInput('Control+P', Math.min(left, 10_000));
        await input.fill(name);
        const row = page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: exact }) }).first();
        await row.waitFor({ state: 'visible', timeout: Math.min(left, 10_000) });
        await row.click();
        await tab.waitFor({ timeout: Math.min(left, 10_000) });
        break;
      } catch (e) {
        if (Date.now() >= deadline || attempt >= 4) throw e;
        await page.keyboard.press('Escape').catch(() => {});
      }
    }
    await this.focusEditor(name);
  }

  /** Focuses the text editor showing `name` (default: the active group's), without moving its cursor. */
  async focusEditor(name) {
    const page = this.page;
    const group = name
      ? page.locator('.editor-group-container', { has: page.locator('.tab.active', { hasText: name }) }).first()
      : page.locator('.editor-group-container.active').first();
    const ed = group.locator('.monaco-editor').first();
    await ed.locator('.view-lines').waitFor({ state: 'visible', timeout: 15_000 });
    if (await ed.evaluate((el) => el.classList.contains('focused'))) return;
    await ed.locator('textarea, .native-edit-context').first().focus();
    await group.locator('.monaco-editor.focused').first().waitFor({ timeout: 10_000 });
  }

  /** Focuses the first visible text editor of any group (without moving its cursor). */
  async focusAnyEditor() {
    const ed = this.page.locator('.editor-group-container .monaco-editor:visible').first();
    await ed.locator('textarea, .native-edit-context').first().focus({ timeout: 5_000 }).catch(() => {});
  }

  /** Moves the cursor to the end of the document. */
  async gotoEnd() {
    await this.page.keyboard.press('Control+End');
  }

  async type(text, delay = 20) {
    await this.page.keyboard.type(text, { delay });
  }

  /** Ghost text currently shown in the focused editor ('' when none), with non-breaking spaces normalised. */
  async ghostText() {
    return this.page.evaluate(() => {
      let s = '';
      const inline = document.querySelectorAll('.monaco-editor.focused .ghost-text-decoration, .monaco-editor.focused .ghost-text-decoration-preview');
      for (const el of inline) s += el.textContent;
      // additional lines of a multi-line suggestion are rendered in a view zone
      const extra = document.querySelectorAll('.monaco-editor.focused .ghost-text .view-line');
      const lines = [...extra].map((l) => l.textContent);
      if (lines.length) s += '\n' + lines.join('\n');
      return s.replace(/\u00a0/g, ' ');
    });
  }

  async waitForGhostText({ timeout = 20_000, differentFrom } = {}) {
    const t0 = Date.now();
    while (Date.now() - t0 < timeout) {
      const g = await this.ghostText();
      if (g.trim() && (differentFrom === undefined || g !== differentFrom)) return g;
      await sleep(50);
    }
    throw new Error(`no ghost text within ${timeout} ms${differentFrom !== undefined ? ` (different from ${JSON.stringify(differentFrom)})` : ''}`);
  }

  async waitForNoGhostText(timeout = 5_000) {
    const t0 = Date.now();
    while (Date.now() - t0 < timeout) {
      if (!(await this.ghostText())) return;
      await sleep(30);
    }
    throw new Error('ghost text did not go away');
  }

  /** The inline-suggestion toolbar's "i/n" text, or undefined when not shown. */
  async hintCounter() {
    return this.page.evaluate(() => {
      for (const el of document.querySelectorAll('.inlineSuggestionsHints')) {
        const m = /(\d+)\s*\/\s*(\d+)/.exec(el.textContent ?? '');
        if (m) return `${m[1]}/${m[2]}`;
      }
      return undefined;
    });
  }

  async waitForHintCounter(pred, timeout = 10_000) {
    const t0 = Date.now();
    let last;
    while (Date.now() - t0 < timeout) {
      last = await this.hintCounter();
      if (last && pred(last)) return last;
      await sleep(50);
    }
    throw new Error(`inline suggestion toolbar counter never matched (last: ${last ?? 'none'})`);
  }

  /** Status bar items' texts (aria-label and visible text). */
  async statusBarTexts() {
    return this.page.evaluate(() =>
      [...document.querySelectorAll('.statusbar-item')].map((el) => `${el.textContent?.trim() ?? ''} | ${el.getAttribute('aria-label') ?? ''}`));
  }

  /**
   * Replaces the user settings through the editor (Preferences: Open User Settings (JSON), select all, insert, save,
   * close), as a user would; code-server's workbench does not pick up settings.json rewritten behind its back.
   * settings.json opens in the group of the editor showing `returnTo` (focused first), which gets focus back after.
   */
  async writeUserSettings(settings, { returnTo, timeout = 15_000 } = {}) {
    const page = this.page;
    if (returnTo) await this.focusEditor(returnTo);
    await this.runCommand('Preferences: Open User Settings (JSON)');
    const tab = page.locator('.tab.active', { hasText: 'settings.json' }).first();
    await tab.waitFor({ state: 'visible', timeout });
    await this.focusEditor('settings.json');
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify(settings, null, 2) + '\n');
    await page.keyboard.press('Control+S');
    await page.locator('.tab.dirty', { hasText: 'settings.json' }).waitFor({ state: 'detached', timeout });
    await this.runCommand('View: Close Editor');
    await page.locator('.tab', { hasText: 'settings.json' }).waitFor({ state: 'detached', timeout });
    if (returnTo) await this.focusEditor(returnTo);
  }

  async save() {
    await this.page.keyboard.press('Control+S');
    await this.page.locator('.tab.active.dirty').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
  }

  /** Frame of the active webview (iframe.webview.ready > iframe#active-frame). */
  webviewFrame() {
    return this.page.frameLocator('iframe.webview.ready').last().frameLocator('iframe#active-frame');
  }
}
