import { readFileSync } from 'node:fs';
import { SecureContextOptions, createSecureContext } from 'node:tls';

/**
 * Mozilla's "intermediate" server configuration (ssl-config.mozilla.org, version 5.7): ECDHE key exchange
 * with AES-GCM or ChaCha20-Poly1305 for TLS 1.2 (forward secrecy, AEAD only, no CBC, no RSA key exchange).
 * TLS 1.3's suites are all strong and stay OpenSSL's defaults (`ciphers` does not govern them).
 */
export const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The protocol and cipher policy of every secure context Nestor builds: TLS 1.2 and 1.3 only. */
export const TLS_POLICY = {
  minVersion: 'TLSv1.2',
  ciphers: TLS_CIPHERS,
  honorCipherOrder: true,
} as const satisfies SecureContextOptions;

/** Where the certificate chain and its private key are (TLS_CERT_FILE, TLS_KEY_FILE), PEM-encoded. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/**
 * Reads the PEM files and checks that they make a usable secure context (the key matches the certificate);
 * throws an Error whose message names the variable at fault. Called at boot (the config loader, so a bad
 * file stops the start with NST-C001) and again on SIGHUP. Example:
 * `server.setSecureContext(readTlsCredentials({ certFile, keyFile }))`.
 */
export function readTlsCredentials(files: TlsFiles): SecureContextOptions & { cert: Buffer; key: Buffer } {
  const read = (variable: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new Error(`${variable}=${JSON.stringify(path)}: cannot read the file (${code})`, {
        cause: error,
      });
    }
  };
  const options = {
    ...TLS_POLICY,
    cert: read('TLS_CERT_FILE', files.certFile),
    key: read('TLS_KEY_FILE', files.keyFile),
  };
  try {
    createSecureContext(options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `TLS_CERT_FILE and TLS_KEY_FILE: not a PEM certificate chain and its matching private key (${reason})`,
      { cause: error },
    );
  }
  return options;
}
