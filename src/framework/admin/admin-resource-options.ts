import type { AdminInline, AdminResource } from 'src/framework/admin/admin-schema.types';
import { humanize } from 'src/framework/admin/humanize';
import { ADMIN_ICONS, AdminIcon, DEFAULT_ADMIN_ICON } from 'src/framework/resource/admin-icons';
import {
  ResourceDeclarationError,
  ResourceDefinition,
  ResourceField,
} from 'src/framework/resource/resource-definition';
import type { ResourceAdminInline } from 'src/framework/resource/resource.decorator';

/** What an inline takes from its child resource's resolved schema (defaults for columns, sort, heading). */
export type InlineChildSchema = Pick<AdminResource, 'label' | 'listDisplay' | 'ordering'>;

/** `admin.icon`, checked against the icons the UI ships (NST-R007). */
export function resolveIcon(definition: ResourceDefinition): AdminIcon {
  const icon = definition.options.admin?.icon ?? DEFAULT_ADMIN_ICON;
  if (!(ADMIN_ICONS as readonly string[]).includes(icon)) {
    throw new ResourceDeclarationError(
      'NST-R007',
      `${definition.className}: option "admin.icon" is "${String(icon)}", which is not an icon the admin ships (icons: ${ADMIN_ICONS.join(', ')})`,
    );
  }
  return icon;
}

function childOf(
  declared: ResourceAdminInline['resource'],
  all: readonly ResourceDefinition[],
  fail: (code: string, message: string) => never,
): ResourceDefinition {
  if (typeof declared === 'string') {
    return (
      all.find((d) => d.path === declared) ??
      fail(
        'NST-R010',
        `names resource "${declared}", which is not a registered resource (paths: ${all.map((d) => d.path).join(', ')})`,
      )
    );
  }
  if (typeof declared !== 'function') {
    return fail('NST-R010', 'needs "resource": the child resource class or its path');
  }
  return (
    all.find((d) => (d.hooks as object).constructor === declared) ??
    fail('NST-R010', `names ${declared.name}, which is not registered with ResourceModule.forFeature`)
  );
}

/** The child's to-one field that points at `parent` (Django's `fk_name`, inferred when there is one). */
function foreignKeyOf(
  parent: ResourceDefinition,
  child: ResourceDefinition,
  fkName: string | undefined,
  fail: (code: string, message: string) => never,
): ResourceField {
  const candidates = [...child.fields.values()].filter(
    (f) => f.kind === 'toOneId' && f.relation?.inverseEntityMetadata.target === parent.metadata.target,
  );
  const names = candidates.map((f) => f.relation!.propertyName);
  if (fkName !== undefined) {
    return (
      candidates.find((f) => f.relation!.propertyName === fkName) ??
      fail(
        'NST-R010',
        `has "fkName" "${fkName}", which is not a to-one relation of ${child.name} to ${parent.name} (relations to ${parent.name}: ${names.join(', ') || 'none'})`,
      )
    );
  }
  if (candidates.length !== 1) {
    fail(
      'NST-R010',
      candidates.length === 0
        ? `names ${child.className}, but ${child.name} has no to-one relation to ${parent.name}`
        : `names ${child.className}, whose ${child.name} has ${candidates.length} relations to ${parent.name} (${names.join(', ')}): set "fkName"`,
    );
  }
  return candidates[0];
}

/**
 * `admin.inlines` of `parent`, resolved against the other resources and checked (NST-R010 for the child and
 * its relation, NST-R001 for its fields and ordering). `schemaOf` gives a child's resolved admin schema.
 * Example: `resolveInlines(orders, registry.all(), (path) => schemas.get(path)!)`.
 */
export function resolveInlines(
  parent: ResourceDefinition,
  all: readonly ResourceDefinition[],
  schemaOf: (path: string) => InlineChildSchema,
): AdminInline[] {
  const inlines: AdminInline[] = [];
  (parent.options.admin?.inlines ?? []).forEach((declared, i) => {
    const option = `admin.inlines[${i}]`;
    const fail = (code: string, message: string): never => {
      throw new ResourceDeclarationError(code, `${parent.className}: option "${option}" ${message}`);
    };
    const child = childOf(declared.resource, all, fail);
    const fk = foreignKeyOf(parent, child, declared.fkName, fail);
    if (!fk.readable || !child.query.filterable.get(fk.name)?.operators.has('eq')) {
      fail(
        'NST-R010',
        `lists ${child.className} by "${fk.name}", which its "filter" must allow (the admin asks for filter[${fk.name}]=<id>)`,
      );
    }
    if (inlines.some((inline) => inline.resource === child.path && inline.fkField === fk.name)) {
      fail('NST-R010', `repeats the inline of ${child.className} by "${fk.name}"`);
    }
    const childSchema = schemaOf(child.path);
    for (const name of declared.fields ?? []) {
      if (!child.fields.get(name)?.readable) {
        fail(
          'NST-R001',
          `names field "${name}", which ${child.className} does not show (fields: ${child.readable.map((f) => f.name).join(', ')})`,
        );
      }
    }
    if (declared.ordering !== undefined && !child.query.sortable.has(declared.ordering.replace(/^-/, ''))) {
      fail(
        'NST-R001',
        `sorts by "${declared.ordering}", which is not in the "sort" of ${child.className} (${[...child.query.sortable.keys()].join(', ')})`,
      );
    }
    // The parent's side of the relation names the rows best: Order.items → "Items".
    const inverse = parent.metadata.relations.find((r) => r.inverseRelation === fk.relation);
    inlines.push({
      resource: child.path,
      fkField: fk.name,
      label: declared.label ?? (inverse ? humanize(inverse.propertyName) : childSchema.label),
      fields: declared.fields ?? childSchema.listDisplay.filter((name) => name !== fk.name),
      ordering: declared.ordering ?? childSchema.ordering,
    });
  });
  return inlines;
}
