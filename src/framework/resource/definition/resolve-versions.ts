import type {
  DefinitionContext,
  ResourceField,
  ResourceVersion,
} from 'src/framework/resource/definition/definition-types';
import type { FieldRepresentation } from 'src/framework/resource/resource.decorator';

/** A version number as it appears in `/api/v<n>/…`. */
export const VERSION_RE = /^[1-9][0-9]{0,2}$/;

const DATE_RE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/;

function isRepresentation(value: unknown): value is FieldRepresentation {
  const r = value as Partial<FieldRepresentation> | undefined;
  return (
    typeof r?.read === 'function' &&
    typeof r.write === 'function' &&
    typeof r.schema === 'function' &&
    typeof r.pointer === 'string'
  );
}

/**
 * The `deprecated` and `sunset` dates of a version: real ISO dates, a sunset after its deprecation.
 * `at(option)` names the option in the message `fail` throws.
 */
export function resolveDeprecation(
  spec: { deprecated?: string; sunset?: string },
  at: (option: string) => string,
  fail: (message: string) => never,
): { deprecated?: Date; sunset?: Date } {
  const date = (option: 'deprecated' | 'sunset'): Date | undefined => {
    const value = spec[option];
    if (value === undefined) {
      return undefined;
    }
    const parsed = new Date(value);
    if (typeof value !== 'string' || !DATE_RE.test(value) || Number.isNaN(parsed.getTime())) {
      fail(`${at(`.${option}`)}: expected an ISO date like 2027-06-30, got "${String(value)}"`);
    }
    return parsed;
  };
  const deprecated = date('deprecated');
  const sunset = date('sunset');
  if (sunset && (!deprecated || sunset < deprecated)) {
    fail(`${at('.sunset')}: a sunset needs an earlier "deprecated" date`);
  }
  return { deprecated, sunset };
}

/**
 * Option `versions`: numbered versions, each field mapping naming a field of the resource, deprecation and
 * sunset real dates in that order (NST-R012). Whether a deprecated version has a successor is the
 * registry's check: it knows every version the app serves.
 */
export function resolveVersions(
  context: DefinitionContext,
  fields: ReadonlyMap<string, ResourceField>,
): Map<string, ResourceVersion> {
  const { options, fail } = context;
  const versions = new Map<string, ResourceVersion>();
  for (const [version, spec] of Object.entries(options.versions ?? {})) {
    const at = (option = ''): string => `option "versions.${version}${option}"`;
    if (!VERSION_RE.test(version)) {
      fail('NST-R012', `${at()}: a version is a number like 1 or 2`);
    }
    const mapped = new Map<string, FieldRepresentation>();
    for (const [name, representation] of Object.entries(spec.fields ?? {})) {
      const field = fields.get(name);
      if (!field || (!field.readable && !field.writable)) {
        fail(
          'NST-R012',
          `${at('.fields')}: "${name}" is not a field of the resource (fields: ${[...fields.keys()].join(', ')})`,
        );
      }
      if (!isRepresentation(representation)) {
        fail(
          'NST-R012',
          `${at(`.fields.${name}`)}: expected a field representation ({ schema, read, write, pointer }, e.g. asMoney('EUR'))`,
        );
      }
      mapped.set(name, representation);
    }
    const { deprecated, sunset } = resolveDeprecation(spec, at, (message) => fail('NST-R012', message));
    versions.set(version, { fields: mapped, deprecated, sunset });
  }
  return versions;
}
