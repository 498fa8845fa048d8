// Opens the GraphiQL page in headless Chromium (Debian's, driven by playwright-core), opens
// its documentation explorer and reports, as one JSON line, what it shows: the fields of the
// `Query` type, what the browser refused (console errors, Content-Security-Policy violations)
// and every request that left the server (there must be none).
//
// Environment: GRAPHIQL_URL (the page), SCREENSHOT (optional: a PNG of the explorer),
// CHROMIUM (default /usr/bin/chromium), TIMEOUT_MS (default 30000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const url = new URL(process.env.GRAPHIQL_URL);
const timeout = Number(process.env.TIMEOUT_MS ?? 30000);
const profile = mkdtempSync(join(tmpdir(), 'graphiql-chromium-'));
const report = { queryFields: [], consoleErrors: [], cspViolations: [], foreignRequests: [] };

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  page.on('console', (message) => {
    if (message.type() === 'error') report.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => report.consoleErrors.push(String(error)));
  page.on('response', (response) => {
    if (response.status() >= 400) report.consoleErrors.push(`${response.status()} ${response.url()}`);
  });
  page.on('request', (request) => {
    const target = new URL(request.url());
    if (target.protocol !== 'data:' && target.host !== url.host) {
      report.foreignRequests.push(request.url());
    }
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const response = await page.goto(url.href);
  report.status = response.status();
  report.contentSecurityPolicy = response.headers()['content-security-policy'] ?? null;
  await page.locator('.graphiql-container').waitFor();
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
  // The explorer lists the root types once the schema has loaded; `Query` leads to its fields.
  await page.locator('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name', { hasText: /^Query$/ }).first().click();
  const fields = page.locator('.graphiql-doc-explorer a.graphiql-doc-explorer-field-name');
  await fields.first().waitFor();
  report.queryFields = await fields.allTextContents();
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
  report.cspViolations = report.consoleErrors.filter((e) => e.startsWith('CSP violation'));
} catch (error) {
  report.error = String(error);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(report)}\n`);
