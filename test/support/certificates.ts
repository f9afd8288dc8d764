import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A self-signed certificate made by the test for localhost and 127.0.0.1. */
export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  /** SHA-256 fingerprint, as `tls.TLSSocket#getPeerCertificate().fingerprint256` shows it. */
  fingerprint: string;
}

/**
 * Generates a P-256 key and a self-signed certificate with the `openssl` command (one process, no
 * network). Example: `const a = makeCertificate(dir, 'a')` → `dir/a.cert.pem`, `dir/a.key.pem`.
 */
export function makeCertificate(dir: string, name: string): TestCertificate {
  const certFile = join(dir, `${name}.cert.pem`);
  const keyFile = join(dir, `${name}.key.pem`);
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=nestor-test-${name}`,
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], // prettier-ignore
    { stdio: 'pipe' },
  );
  const cert = readFileSync(certFile);
  return { certFile, keyFile, cert, fingerprint: new X509Certificate(cert).fingerprint256 };
}
