// Real Chromium (Debian's) driven by playwright-core against the dev server's Web UI; screenshots
// are kept under test-artifacts/<test>/ for people to look at after a run.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { repoRoot } from './stack';

export const UI = 'http://127.0.0.1:8233';

export async function openBrowser(artifacts: string): Promise<{ browser: Browser; page: Page; shot(name: string): Promise<void> }> {
  const dir = path.join(repoRoot, 'test-artifacts', artifacts);
  mkdirSync(dir, { recursive: true });
  // --no-sandbox: the tests run as root, where Chromium's sandbox cannot start.
  const browser = await chromium.launch({ executablePath: process.env.TITAN_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  let n = 0;
  return { browser, page, shot: async (name) => void (await page.screenshot({ path: path.join(dir, `${String(++n).padStart(2, '0')}-${name}.png`), fullPage: true })) };
}
