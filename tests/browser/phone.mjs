// A phone running the web app, for the scripts that take field steps:
// Debian's Chromium with a profile of its own, enrolled with a code, and
// the waits those scripts share. Every wait is on a condition in the page.
import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { axeCheck } from './checks.mjs';

// Generous bounds: a slow CI machine is not a failure. Nothing sleeps.
export const LONG = 120_000;

/// A phone's browser: Chromium with a fresh profile, the size of a phone,
/// in Worthing and letting the app know where. `clock`, if given, is the
/// moment (ms since 1970) its pages' clocks show. `close` ends it and
/// deletes the profile.
export async function launch({ clock } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'doorstep-phone-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    headless: true,
    viewport: { width: 420, height: 860 },
    timeout: LONG,
    geolocation: { latitude: 50.81127, longitude: -0.37531 },
    permissions: ['geolocation'],
  });
  context.setDefaultTimeout(LONG);
  if (clock !== undefined) await context.clock.setFixedTime(new Date(clock));
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/// Opens the app at `appUrl` on a new phone ([`launch`]) and enrols with
/// `code`; `check` runs axe-core on the enrol and Today screens. `clock`
/// fixes the pages' clock, so the days a job is listed under do not depend
/// on when the test runs.
export async function openPhone(appUrl, code, { check = false, clock } = {}) {
  const phone = await launch({ clock });
  const { page } = phone;
  await page.goto(appUrl);
  await page.locator('#code').waitFor();
  if (check) await axeCheck(page, 'app: enrol');
  await page.locator('#code').fill(code);
  await page.getByRole('button', { name: /enrol/i }).click();
  await page.getByText(/All synced at/).waitFor();
  if (check) await axeCheck(page, 'app: today');
  return phone;
}

/// Waits until the app has sent everything and the office's verdicts are
/// back (the app syncs an edit made in signal by itself).
export async function synced(page) {
  await page.waitForFunction(() => !document.querySelector('.unsynced, .pending'));
}

/// Back to the Today list.
export async function back(page) {
  await page.getByRole('button', { name: '← Today' }).click();
}

/// Waits until the button whose own words are `label` (with what it needs
/// after them, if anything) is enabled.
export async function enabled(page, label) {
  await page.waitForFunction((words) => [...document.querySelectorAll('button')].some((b) =>
    !b.disabled && (b.textContent === words || b.textContent.startsWith(`${words} (`))), label);
}

/// The button whose own words are `label`.
export function button(page, label) {
  return page.locator('button').filter({
    hasText: new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\(.*\\))?$`),
  }).first();
}

/// Saves a screenshot as `name`.png in `shots`, unless it is `-` or unset:
/// the whole page, or its top `height` pixels.
export async function shot(shots, page, name, height) {
  if (shots && shots !== '-') {
    const clip = height ? { x: 0, y: 0, width: page.viewportSize().width, height } : undefined;
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, clip });
  }
}
