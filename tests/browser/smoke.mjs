// Smoke test of the browser setup: Debian's Chromium, driven by playwright-core,
// gives a page served from loopback what the web app's storage needs: OPFS
// (with a sync access handle in a dedicated worker) and Web Locks.
// Usage: node smoke.mjs   (CHROMIUM=/path/to/chromium to use another binary)
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// OPFS needs a secure context: http://127.0.0.1 is one, file: and data: are not.
const page_html = '<!doctype html><meta charset="utf-8"><title>smoke</title><p>smoke</p>';
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(page_html);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/`;

const profile = await mkdtemp(join(tmpdir(), 'doorstep-smoke-'));
let context;
let ok = false;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath, args, headless: true, timeout: 60_000,
  });
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(url, { timeout: 30_000 });
  const result = await page.evaluate(async () => {
    const out = {
      secureContext: window.isSecureContext,
      opfs: typeof navigator.storage?.getDirectory === 'function',
      locks: typeof navigator.locks?.request === 'function',
      workerSyncHandle: null,
    };
    // Sync access handles exist only in dedicated workers.
    const src = `
      onmessage = async () => {
        try {
          const root = await navigator.storage.getDirectory();
          const f = await root.getFileHandle('probe', { create: true });
          const h = await f.createSyncAccessHandle();
          h.close();
          await root.removeEntry('probe');
          postMessage('ok');
        } catch (e) {
          postMessage(String(e && e.name) + ': ' + String(e && e.message));
        }
      };`;
    const worker = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
    out.workerSyncHandle = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), 15_000);
      worker.onmessage = (e) => { clearTimeout(timer); resolve(e.data); };
      worker.onerror = (e) => { clearTimeout(timer); resolve('worker error: ' + e.message); };
      worker.postMessage('go');
    });
    worker.terminate();
    return out;
  });
  const cdp = await context.newCDPSession(page);
  const { product: version } = await cdp.send('Browser.getVersion');
  ok = result.secureContext && result.opfs && result.locks && result.workerSyncHandle === 'ok';
  console.log(`${ok ? 'ok' : 'FAIL'}: ${version} at ${executablePath}; ` +
    `secure context ${result.secureContext}, navigator.storage.getDirectory ${result.opfs}, ` +
    `navigator.locks ${result.locks}, worker OPFS sync access handle ${result.workerSyncHandle}`);
} catch (e) {
  console.log(`FAIL: ${e && e.message ? e.message.split('\n')[0] : e}`);
} finally {
  await context?.close().catch(() => {});
  server.close();
  await rm(profile, { recursive: true, force: true }).catch(() => {});
}
process.exit(ok ? 0 : 1);
