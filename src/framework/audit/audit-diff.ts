/** Changed fields of one record: `{ price: ['10.00', '12.50'] }` (before, after). */
export type AuditChanges = Record<string, [unknown, unknown]>;

/**
 * Words that make a field name a secret (`passwordHash`, `totpSecret`, `reset_token`): such fields never
 * reach the audit log, even when a resource forgot to hide them.
 */
const SECRET_WORDS: ReadonlySet<string> = new Set([
  'password',
  'passphrase',
  'secret',
  'token',
  'hash',
  'salt',
  'otp',
  'credential',
  'credentials',
]);

/** Names seen (fields, a record's keys): every audited write asks again for the same few. Bounded. */
const secretNames = new Map<string, boolean>();
const MAX_REMEMBERED_NAMES = 4096;

/**
 * Whether a field name looks like it holds a secret: one of its camelCase or snake_case words is
 * password, secret, token, hash, salt, otp… Example: `isSecretField('passwordHash') === true`.
 */
export function isSecretField(name: string): boolean {
  let secret = secretNames.get(name);
  if (secret === undefined) {
    secret = name
      .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .some((word) => SECRET_WORDS.has(word));
    if (secretNames.size < MAX_REMEMBERED_NAMES) {
      secretNames.set(name, secret);
    }
  }
  return secret;
}

/**
 * A value as the API shows it in JSON: dates as ISO strings, bigints as strings, undefined as null.
 * Example: `auditValue(new Date(0)) === '1970-01-01T00:00:00.000Z'`.
 */
export function auditValue(value: unknown): unknown {
  if (value === undefined || value === null) {
    return null;
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value.toString();
    case 'object':
      if (value instanceof Date) {
        return value.toJSON(); // null for an invalid date; quicker for a timestamp read by a generated route
      }
      // Arrays (`tagIds`) and JSON columns: exactly what JSON.stringify sends.
      return JSON.parse(
        JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item)),
      ) as unknown;
    default:
      return null;
  }
}

function same(a: unknown, b: unknown): boolean {
  return (
    a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b))
  );
}

/** Nothing to show for a record that did not exist before or after: null, or an empty to-many list. */
function unset(value: unknown): boolean {
  return value === null || (Array.isArray(value) && value.length === 0);
}

/**
 * The fields that differ between two versions of a record, in the API representation, as
 * `{ field: [before, after] }`. `before` null (a create) lists the fields set; `after` null (a delete)
 * lists the fields that had a value (null and empty lists count as unset there). Fields in `omit` and
 * secret-looking names are left out.
 * Example: `diff({ price: '10.00', name: 'Cup' }, { price: '12.50', name: 'Cup' })` →
 * `{ price: ['10.00', '12.50'] }`.
 */
export function diff(
  before: Readonly<Record<string, unknown>> | null | undefined,
  after: Readonly<Record<string, unknown>> | null | undefined,
  omit: ReadonlySet<string> | readonly string[] = [],
): AuditChanges {
  const skip: ReadonlySet<string> = omit instanceof Set ? omit : new Set(omit);
  const changes: AuditChanges = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of keys) {
    if (skip.has(key) || isSecretField(key)) {
      continue;
    }
    const old = auditValue(before?.[key]);
    const now = auditValue(after?.[key]);
    if ((!before && unset(now)) || (!after && unset(old))) {
      continue;
    }
    if (!same(old, now)) {
      changes[key] = [old, now];
    }
  }
  return changes;
}
