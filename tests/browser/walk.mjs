// The field walk generated from the service definitions (the Rust test
// `tests/e2e/walk.rs` writes the plan and checks the server afterwards):
//
//   node walk.mjs <app url> <operative's code> <crew's code> <plan.json> <clock ms> <screenshot folder or ->
//
// Each job step is taken as its person would: open the job from Today,
// tick the checklist if the step needs it, press the step's button, and
// where a panel asks, write the note and take each photo, then confirm.
// Each round is started, logged stop by stop with every outcome, and
// finished. The booked jobs are looked for under their day.
import { readFile } from 'node:fs/promises';

import { axeCheck, expect, finish, step } from './checks.mjs';
import { back, button, enabled, openPhone, shot, synced } from './phone.mjs';

const [appUrl, operativeCode, crewCode, planPath, clock, shots] = process.argv.slice(2);
if (!appUrl || !operativeCode || !crewCode || !planPath || !clock) {
  console.error('usage: node walk.mjs <app url> <operative code> <crew code> <plan.json> <clock ms> [screenshot folder]');
  process.exit(2);
}
const plan = JSON.parse(await readFile(planPath, 'utf8'));

async function takeJobStep(page, walk) {
  step(`${walk.label} at ${walk.address}`);
  await page.getByRole('button', { name: new RegExp(walk.address) }).click();
  await page.locator('p.status').waitFor();
  if (walk.checklist) {
    const boxes = page.locator('section.checklist input[type=checkbox]');
    const count = await boxes.count();
    for (let n = 0; n < count; n += 1) {
      if (!(await boxes.nth(n).isChecked())) {
        await boxes.nth(n).check();
      }
    }
  }
  const asks = walk.note || walk.photos.length > 0;
  if (asks) {
    const pressed = button(page, walk.label);
    const words = await pressed.textContent();
    expect(!walk.note || words.includes('note'), `"${words}" does not say it needs a note`);
    expect(walk.photos.length === 0 || words.includes('photo'), `"${words}" does not say it needs a photo`);
    await pressed.click();
    await page.locator('.evidence').waitFor();
    if (walk.note) {
      await page.locator('#step-note').fill(`${walk.label}: done as the walk asks.`);
      await page.locator('#step-note').blur();
    }
    for (const [label, file] of walk.photos) {
      const camera = page.locator('.evidence label.photo-button', { hasText: label.toLowerCase() });
      await camera.locator('input[type=file]').setInputFiles(file);
      await camera.waitFor({ state: 'detached' });
    }
    await enabled(page, `Confirm: ${walk.label}`);
    await button(page, `Confirm: ${walk.label}`).click();
  } else {
    await enabled(page, walk.label);
    await button(page, walk.label).click();
  }
  if (walk.timeline) {
    await page.locator('section.timeline li', { hasText: walk.timeline }).first().waitFor();
  } else {
    await page.getByText(`Waiting for the office: ${walk.status}`).or(page.locator('p.status', { hasText: walk.status })).first().waitFor();
  }
  await synced(page);
  await page.locator('p.status', { hasText: walk.status }).waitFor();
  expect(await page.locator('p.refused').count() === 0, `the office refused ${walk.label}`);
  await back(page);
}

async function walkRound(page, round) {
  step(`the round ${round.reference}`);
  await page.getByRole('button', { name: new RegExp(`^Round ${round.reference}`) }).click();
  for (const roundStep of round.steps) {
    if (roundStep.kind === 'transition') {
      step(`${roundStep.label} on ${round.reference}`);
      await enabled(page, roundStep.label);
      await button(page, roundStep.label).click();
      await synced(page);
      await page.locator('p.status', { hasText: roundStep.status }).waitFor();
    } else {
      step(`${roundStep.label} at stop ${roundStep.stop + 1} of ${round.reference}`);
      const before = await page.locator('li.stop.done').count();
      const stop = page.locator('li.stop').nth(roundStep.stop);
      await button(stop, roundStep.label).click();
      if (roundStep.note || roundStep.photo) {
        await page.locator('.evidence').waitFor();
        if (roundStep.note) {
          await page.locator('.evidence textarea').fill(`${roundStep.label}: as found.`);
          await page.locator('.evidence textarea').blur();
        }
        if (roundStep.photo) {
          await page.locator('.evidence label.photo-button input[type=file]').setInputFiles(roundStep.photo);
          await page.getByText('Photo added').waitFor();
        }
        await enabled(page, 'Log it');
        await button(page, 'Log it').click();
      }
      await page.waitForFunction((count) => document.querySelectorAll('li.stop.done').length > count, before);
    }
  }
  await page.getByText(/All synced at/).waitFor();
  await back(page);
}

/// At 200 % zoom a 420-pixel phone is 210 CSS pixels wide: every screen
/// must still fit, with nothing to scroll sideways.
async function checkZoom(page) {
  step('at 200 % zoom, Today and a job fit the width');
  const size = page.viewportSize();
  await page.setViewportSize({ width: size.width / 2, height: size.height / 2 });
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  expect(await fits(), 'Today scrolls sideways at 200 % zoom');
  await page.locator('li.job button').first().click();
  await page.locator('p.status').waitFor();
  expect(await fits(), 'a job scrolls sideways at 200 % zoom');
  await back(page);
  await page.setViewportSize(size);
}

async function checkSlots(page, slots) {
  for (const slot of slots) {
    step(`${slot.address} is under ${slot.day}, ${slot.words}`);
    const listed = await page.evaluate(({ address }) => {
      for (const heading of document.querySelectorAll('h2.day')) {
        const list = heading.nextElementSibling;
        for (const item of list ? list.querySelectorAll('li') : []) {
          if (item.textContent.includes(address)) return { day: heading.textContent, text: item.textContent };
        }
      }
      return null;
    }, slot);
    expect(listed, `${slot.address} is not on Today`);
    expect(listed.day === slot.day, `${slot.address} is under ${listed.day}, not ${slot.day}`);
    expect(listed.text.includes(slot.words), `${slot.address} shows "${listed.text}", not "${slot.words}"`);
  }
}

const phones = {};
try {
  phones.operative = await openPhone(appUrl, operativeCode, { clock: Number(clock) });
  const jobs = plan.jobs.filter((walk) => walk.phone === 'operative');
  await checkSlots(phones.operative.page, plan.slots);
  await axeCheck(phones.operative.page, 'app: today, by day');
  await shot(shots, phones.operative.page, 'app-today-days', 1400);
  for (const walk of jobs) await takeJobStep(phones.operative.page, walk);
  await phones.operative.page.getByText(/All synced at/).waitFor();
  await checkZoom(phones.operative.page);

  phones.crew = await openPhone(appUrl, crewCode, { clock: Number(clock) });
  for (const walk of plan.jobs.filter((w) => w.phone === 'crew')) await takeJobStep(phones.crew.page, walk);
  for (const round of plan.rounds) await walkRound(phones.crew.page, round);
  await phones.crew.page.getByText(/All synced at/).waitFor();
  for (const [name, phone] of Object.entries(phones)) {
    expect(phone.errors.length === 0, `errors in the ${name}'s page: ${phone.errors.join('; ')}`);
  }
  console.log(`walked ${plan.jobs.length} job steps and ${plan.rounds.length} rounds`);
  finish();
} catch (error) {
  for (const [name, phone] of Object.entries(phones)) {
    await shot(shots, phone.page, `walk-failure-${name}`).catch(() => {});
    console.error(`the ${name}'s page when it failed: ${(await phone.page.locator('main').first().innerHTML().catch(() => '')).slice(0, 4000)}`);
  }
  throw error;
} finally {
  for (const phone of Object.values(phones)) await phone.close();
}
