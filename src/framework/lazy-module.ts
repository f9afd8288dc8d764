/**
 * A package loaded on first use instead of at boot: for dependencies only some configurations need (SMTP,
 * Redis, TOTP), so an app that does not use them neither starts slower nor holds their code in memory.
 * Take the types from an `import type`.
 * Example: `const nodemailer = lazyModule<typeof Nodemailer>('nodemailer'); nodemailer().createTransport(url)`.
 */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  // The module's own `require` (not createRequire): under Jest it is Jest's, so tests share one module
  // registry and one realm with the code they load.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return () => (loaded ??= require(name) as T);
}
