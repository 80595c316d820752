// The Playwright side of scripts/browser-bench.sh: one Chromium (Debian's), then for each
// run a new context (Playwright's fresh profile: no cookie or storage of the run before)
// and page, and the same drills as kobo's bench workflow. Prints one JSON line.
//
//   node drills.mjs <portal url> [rounds]
import { chromium } from 'playwright-core';

const [url, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg || 5);
const ms = (t) => performance.now() - t;

let t = performance.now();
const browser = await chromium.launch({
  executablePath: process.env.KOBO_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // The same flags as kobo (runner/src/browser.rs, `capabilities`).
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--window-size=1920,1080'],
});
const start = ms(t);

const runs = [];
for (let i = 0; i < rounds; i++) {
  t = performance.now();
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await context.newPage();
  const ready = ms(t);
  await page.goto(`${url}/login`);
  await page.getByLabel('ユーザーID').fill('demo');
  await page.getByLabel('パスワード').fill('kobo-demo-pass');
  await page.getByRole('button', { name: 'ログイン' }).click();
  await page.waitForURL('**/menu');
  await page.goto(`${url}/remember`);
  await page.getByText('ストレージ: なし / クッキー: なし').waitFor();
  await page.getByRole('button', { name: '覚える' }).click();
  await page.getByText('ストレージ: 覚えた / クッキー: あり').waitFor();
  const drills = ms(t) - ready;
  await context.close();
  runs.push({ ready, drills, total: ms(t) });
}
await browser.close();
console.log(JSON.stringify({ start, runs }));
