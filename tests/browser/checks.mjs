// What the page-checking browser scripts share: progress lines for the
// Rust side, assertions, waiting on headings, and axe-core runs that
// collect every violation (the script fails at its end if there is one).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

export function step(text) {
  console.log(`step: ${text}`);
}

export function expect(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

export async function heading(page, text) {
  await page.getByRole('heading', { name: text, exact: true }).first().waitFor();
}

const violations = [];
let checked = 0;

/// Runs axe-core (WCAG 2.0 to 2.2 A and AA, and best practice) on the page.
export async function axeCheck(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
    AXE_TAGS,
  );
  checked += 1;
  console.log(`axe: ${name}: ${result.violations.length} violations, ${result.passes.length} rules passed`);
  for (const violation of result.violations) {
    const where = violation.nodes.map((node) => node.target.join(' ')).join('; ');
    violations.push(`${name}: ${violation.id} (${violation.impact}): ${violation.help} at ${where}`);
  }
}

/// Ends the run: fails it if axe-core found anything.
export function finish() {
  if (violations.length > 0) {
    console.error(`axe-core found ${violations.length} violations:\n${violations.join('\n')}`);
    process.exit(1);
  }
  console.log(`axe: ${checked} pages, no violations`);
  console.log('done');
}
