import type { Browser, Page } from 'playwright-core';

export interface ListedOperation {
  method: string;
  /** As documented, e.g. `/api/products/{id}`. */
  path: string;
}

export type Outcome = { sent: true; status: number } | { sent: false; invalid: string[] };

export declare function launchChromium(): Promise<Browser>;
/** Opens `/docs` and pastes `token` under the `bearer` scheme of the Authorize dialog. */
export declare function openAuthorized(page: Page, baseUrl: string, token: string): Promise<void>;
/** Every operation the page shows. */
export declare function listedOperations(page: Page): Promise<ListedOperation[]>;
/** "Try it out" → "Execute" on one operation with the defaults Swagger UI fills in. */
export declare function executeWithDefaults(page: Page, operation: ListedOperation): Promise<Outcome>;
