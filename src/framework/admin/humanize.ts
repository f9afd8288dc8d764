/**
 * Words the admin writes in capitals (or in their own spelling) when they appear in a field, resource or
 * action name. A resource's `admin.labels` overrides the label of any one field.
 */
export const ACRONYMS: ReadonlyMap<string, string> = new Map(
  [
    '2FA',
    'API',
    'BIC',
    'CDN',
    'CORS',
    'CPU',
    'CSRF',
    'CSS',
    'CSV',
    'DNS',
    'EAN',
    'FAQ',
    'GPS',
    'GTIN',
    'HTML',
    'HTTP',
    'HTTPS',
    'IBAN',
    'ID',
    'IP',
    'ISBN',
    'ISO',
    'JSON',
    'JWT',
    'MFA',
    'MIME',
    'OAuth',
    'OTP',
    'PDF',
    'SEO',
    'SKU',
    'SMS',
    'SMTP',
    'SQL',
    'SSH',
    'SSL',
    'SSO',
    'TLS',
    'TOTP',
    'TTL',
    'UI',
    'UPC',
    'URI',
    'URL',
    'UTC',
    'UUID',
    'VAT',
    'XML',
  ].map((word) => [word.toLowerCase(), word]),
);

function spell(word: string): string {
  const acronym = ACRONYMS.get(word);
  if (acronym) {
    return acronym;
  }
  // `ids`, `urls`, `skus`: an acronym's plural keeps a lower-case s.
  const singular = word.endsWith('s') ? ACRONYMS.get(word.slice(0, -1)) : undefined;
  return singular ? `${singular}s` : word;
}

/**
 * A field, resource or action name as people read it, acronyms included; a to-one id names its relation.
 * Example: `humanize('totpEnabled')` → "TOTP enabled", `humanize('categoryId')` → "Category",
 * `humanize('tagIds')` → "Tags", `humanize('daily-sales-reports')` → "Daily sales reports".
 */
export function humanize(name: string): string {
  const words = name
    .replace(/(?<=[a-z0-9])Ids?$/, (suffix) => (suffix === 'Ids' ? 's' : ''))
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_.-]+/)
    .filter((word) => word !== '')
    .map((word) => spell(word.toLowerCase()));
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
