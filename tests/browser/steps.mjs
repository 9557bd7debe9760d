// The walk's office and residents' half (the Rust test `tests/e2e/walk.rs`
// writes the plan and checks the server afterwards):
//
//   node steps.mjs <server url> <staff email> <staff password> <plan.json> <screenshot folder or ->
//
// A dispatcher signs in to the back office and takes each step the plan
// lists from the job's or round's page, as she would: the link under
// "Next steps", the note where the step asks for one, the button; a
// booking goes through the appointment page. Then each resident opens
// their tracking link with JavaScript off and takes their step from
// "What you can do" (or books from the appointment link), giving a reason
// where asked, and sees the confirmation. axe-core runs (JavaScript on) on
// each kind of new page the first time it is reached. Every wait is on
// something in the page, never a fixed time.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { axeCheck, expect, finish, heading, step } from './checks.mjs';

const [base, staffEmail, staffPassword, planPath, shots] = process.argv.slice(2);
if (!base || !staffEmail || !staffPassword || !planPath) {
  console.error('usage: node steps.mjs <server url> <staff email> <staff password> <plan.json> [screenshot folder]');
  process.exit(2);
}
const LONG = 60_000;
const plan = JSON.parse(await readFile(planPath, 'utf8'));

const checked = new Set();
/// axe-core on the page, once per kind of page.
async function checkOnce(page, kind) {
  if (!checked.has(kind)) {
    checked.add(kind);
    await axeCheck(page, kind);
  }
}

async function shot(page, name) {
  if (shots && shots !== '-') {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }
}

function exactly(text) {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/// The status tag of a job's or round's page.
async function statusIs(page, status) {
  await page.locator('.govuk-summary-list .govuk-tag', { hasText: exactly(status) }).waitFor();
}

async function officeStep(page, walk) {
  step(`the dispatcher: ${walk.label} on ${walk.url}`);
  await page.goto(`${base}${walk.url}`);
  await heading(page, 'Next steps');
  await checkOnce(page, walk.round ? 'office: a round with its next steps' : 'office: a job with its next steps');
  await page.getByRole('link', { name: exactly(walk.label) }).click();
  if (walk.booking) {
    await page.locator('input[name=slot]').first().waitFor();
    await checkOnce(page, 'office: book an appointment');
    await page.locator('input[name=slot]').first().check();
    await page.getByRole('button', { name: 'Book this appointment' }).click();
  } else {
    await heading(page, walk.label);
    await checkOnce(page, 'office: a step');
    if (walk.note) {
      // Sent without its note first: the form says what is missing.
      await page.getByRole('button', { name: exactly(walk.label) }).click();
      await heading(page, 'There is a problem');
      await checkOnce(page, 'office: a step, with its error');
      await page.getByLabel(/^Note/).fill(`${walk.label}: the resident phoned the office.`);
    }
    if (walk.shot) await shot(page, `${walk.shot}-form`);
    await page.getByRole('button', { name: exactly(walk.label) }).click();
  }
  await statusIs(page, walk.status);
  if (walk.shot) await shot(page, walk.shot);
}

async function residentStep(js, noJs, walk) {
  step(`the resident: ${walk.label} on their tracking page`);
  // JavaScript on: axe-core on the pages before the step is taken.
  if (!checked.has('residents: a step')) {
    await js.goto(`${base}${walk.url}`);
    await heading(js, 'What you can do');
    await checkOnce(js, 'residents: tracking page with what they can do');
    if (!walk.booking) {
      await js.getByRole('link', { name: exactly(walk.label) }).click();
      await heading(js, `${walk.label}?`);
      await checkOnce(js, 'residents: a step');
    }
  }
  // JavaScript off: the journey itself.
  await noJs.goto(`${base}${walk.url}`);
  if (walk.booking) {
    await noJs.getByRole('link', { name: /^(Choose an appointment|Change the appointment)$/ }).click();
    await noJs.locator('input[name=slot]').first().check();
    if (walk.shot) await shot(noJs, `${walk.shot}-form`);
    await noJs.getByRole('button', { name: 'Book this appointment' }).click();
    await heading(noJs, 'Appointment booked');
  } else {
    await noJs.getByRole('link', { name: exactly(walk.label) }).click();
    await heading(noJs, `${walk.label}?`);
    const yes = noJs.getByRole('button', { name: `Yes: ${walk.label.toLowerCase()}` });
    if (walk.note) {
      await yes.click();
      await heading(noJs, 'There is a problem');
      await noJs.getByLabel('Tell us why').fill('We have sorted it out ourselves.');
    }
    if (walk.shot) await shot(noJs, `${walk.shot}-form`);
    await yes.click();
    await noJs.locator('.govuk-panel__title', { hasText: exactly(walk.status) }).waitFor();
    if (walk.shot) await shot(noJs, walk.shot);
    if (!checked.has('residents: a step taken')) {
      await js.goto(noJs.url());
      await js.locator('.govuk-panel__title').waitFor();
      await checkOnce(js, 'residents: a step taken');
    }
  }
}

/// A resident changes their details and stops texts.
async function residentContact(js, noJs, url) {
  step('the resident stops texts on their tracking page');
  await noJs.goto(`${base}${url}`);
  await noJs.getByRole('link', { name: 'Change your contact details or stop updates' }).click();
  await heading(noJs, 'Your contact details');
  await noJs.getByLabel('Email address').fill('not an address');
  await noJs.getByRole('button', { name: 'Save my details' }).click();
  await heading(noJs, 'There is a problem');
  await noJs.getByLabel('Email address').fill('olu@example.org');
  await noJs.getByLabel('Do not send me text messages').check();
  await noJs.getByRole('button', { name: 'Save my details' }).click();
  await heading(noJs, 'Details saved');
  expect((await noJs.locator('main').textContent()).includes('by email'), 'updates now go by email');
  await js.goto(`${base}${url}/contact`);
  await heading(js, 'Your contact details');
  await checkOnce(js, 'residents: contact details');
  await js.goto(`${base}${url}/contact/saved`);
  await heading(js, 'Details saved');
  await checkOnce(js, 'residents: contact details saved');
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  headless: true,
  timeout: LONG,
});
const pages = [];
try {
  const office = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  office.setDefaultTimeout(LONG);
  const page = await office.newPage();
  pages.push(['office', page]);
  step('the dispatcher signs in');
  await page.goto(`${base}/office/sign-in`);
  await page.getByLabel('Email address').fill(staffEmail);
  await page.getByLabel('Password').fill(staffPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading(page, 'Jobs');
  for (const walk of plan.office) await officeStep(page, walk);

  const withJs = await browser.newContext({ viewport: { width: 400, height: 900 } });
  const withoutJs = await browser.newContext({ viewport: { width: 400, height: 900 }, javaScriptEnabled: false });
  withJs.setDefaultTimeout(LONG);
  withoutJs.setDefaultTimeout(LONG);
  const js = await withJs.newPage();
  const noJs = await withoutJs.newPage();
  pages.push(['resident', noJs]);
  for (const walk of plan.residents) await residentStep(js, noJs, walk);
  if (plan.contact) await residentContact(js, noJs, plan.contact);
  console.log(`walked ${plan.office.length} office steps and ${plan.residents.length} residents' steps`);
} catch (error) {
  for (const [name, page] of pages) {
    await shot(page, `steps-failure-${name}`).catch(() => {});
    console.error(`the ${name} page when it failed (${page.url()}): ${(await page.locator('main').first().innerHTML().catch(() => '')).slice(0, 4000)}`);
  }
  throw error;
} finally {
  await browser.close();
}
finish();
