// The web app's offline story in a real browser (Debian's Chromium, driven
// by playwright-core), against a real doorstep-server that the Rust test
// (`tests/e2e/web_app.rs`) starts, stops and starts again when asked.
//
//   node offline.mjs <app url> <enrolment code> <jpeg file> <screenshot folder or ->
//
// It talks to the Rust side by lines: it prints `need: offline` or
// `need: online` and waits for `ok` on its input; `done` at the end. Every
// wait is on a condition in the page, never a fixed time.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

import { launch } from './phone.mjs';

const [appUrl, code, jpegPath, shots] = process.argv.slice(2);
if (!appUrl || !code || !jpegPath) {
  console.error('usage: node offline.mjs <app url> <enrolment code> <jpeg file> [screenshot folder]');
  process.exit(2);
}
const JOB_ADDRESS = 'Flat 4, 18 Marine Parade, Worthing, BN11 3PT';
const NOTE = 'Washer replaced; the tap no longer drips.';

const lines = createInterface({ input: process.stdin });
const answers = lines[Symbol.asyncIterator]();
async function ask(what) {
  console.log(`need: ${what}`);
  const { value, done } = await answers.next();
  if (done || value.trim() !== 'ok') {
    throw new Error(`the test harness did not confirm "${what}" (got ${JSON.stringify(value)})`);
  }
}

function step(text) {
  console.log(`step: ${text}`);
}

async function shot(page, name) {
  if (shots && shots !== '-') {
    await page.screenshot({ path: join(shots, `${name}.png`) });
  }
}

const { context, page, errors, close } = await launch();
try {
  page.on('console', (message) => console.error(`console ${message.type()}: ${message.text()}`));
  page.on('requestfailed', (request) => console.error(`request failed: ${request.url()} ${request.failure()?.errorText}`));

  step('enrol');
  await page.goto(appUrl);
  await page.locator('#code').fill(code);
  await page.getByRole('button', { name: /enrol/i }).click();
  await page.getByText('7 jobs to do').waitFor();
  await page.getByText(/All synced at/).waitFor();
  await shot(page, 'web-today');
  // The shell must be in the service worker's cache before the network goes.
  await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const cache = (await caches.keys()).find((key) => key.startsWith('doorstep-shell-'));
    if (!registration.active || !cache) throw new Error('the app shell is not cached');
  });

  step('a second tab is turned away');
  const second = await context.newPage();
  await second.goto(appUrl);
  await second.getByText('Doorstep is open in another tab').waitFor();
  await shot(second, 'web-second-tab');
  await second.close();

  await ask('offline');
  step('work offline');
  await page.getByText(JOB_ADDRESS).click();
  await page.getByText('Complete job').waitFor();
  const notes = page.locator('#notes');
  await notes.fill(NOTE);
  await notes.blur();
  for (const item of ['Water or power isolated before work', 'Work area left clean and safe']) {
    const box = page.getByRole('checkbox', { name: item });
    await box.check();
    await page.waitForFunction((name) => {
      const label = [...document.querySelectorAll('label.tick')].find((l) => l.textContent.includes(name));
      return label && label.querySelector('input').checked;
    }, item);
  }
  await page.locator('label.photo-button', { hasText: 'Take an after photo' }).locator('input[type=file]')
    .setInputFiles({ name: 'after.jpg', mimeType: 'image/jpeg', buffer: await readFile(jpegPath) });
  await page.locator('figure', { hasText: 'After' }).locator('img[src^="data:image/jpeg"]').waitFor();
  const complete = page.getByRole('button', { name: 'Complete job' });
  await page.waitForFunction(() => {
    const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Complete job');
    return button && !button.disabled;
  });
  await complete.click();
  await page.getByText('Waiting for the office: Completed').waitFor();
  await page.getByText(/Offline|waiting/).first().waitFor();
  await shot(page, 'web-job-offline');

  step('reload with the server down');
  await page.reload();
  await page.getByText(/7 in all/).waitFor();
  await page.getByText(JOB_ADDRESS).click();
  await page.getByText('Waiting for the office: Completed').waitFor();
  if ((await page.locator('#notes').inputValue()) !== NOTE) {
    throw new Error('the note was lost across the reload');
  }
  await page.locator('figure', { hasText: 'After' }).locator('img[src^="data:image/jpeg"]').waitFor();

  await ask('online');
  step('sync by itself');
  // The retry interval is capped, so the app comes back without a tap.
  await page.getByText(/All synced at/).waitFor();
  await page.locator('p.status', { hasText: 'Completed' }).waitFor();
  await page.waitForFunction(() => !document.querySelector('.pending'));
  await shot(page, 'web-job-synced');
  if (errors.length > 0) {
    throw new Error(`errors in the page: ${errors.join('; ')}`);
  }
  console.log('done');
} catch (error) {
  await shot(page, 'web-failure').catch(() => {});
  console.error(`the page when it failed: ${(await page.content().catch(() => '')).slice(0, 4000)}`);
  throw error;
} finally {
  lines.close();
  await close();
}
