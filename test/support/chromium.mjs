// Headless Chromium for the browser tests and scripts: Debian's /usr/bin/chromium (or CHROMIUM_PATH) driven by
// playwright-core, with the flags that let it run as root in a container.
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Example: `const browser = await launchChromium(); const page = await browser.newPage();` */
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}
