// Residents' journeys in a real browser (Debian's Chromium, driven by
// playwright-core) against a real doorstep-server started by the Rust test
// (`tests/e2e/resident_browser.rs`):
//
//   node residents.mjs <server url> <tracking token of a completed job> <jpeg file>
//                      <staff email> <staff password>
//
// The back office's sign-in and job list run the same way at the end.
// Every journey runs first with JavaScript off — the pages must work
// without it — and then again with JavaScript on, running axe-core on each
// page it reaches (axe needs JavaScript); any violation fails the run.
// Every wait is on something in the page, never a fixed time.
import { chromium } from 'playwright-core';
import { axeCheck, expect, finish, heading, step } from './checks.mjs';

const [base, doneToken, jpegPath, staffEmail, staffPassword] = process.argv.slice(2);
if (!base || !doneToken || !jpegPath || !staffEmail || !staffPassword) {
  console.error('usage: node residents.mjs <server url> <token of a completed job> <jpeg file> <staff email> <staff password>');
  process.exit(2);
}
const LONG = 60_000;

/// Every resident journey; `check(page, name)` runs on each page reached.
async function journeys(page, check) {
  step('report a repair: the form');
  await page.goto(`${base}/report`);
  await heading(page, 'Report a repair');
  await check(page, 'report a repair');

  step('report a repair: sent empty, every problem listed');
  await page.getByRole('button', { name: 'Send report' }).click();
  await heading(page, 'There is a problem');
  expect(page.url().endsWith('/report'), `stayed on the form: ${page.url()}`);
  expect(await page.locator('.govuk-error-summary li').count() >= 6, 'the error summary lists each problem');
  await check(page, 'report a repair, with errors');
  // The summary links to the first field in error.
  await page.locator('.govuk-error-summary a').first().click();

  step('report a repair: answered');
  await page.getByLabel('A leak or drip').check();
  await page.getByLabel('Describe the problem').fill('Water dripping through the kitchen ceiling light since Tuesday.');
  await page.getByLabel('Photos (optional)').setInputFiles(jpegPath);
  await page.getByLabel('House number and street').fill('12 Station Road');
  await page.getByLabel('Town or city').fill('Worthing');
  await page.getByLabel('Postcode').fill('bn11 1ha');
  await page.getByLabel('Full name').fill('Olu Adeyemi');
  await page.getByLabel('Text message').check();
  await page.getByLabel('Mobile number').fill('07700 900222');
  await page.getByRole('button', { name: 'Send report' }).click();
  await heading(page, 'Repair reported');
  const reference = (await page.locator('.govuk-panel strong').textContent()).trim();
  expect(/^HR-\d{5}$/.test(reference), `a reference: ${reference}`);
  console.log(`reported: ${reference}`);
  await check(page, 'repair reported');

  step('track the new repair');
  await page.getByRole('link', { name: 'Follow your repair and choose an appointment' }).click();
  await heading(page, reference);
  expect((await page.locator('.govuk-tag').textContent()).trim() === 'Reported', 'status: reported');
  expect(await page.locator('.photos img').count() === 1, 'the resident\'s photo is shown');
  await check(page, 'track a new repair');

  step('book an appointment: none chosen');
  await page.getByRole('link', { name: 'Choose an appointment' }).click();
  await heading(page, 'Choose an appointment');
  await check(page, 'choose an appointment');
  await page.getByRole('button', { name: 'Book this appointment' }).click();
  await heading(page, 'There is a problem');
  await check(page, 'choose an appointment, with an error');

  step('book an appointment: the first half-day offered');
  const first = page.locator('input[name="slot"]').first();
  const slot = await first.getAttribute('value');
  await first.check();
  await page.getByRole('button', { name: 'Book this appointment' }).click();
  await heading(page, 'Appointment booked');
  await check(page, 'appointment booked');
  const ics = await page.request.get(new URL(await page.getByRole('link', { name: 'Add it to your calendar' }).getAttribute('href'), base).href);
  expect(ics.ok() && (await ics.text()).includes('BEGIN:VEVENT'), 'a calendar file');
  console.log(`booked: ${slot}`);

  step('the repair shows its appointment and can change it');
  await page.getByRole('link', { name: 'Back to your request' }).click();
  await heading(page, reference);
  expect((await page.locator('.govuk-tag').textContent()).trim() === 'Booked', 'status: booked');
  await page.getByRole('link', { name: 'Change the appointment' }).click();
  await heading(page, 'Change your appointment');
  await check(page, 'change the appointment');

  step('a completed repair shows its before and after photos');
  await page.goto(`${base}/track/${doneToken}/photos`);
  await heading(page, 'Photos');
  const images = page.locator('.photos img');
  expect(await images.count() === 2, 'two photos');
  for (const image of await images.all()) {
    const alt = await image.getAttribute('alt');
    expect(/^(Before|After) photo, taken /.test(alt), `a useful alt text: ${alt}`);
    const response = await page.request.get(new URL(await image.getAttribute('src'), base).href);
    expect(response.ok() && response.headers()['content-type'] === 'image/jpeg', 'the photo loads');
  }
  await check(page, 'a completed repair');

  step('a missed bin: the postcode');
  await page.goto(`${base}/missed-bin`);
  await heading(page, 'What is the postcode of the address?');
  await check(page, 'missed bin: postcode');
  await page.getByLabel('What is the postcode of the address?').fill('not one');
  await page.getByRole('button', { name: 'Find the address' }).click();
  await heading(page, 'There is a problem');
  await check(page, 'missed bin: postcode, with an error');
  await page.getByLabel('What is the postcode of the address?').fill('bn11 2qz');
  await page.getByRole('button', { name: 'Find the address' }).click();

  step('a missed bin: the address and details');
  await heading(page, 'Which bin was not emptied?');
  await check(page, 'missed bin: address');
  await page.getByLabel(/^3 Ham Way, Worthing, BN11 2QZ, due /).check();
  await page.getByLabel('Full name').fill('Ana Costa');
  await page.getByLabel('Do not send me updates').check();
  await page.getByRole('button', { name: 'Report the missed bin' }).click();

  step('a missed bin the crew\'s record explains: their words and photo');
  await heading(page, 'Your bin was not emptied');
  const crewPhoto = page.locator('.photos img');
  expect(await crewPhoto.count() === 1, 'the crew\'s photo');
  const photoResponse = await page.request.get(new URL(await crewPhoto.getAttribute('src'), base).href);
  expect(photoResponse.ok(), 'the crew\'s photo loads');
  await check(page, 'missed bin: explained');

  step('the back office: a wrong password, then signed in');
  await page.goto(`${base}/office`);
  await heading(page, 'Sign in');
  await check(page, 'back office: sign in');
  await page.getByLabel('Email address').fill(staffEmail);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading(page, 'There is a problem');
  await check(page, 'back office: sign in, refused');
  await page.getByLabel('Password').fill(staffPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading(page, 'Jobs');
  await check(page, 'back office: jobs');

  step('the back office: search, then sign out');
  await page.getByLabel('Search by reference or address').fill('Tarring');
  await page.getByRole('button', { name: 'Show jobs' }).click();
  await page.getByText('1 of', { exact: false }).waitFor();
  expect(await page.locator('tbody tr').count() === 1, 'one job found');
  await check(page, 'back office: jobs, searched');
  await page.getByRole('link', { name: 'HR-00002' }).click();
  await heading(page, 'History');
  expect(await page.locator('.timeline li').count() >= 4, 'the job\'s history');
  await check(page, 'back office: a job');

  step('the back office: make a job and give it to the operative');
  await page.getByRole('link', { name: 'Back to jobs' }).click();
  await page.getByRole('link', { name: 'Make a job' }).click();
  await heading(page, 'Make a job');
  await check(page, 'back office: make a job');
  await page.getByRole('button', { name: 'Make the job' }).click();
  await heading(page, 'There is a problem');
  await check(page, 'back office: make a job, with an error');
  await page.getByLabel('Service').selectOption('housing-repair');
  await page.getByLabel('Priority').selectOption('routine');
  await page.getByLabel('Address').fill('4 Ham Way, Worthing, BN11 2QZ');
  await page.getByLabel('What needs doing').fill('Gutter hanging loose over the front door.');
  await page.getByLabel('Assign to').selectOption({ label: 'Priya Sharma (operative)' });
  await page.getByRole('button', { name: 'Make the job' }).click();
  await heading(page, 'History');
  expect((await page.locator('.govuk-tag').first().textContent()).trim() === 'Reported', 'a new job, reported');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading(page, 'Sign in');

  step('an unknown link is a plain page not found');
  const missing = await page.goto(`${base}/track/${'x'.repeat(43)}`);
  expect(missing.status() === 404, `404, not ${missing.status()}`);
  await heading(page, 'Page not found');
  await check(page, 'page not found');
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  headless: true,
  timeout: LONG,
});
try {
  step('with JavaScript off');
  const plain = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
  plain.setDefaultTimeout(LONG);
  await journeys(await plain.newPage(), async () => {});
  await plain.close();

  step('with JavaScript on, axe-core on every page');
  const checking = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  checking.setDefaultTimeout(LONG);
  await journeys(await checking.newPage(), axeCheck);
  await checking.close();
} finally {
  await browser.close();
}
finish();
