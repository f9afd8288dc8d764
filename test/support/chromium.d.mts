import type { Browser } from 'playwright-core';

export declare const CHROMIUM_PATH: string;
export declare const CHROMIUM_ARGS: string[];
/** Example: `const browser = await launchChromium(); const page = await browser.newPage();` */
export declare function launchChromium(): Promise<Browser>;
