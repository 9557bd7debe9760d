// The back office in a real browser (Debian's Chromium, driven by
// playwright-core, JavaScript on) against a real doorstep-server started
// by the Rust test (`tests/e2e/office_browser.rs`):
//
//   node office.mjs <server url> <staff email> <staff password>
//
// It signs in, watches the Today board update while a simulated phone
// syncs, makes a job for the operative and has the Rust side check it
// reached her phone, looks at a job's photos, imports jobs from CSV (a bad
// file first), makes and reorders a round, enrols a phone (the Rust side
// redeems the code and syncs) and revokes it, and manages people and
// teams. axe-core runs on every page. When it needs the simulated phone,
// it prints `need: …` and waits for the Rust side's `ok` on stdin. Every
// wait is on something in the page, never a fixed time.
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { axeCheck as check, expect, finish, heading, step } from './checks.mjs';

const [base, staffEmail, staffPassword] = process.argv.slice(2);
if (!base || !staffEmail || !staffPassword) {
  console.error('usage: node office.mjs <server url> <staff email> <staff password>');
  process.exit(2);
}
const LONG = 60_000;
const JOB_2 = '00000000-0000-0000-0000-00000d000002';

const lines = createInterface({ input: process.stdin });
const answers = lines[Symbol.asyncIterator]();
/// Asks the Rust side for something; its answer after `ok`.
async function ask(what) {
  console.log(`need: ${what}`);
  const { value, done } = await answers.next();
  if (done || !value.startsWith('ok')) {
    throw new Error(`the test harness did not confirm "${what}" (got ${JSON.stringify(value)})`);
  }
  return value.slice(2).trim();
}

function csv(name, text) {
  return { name, mimeType: 'text/csv', buffer: Buffer.from(text, 'utf8') };
}

async function section(page, name, title) {
  await page.getByRole('navigation', { name: 'Back office' }).getByRole('link', { name }).click();
  await heading(page, title);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  headless: true,
  timeout: LONG,
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(LONG);
  const page = await context.newPage();

  step('sign in');
  await page.goto(`${base}/office/sign-in`);
  await page.getByLabel('Email address').fill(staffEmail);
  await page.getByLabel('Password').fill(staffPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading(page, 'Jobs');

  step('the Today board, live');
  await section(page, 'Today', 'Today');
  await page.locator('#board[data-updates="1"]').waitFor();
  await page.locator('.board-counts', { hasText: 'Work started 1' }).waitFor();
  await check(page, 'today board');
  await ask('phone starts job 2');
  await page.locator('.board-counts', { hasText: 'Work started 2' }).waitFor();
  expect((await page.locator('#board-updated').textContent()).startsWith('Live: updated'), 'the board says it is live');
  await check(page, 'today board, updated');

  step('make a job for the operative; it reaches her phone');
  await section(page, 'Jobs', 'Jobs');
  await page.getByRole('link', { name: 'Make a job' }).click();
  await heading(page, 'Make a job');
  await page.getByLabel('Service').selectOption('housing-repair');
  await page.getByLabel('Priority').selectOption('urgent');
  await page.getByLabel('Address').fill('4 Ham Way, Worthing, BN11 2QZ');
  await page.getByLabel('What needs doing').fill('Front door will not lock.');
  await page.getByLabel('Assign to').selectOption({ label: 'Priya Sharma (operative)' });
  await page.getByRole('button', { name: 'Make the job' }).click();
  await heading(page, 'History');
  const made = page.url().split('/office/jobs/')[1];
  await ask(`job on the phone ${made}`);

  step('a job with its photos');
  await page.goto(`${base}/office/jobs/${JOB_2}`);
  await heading(page, 'Photos');
  const thumbnail = page.locator('.photos img').first();
  await thumbnail.waitFor();
  const photo = await page.request.get(new URL(await thumbnail.getAttribute('src'), base).href);
  expect(photo.ok() && photo.headers()['content-type'] === 'image/jpeg', 'the photo loads');
  await check(page, 'a job with photos');

  step('import jobs: a bad file, then a good one');
  await section(page, 'Jobs', 'Jobs');
  await page.getByRole('link', { name: 'Import jobs from a file' }).click();
  await heading(page, 'Import jobs');
  await check(page, 'import jobs');
  await page.getByLabel('CSV file').setInputFiles(csv('bad.csv',
    'service,address,priority\nhousing-repair,"1 Ham Way, Worthing",urgent\nboilers,,\n'));
  await page.getByRole('button', { name: 'Import' }).click();
  await heading(page, 'Rows with problems');
  expect(await page.locator('.doorstep-table--report tbody tr').count() === 1, 'one bad row reported');
  await check(page, 'import jobs, with problems');
  await page.getByLabel('CSV file').setInputFiles(csv('good.csv',
    'service,address,priority,assignee\nhousing-repair,"1 Ham Way, Worthing",urgent,Priya Sharma\nHousing repair,"2 Ham Way, Worthing",,\n'));
  await page.getByRole('button', { name: 'Import' }).click();
  await heading(page, '2 jobs imported');
  await check(page, 'jobs imported');

  step('make a round from a property list, then move a stop');
  await section(page, 'Rounds', 'Rounds');
  await check(page, 'rounds');
  await page.getByRole('link', { name: 'Make a round' }).click();
  await heading(page, 'Make a round');
  await check(page, 'make a round');
  await page.getByLabel('Reference').fill('WR-TAR-1');
  await page.getByLabel('Crew').selectOption({ label: 'Ham Way crew' });
  await page.getByLabel('Property list (CSV)').setInputFiles(csv('round.csv',
    'address,containers\n"1 Tarring Road, Worthing, BN11 4SS",refuse_240l x2\n"3 Tarring Road, Worthing, BN11 4SS",\n'));
  await page.getByRole('button', { name: 'Make the round' }).click();
  await heading(page, 'Stops in visiting order');
  await check(page, 'a round');
  await page.getByRole('button', { name: 'Move 1 Tarring Road, Worthing, BN11 4SS down' }).click();
  await page.locator('tbody tr').first().filter({ hasText: '3 Tarring Road' }).waitFor();

  step('enrol a phone, see it sync, revoke it');
  await section(page, 'Devices', 'Devices');
  await check(page, 'devices');
  await page.getByLabel('For').selectOption({ label: 'Sam Lee (crew)' });
  await page.getByRole('button', { name: 'Make an enrolment code' }).click();
  await heading(page, 'Enrolment code for Sam Lee (crew)');
  await page.getByRole('img', { name: 'QR code of the enrolment link' }).waitFor();
  await check(page, 'enrolment code');
  const code = (await page.locator('.enrolment-code code').textContent()).trim();
  const device = await ask(`enrol ${code}`);
  await page.getByRole('link', { name: 'Back to devices' }).click();
  await heading(page, 'Devices');
  const row = page.locator('tbody tr', { hasText: device });
  await row.waitFor();
  expect(!(await row.textContent()).includes('Never'), 'the phone has synced');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await page.locator('tbody tr', { hasText: device }).filter({ hasText: 'Revoked' }).waitFor();
  await check(page, 'devices, one revoked');
  await ask('revoked');

  step('people and teams');
  await section(page, 'People and teams', 'People and teams');
  await check(page, 'people and teams');
  await page.getByLabel('Team name').fill('Tarring crew');
  await page.getByRole('button', { name: 'Add the team' }).click();
  await heading(page, 'People and teams');
  await page.getByLabel('Full name').fill('Mo Farah');
  await page.getByLabel('Role').selectOption('crew');
  await page.getByLabel('Team', { exact: true }).selectOption({ label: 'Tarring crew' });
  await page.getByRole('button', { name: 'Add the person' }).click();
  await page.getByRole('rowheader', { name: 'Mo Farah' }).waitFor();
  await page.getByLabel('Team of Sam Lee').selectOption({ label: 'Tarring crew' });
  await page.getByRole('row', { name: /Sam Lee/ }).getByRole('button', { name: 'Move' }).click();
  await heading(page, 'People and teams');
  expect(await page.getByLabel('Team of Sam Lee').inputValue() !== '', 'Sam moved');
  await page.getByRole('button', { name: 'Deactivate Mo Farah' }).click();
  await page.getByRole('button', { name: 'Reactivate Mo Farah' }).waitFor();
  await check(page, 'people and teams, changed');

  step('sign out');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading(page, 'Sign in');
  await context.close();
} finally {
  lines.close();
  await browser.close();
}
finish();
