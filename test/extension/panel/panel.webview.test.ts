/**
 * The draft-picker webview's real HTML and script (media/panel.js, media/highlight.js, media/panel.css) in headless
 * Chromium. The host boundary (acquireVsCodeApi) is stubbed to capture postMessage and keep state across reloads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildPanelHtml, type PanelView } from '../../../src/extension/panel/panelHtml';
import { ROOT } from '../../helpers/paths';

const ORIGIN = 'https://superdraft-webview.test';
const CHROMIUM = '/usr/bin/chromium';
const NONCE = 'testNonce0123456789abcdef';

function html(extraBody = ''): string {
  const page = buildPanelHtml({
    cspSource: ORIGIN,
    nonce: NONCE,
    scriptUri: `${ORIGIN}/media/panel.js`,
    highlightUri: `${ORIGIN}/media/highlight.js`,
    styleUri: `${ORIGIN}/media/panel.css`,
  });
  return page.replace('</body>', `${extraBody}</body>`);
}

const STUB = `
  (() => {
    window.__posted = [];
    window.__apiCalls = 0;
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
    window.acquireVsCodeApi = () => {
      window.__apiCalls++;
      if (window.__apiCalls > 1) throw new Error('acquireVsCodeApi called twice');
      return {
        postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
        getState: () => { const s = sessionStorage.getItem('state'); return s ? JSON.parse(s) : undefined; },
        setState: (s) => { sessionStorage.setItem('state', JSON.stringify(s)); return s; },
      };
    };
  })();`;

const VIEW: PanelView = {
  id: 7,
  mode: 'drafts',
  file: 'src/math.ts',
  line: 3,
  column: 5,
  languageId: 'typescript',
  groups: [
    {
      strategy: 'superposed',
      ms: 42.4,
      drafts: [
        { rank: 1, text: 'return a + b; // sum', score: -0.12, tokens: 6, strategy: 'superposed', source: 'copied from line 1' },
        { rank: 2, text: 'return add(a, "b");', score: -0.5, tokens: 7, strategy: 'superposed', source: 'model' },
        { rank: 3, text: '<img src=x onerror="window.__xss=1">', score: -1.5, tokens: 9, strategy: 'superposed', source: 'from <b>x</b>.ts:4' },
      ],
    },
  ],
};

let browser: Browser;
let currentHtml = html();

async function open(): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript(STUB);
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/index.html') return route.fulfill({ status: 200, contentType: 'text/html', body: currentHtml });
    const file = join(ROOT, url.pathname);
    if (url.pathname.startsWith('/media/') && existsSync(file)) {
      const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream';
      return route.fulfill({ status: 200, contentType: type, body: readFileSync(file) });
    }
    return route.fulfill({ status: 404, body: '' });
  });
  await page.goto(`${ORIGIN}/index.html`);
  await page.waitForFunction(() => (window as any).__posted.some((m: any) => m.type === 'ready'));
  return page;
}

const posted = (page: Page) => page.evaluate(() => (window as any).__posted as any[]);
const send = (page: Page, msg: unknown) => page.evaluate((m) => window.postMessage(m, '*'), msg);

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('draft-picker webview', () => {
  it('handshakes, renders k drafts with stable hooks and highlighting, no markup injection', async () => {
    currentHtml = html();
    const page = await open();
    expect(await page.evaluate(() => (window as any).__apiCalls)).toBe(1);
    await send(page, { type: 'view', view: VIEW });
    await page.waitForSelector('#superdraft-panel[data-count="3"]');
    const rows = await page.$$eval('#superdraft-panel .sd-draft', (els) =>
      els.map((e) => ({
        id: e.id,
        rank: e.getAttribute('data-rank'),
        strategy: e.getAttribute('data-strategy'),
        tokens: e.getAttribute('data-tokens'),
        ms: e.getAttribute('data-ms'),
        source: e.querySelector('.sd-source')!.textContent,
        text: e.querySelector('.sd-text')!.textContent,
      })),
    );
    expect(rows).toEqual([
      { id: 'sd-draft-superposed-1', rank: '1', strategy: 'superposed', tokens: '6', ms: '42', source: 'copied from line 1', text: 'return a + b; // sum' },
      { id: 'sd-draft-superposed-2', rank: '2', strategy: 'superposed', tokens: '7', ms: '42', source: 'model', text: 'return add(a, "b");' },
      { id: 'sd-draft-superposed-3', rank: '3', strategy: 'superposed', tokens: '9', ms: '42', source: 'from <b>x</b>.ts:4', text: '<img src=x onerror="window.__xss=1">' },
    ]);
    // a copied draft's source is marked; a source label is text, never markup
    expect(await page.$$eval('.sd-source.sd-copied', (els) => els.length)).toBe(2);
    expect(await page.$$eval('.sd-source b', (els) => els.length)).toBe(0);
    expect(await page.getAttribute('#superdraft-panel', 'data-view-id')).toBe('7');
    expect(await page.textContent('#sd-location')).toBe('src/math.ts:3:5');
    // Highlighting: keyword, comment, string and function tokens.
    expect(await page.textContent('#sd-draft-superposed-1 .tok-kw')).toBe('return');
    expect(await page.textContent('#sd-draft-superposed-1 .tok-com')).toBe('// sum');
    expect(await page.textContent('#sd-draft-superposed-2 .tok-str')).toBe('"b"');
    expect(await page.textContent('#sd-draft-superposed-2 .tok-fn')).toBe('add');
    expect(await page.$('#superdraft-panel img')).toBeNull();
    expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
    // The score is shown.
    expect(await page.textContent('#sd-draft-superposed-1 .sd-score')).toBe('score -0.12');
    // Theme colours come from VS Code variables.
    const css = readFileSync(join(ROOT, 'media/panel.css'), 'utf8');
    expect(css).toContain('var(--vscode-editor-background)');
    await page.close();
  });

  it('keyboard: arrows select, Enter and digits insert, Esc closes; click inserts', async () => {
    currentHtml = html();
    const page = await open();
    await send(page, { type: 'view', view: VIEW });
    await page.waitForSelector('#superdraft-panel[data-count="3"]');
    expect(await page.getAttribute('#sd-draft-superposed-1', 'aria-selected')).toBe('true');
    await page.keyboard.press('ArrowDown');
    expect(await page.getAttribute('#sd-draft-superposed-2', 'aria-selected')).toBe('true');
    await page.keyboard.press('Enter');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown'); // clamps at the last row
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await page.keyboard.press('3');
    await page.keyboard.press('9'); // no 9th draft: nothing
    await page.click('#sd-draft-superposed-1');
    await page.keyboard.press('Escape');
    const msgs = (await posted(page)).filter((m) => m.type !== 'ready');
    expect(msgs).toEqual([
      { type: 'insert', viewId: 7, strategy: 'superposed', rank: 2 },
      { type: 'insert', viewId: 7, strategy: 'superposed', rank: 2 },
      { type: 'insert', viewId: 7, strategy: 'superposed', rank: 3 },
      { type: 'insert', viewId: 7, strategy: 'superposed', rank: 1 },
      { type: 'close' },
    ]);
    await page.close();
  });

  it('restores its state after a reload and marks the shown draft; status updates', async () => {
    currentHtml = html();
    const page = await open();
    await send(page, { type: 'view', view: VIEW });
    await page.waitForSelector('#superdraft-panel[data-count="3"]');
    await page.keyboard.press('ArrowDown');
    await page.reload();
    await page.waitForFunction(() => (window as any).__posted.some((m: any) => m.type === 'ready'));
    // Rendered from getState before the host sends anything.
    expect(await page.getAttribute('#superdraft-panel', 'data-count')).toBe('3');
    expect(await page.getAttribute('#sd-draft-superposed-2', 'aria-selected')).toBe('true');
    await send(page, { type: 'shown', strategy: 'superposed', rank: 3 });
    expect(await page.getAttribute('#sd-draft-superposed-3', 'data-shown')).toBe('true');
    await send(page, { type: 'status', status: 'error', message: 'model failed to load' });
    expect(await page.getAttribute('#superdraft-panel', 'data-state')).toBe('error');
    expect(await page.textContent('#sd-status')).toBe('model failed to load');
    await page.close();
  });

  it('compare view shows every strategy with its time and drafts', async () => {
    currentHtml = html();
    const page = await open();
    const groups = (['superposed', 'beam', 'sampling', 'greedy'] as const).map((s, i) => ({
      strategy: s,
      ms: 10 * (i + 1),
      drafts: Array.from({ length: s === 'greedy' ? 1 : 2 }, (_, r) => ({ rank: r + 1, text: `${s}_${r}()`, score: -r, tokens: 2, strategy: s })),
    }));
    await send(page, { type: 'view', view: { ...VIEW, id: 9, mode: 'compare', groups } });
    await page.waitForSelector('#superdraft-panel[data-count="7"]');
    expect(await page.getAttribute('#superdraft-panel', 'data-mode')).toBe('compare');
    const sec = await page.$$eval('.sd-group', (els) => els.map((e) => [e.getAttribute('data-strategy'), e.getAttribute('data-ms'), e.querySelectorAll('.sd-draft').length]));
    expect(sec).toEqual([
      ['superposed', '10', 2],
      ['beam', '20', 2],
      ['sampling', '30', 2],
      ['greedy', '40', 1],
    ]);
    // Digit keys index the flat list across groups: superposed 1,2 / beam 3,4 / sampling 5,6 / greedy 7.
    await page.keyboard.press('7');
    const last = (await posted(page)).pop();
    expect(last).toEqual({ type: 'insert', viewId: 9, strategy: 'greedy', rank: 1 });
    await page.close();
  });

  it('CSP blocks inline script without the nonce (and allows it with the nonce)', async () => {
    currentHtml = html(`<script>window.__inlineRan = true;</script><script nonce="${NONCE}">window.__nonceRan = true;</script>`);
    const page = await open();
    expect(await page.evaluate(() => (window as any).__inlineRan)).toBeUndefined();
    expect(await page.evaluate(() => (window as any).__nonceRan)).toBe(true);
    const violations: string[] = await page.evaluate(() => (window as any).__violations);
    expect(violations.some((v) => v.startsWith('script-src'))).toBe(true);
    // A remote (non-webview) resource is blocked too.
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.src = 'https://elsewhere.invalid/x.js';
      document.body.appendChild(s);
    });
    await page.waitForFunction(() => (window as any).__violations.some((v: string) => v.includes('elsewhere.invalid')));
    await page.close();
  });
});
