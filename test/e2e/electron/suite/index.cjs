// Runs inside VS Code desktop's extension host (loaded by @vscode/test-electron). Plain node:assert, no framework:
// each test is awaited in order and the summary is printed; a failure rejects run() (non-zero exit).
const assert = require('node:assert/strict');
const path = require('node:path');
const vscode = require('vscode');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function completeAt(api, doc, pos, timeoutMs = 60_000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeoutMs) {
    const cts = new vscode.CancellationTokenSource();
    last = await api.provideInlineCompletionItems(doc, pos, { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined }, cts.token);
    cts.dispose();
    if (last && last.items.length) return last.items;
    await sleep(500); // the model may still be loading
  }
  throw new Error(`no inline completion items within ${timeoutMs} ms`);
}

async function run() {
  const results = [];
  const ext = vscode.extensions.getExtension('superdraft.superdraft');
  let api;
  let doc;
  const test = async (name, fn) => {
    const t0 = Date.now();
    try {
      await fn();
      results.push({ name, ok: true, ms: Date.now() - t0 });
      console.log(`  ✓ ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      results.push({ name, ok: false, ms: Date.now() - t0, error: e });
      console.log(`  ✗ ${name}: ${e && e.stack ? e.stack : e}`);
    }
  };

  await test('the extension activates and registers its commands', async () => {
    assert.ok(ext, 'extension superdraft.superdraft not found');
    const exported = await ext.activate();
    api = exported && exported.superdraft;
    assert.ok(api && typeof api.provideInlineCompletionItems === 'function', 'activate() does not return the Superdraft instance');
    const all = await vscode.commands.getCommands(true);
    const declared = ext.packageJSON.contributes.commands.map((c) => c.command);
    const missing = declared.filter((c) => !all.includes(c));
    assert.deepEqual(missing, [], `declared but not registered: ${missing.join(', ')}`);
  });

  await test('a Python document gets k drafts from the embedded model', async () => {
    const file = path.join(process.env.SUPERDRAFT_TEST_WORKSPACE, 'sample.py');
    doc = await vscode.workspace.openTextDocument(file);
    const ed = await vscode.window.showTextDocument(doc);
    await ed.edit((e) => e.insert(new vscode.Position(doc.lineCount - 1, 0), 'def count_words(text):\n    '));
    const pos = new vscode.Position(doc.lineCount - 1, 4);
    const items = await completeAt(api, doc, pos);
    assert.ok(items.length >= 1, 'no items');
    for (const it of items) assert.ok(String(typeof it.insertText === 'string' ? it.insertText : it.insertText.value).length > 0, 'empty draft');
    const k = vscode.workspace.getConfiguration('superdraft').get('drafts');
    assert.ok(items.length <= k, `${items.length} items for k=${k}`);
    console.log(`    ${items.length} drafts, first: ${JSON.stringify(String(items[0].insertText).slice(0, 60))}`);
  });

  await test('Restart Inference Process: completions come back', async () => {
    await vscode.commands.executeCommand('superdraft.restartInference');
    const pos = new vscode.Position(doc.lineCount - 1, 4);
    const items = await completeAt(api, doc, pos);
    assert.ok(items.length >= 1);
  });

  const failed = results.filter((r) => !r.ok);
  console.log(`test:electron: ${results.length - failed.length}/${results.length} passed`);
  if (failed.length) throw new Error(`${failed.length} test(s) failed: ${failed.map((f) => f.name).join('; ')}`);
}

module.exports = { run };
