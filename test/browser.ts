// Headless Chromium for the browser tests: Debian's chromium driven by puppeteer-core (no browser
// download). One browser per test file; pages are served from 127.0.0.1, a secure context, so
// WebCodecs exists.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** `extraArgs`: more Chromium flags, e.g. '--disable-3d-apis' for a browser without WebGL. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<LaunchedBrowser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'frame-source-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', // the tests run as root
      '--headless',
      '--disable-gpu',
      // WebGL2 on the CPU: SwiftShader through ANGLE.
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      ...extraArgs,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
