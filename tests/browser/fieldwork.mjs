// A day's field steps taken in the web app, in a real browser (Debian's
// Chromium, driven by playwright-core), against a real doorstep-server that
// the Rust test (`tests/e2e/fieldwork.rs`) starts and checks afterwards:
//
//   node fieldwork.mjs <app url> <operative's code> <crew's code> <operative's jpeg> <crew's jpeg> <screenshot folder or ->
//
// The operative takes the steps that need a note (the panel asks for it)
// and starts a job with its before photo taken in the panel; the crew
// starts the round, logs every stop (one with its evidence photo),
// finishes it and signs the phone out from its settings. Every wait is on
// a condition in the page, never a fixed time.
import { readFile } from 'node:fs/promises';

import { axeCheck, finish as finishChecks, step } from './checks.mjs';
import { back, openPhone, shot as saveShot, synced } from './phone.mjs';

const [appUrl, operativeCode, crewCode, jpegPath, crewJpegPath, shots] = process.argv.slice(2);
if (!appUrl || !operativeCode || !crewCode || !jpegPath || !crewJpegPath) {
  console.error('usage: node fieldwork.mjs <app url> <operative code> <crew code> <operative jpeg> <crew jpeg> [screenshot folder]');
  process.exit(2);
}
const IN_PROGRESS_JOB = 'Flat 4, 18 Marine Parade, Worthing, BN11 3PT';
const BOOKED_JOB = '7 Tarring Road, Worthing, BN11 4SS';
const OTHER_BOOKED_JOB = '23 Church Walk, Lancing, BN15 8AA';
const PARTS_NOTE = 'Needs a new mixer valve, ordered.';
const NO_ACCESS_NOTE = 'Nobody home at 10:05, card through the door.';

const shot = (page, name) => saveShot(shots, page, name);
const phone = (code, check) => openPhone(appUrl, code, { check });

const operative = await phone(operativeCode, true);
let crew;
try {
  const page = operative.page;

  step('waiting for parts asks for a note');
  await page.getByText(IN_PROGRESS_JOB).click();
  const waiting = page.getByRole('button', { name: /^Waiting for parts/ });
  await waiting.waitFor();
  if (!(await waiting.textContent()).includes('(note)')) {
    throw new Error('the button does not say it needs a note');
  }
  await waiting.click();
  await page.locator('#step-note').waitFor();
  const confirm = page.getByRole('button', { name: 'Confirm: Waiting for parts' });
  if (!(await confirm.isDisabled())) throw new Error('confirm is enabled with no note');
  await page.getByText('Write a note saying why').waitFor();
  await axeCheck(page, 'app: the note panel');
  await shot(page, 'app-note-panel');
  await page.locator('#step-note').fill(PARTS_NOTE);
  await page.locator('#step-note').blur();
  await page.waitForFunction(() => {
    const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Confirm: Waiting for parts');
    return button && !button.disabled;
  });
  await confirm.click();
  await page.getByText('Waiting for the office: Waiting for parts').waitFor();
  await synced(page);
  await page.locator('p.status', { hasText: 'Waiting for parts' }).waitFor();
  await back(page);

  step('no access asks for a note, and leads to rebooking');
  await page.getByText(OTHER_BOOKED_JOB).click();
  await page.getByRole('button', { name: /^No access/ }).click();
  await page.locator('#step-note').fill(NO_ACCESS_NOTE);
  await page.locator('#step-note').blur();
  await page.getByRole('button', { name: /^Confirm: No access/ }).click();
  await synced(page);
  await page.locator('p.status', { hasText: 'Needs a new appointment' }).waitFor();
  await back(page);

  step('starting work asks for the before photo in the panel');
  await page.getByText(BOOKED_JOB).click();
  const start = page.getByRole('button', { name: /^Start work/ });
  await start.click();
  await page.getByText('Take a before photo first').waitFor();
  await page.locator('.evidence label.photo-button', { hasText: 'Take a before photo' }).locator('input[type=file]')
    .setInputFiles({ name: 'before.jpg', mimeType: 'image/jpeg', buffer: await readFile(jpegPath) });
  const confirmStart = page.getByRole('button', { name: 'Confirm: Start work' });
  await page.waitForFunction(() => {
    const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Confirm: Start work');
    return button && !button.disabled;
  });
  await confirmStart.click();
  await synced(page);
  await page.locator('p.status', { hasText: 'Work started' }).waitFor();
  await page.getByText(/All synced at/).waitFor();
  await axeCheck(page, 'app: a job');
  if (operative.errors.length > 0) throw new Error(`errors in the page: ${operative.errors.join('; ')}`);

  step('the crew starts the round, logs every stop and finishes it');
  crew = await phone(crewCode, false);
  const round = crew.page;
  await round.getByRole('button', { name: /^Round / }).click();
  const startRound = round.getByRole('button', { name: 'Start round' });
  await startRound.click();
  await synced(round);
  await round.locator('p.status', { hasText: 'Out on the round' }).waitFor();
  const finish = round.getByRole('button', { name: 'Finish round' });
  if (!(await finish.isDisabled())) throw new Error('the round can be finished with stops unlogged');
  await round.getByText(/Log an outcome at every stop first/).waitFor();
  // The first stop: not put out, with the evidence photo.
  const first = round.locator('li.stop').first();
  await first.getByRole('button', { name: /^Not put out/ }).click();
  await round.locator('.evidence label.photo-button').locator('input[type=file]')
    .setInputFiles({ name: 'bin.jpg', mimeType: 'image/jpeg', buffer: await readFile(crewJpegPath) });
  await round.getByText('Photo added').waitFor();
  await axeCheck(round, 'app: the round\'s note-and-photo panel');
  await round.getByRole('button', { name: 'Log it' }).click();
  // Every other stop: collected, one tap each.
  await round.waitForFunction(() => document.querySelectorAll('li.stop.done').length === 1);
  for (;;) {
    const left = await round.locator('li.stop:not(.done)').count();
    if (left === 0) break;
    const done = await round.locator('li.stop.done').count();
    await round.locator('li.stop:not(.done)').first().getByRole('button', { name: 'Collected' }).click();
    await round.waitForFunction((before) => document.querySelectorAll('li.stop.done').length > before, done);
  }
  await round.waitForFunction(() => {
    const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Finish round');
    return button && !button.disabled;
  });
  await finish.click();
  await synced(round);
  await round.locator('p.status', { hasText: 'Finished' }).waitFor();
  // The bin's photo has gone up too.
  await round.getByText(/All synced at/).waitFor();
  await axeCheck(round, 'app: a round');
  await shot(round, 'app-round-finished');

  step('the crew signs the phone out from its settings');
  await back(round);
  await round.getByRole('button', { name: 'Settings' }).click();
  await round.getByRole('heading', { name: 'Settings' }).waitFor();
  await round.getByText(/MB for \d+ jobs, rounds and contacts/).waitFor();
  await round.getByText('Sam Lee (crew)').waitFor();
  await round.getByText(/^Sam Lee's phone \(/).waitFor();
  await round.getByText('Adur & Worthing Councils (demo)').waitFor();
  await axeCheck(round, 'app: settings');
  await shot(round, 'app-settings');
  await round.getByRole('button', { name: 'Sign out of this phone' }).click();
  await round.getByRole('button', { name: 'Yes, sign out' }).click();
  await round.getByRole('heading', { name: 'Enrol this phone' }).waitFor();
  if (crew.errors.length > 0) throw new Error(`errors in the page: ${crew.errors.join('; ')}`);
  finishChecks();
} catch (error) {
  for (const [name, who] of [['operative', operative], ['crew', crew]]) {
    if (!who) continue;
    await shot(who.page, `fieldwork-failure-${name}`).catch(() => {});
    console.error(`the ${name}'s page when it failed: ${(await who.page.locator('main').first().innerHTML().catch(() => '')).slice(0, 4000)}`);
  }
  throw error;
} finally {
  await operative.close();
  if (crew) await crew.close();
}
