import type { FieldSpec } from 'src/framework/resource/query-types';
import type {
  DefinitionContext,
  FieldPath,
  ResourceField,
} from 'src/framework/resource/definition/definition-types';
import { checkKnown } from 'src/framework/resource/definition/resolve-fields';
import type { Filterable } from 'src/framework/resource/definition/resolve-query';

/** What the admin options are checked against: the resource's fields and its resolved query options. */
export interface AdminCheckInput {
  fields: ReadonlyMap<string, ResourceField>;
  filterable: Filterable;
  search: readonly FieldPath[];
  sortable: ReadonlyMap<string, FieldSpec>;
}

/** Option `admin`: every field it names exists, and lists name only what the API allows (NST-R001). */
export function checkAdminOptions(context: DefinitionContext, input: AdminCheckInput): void {
  const { fields, filterable, search, sortable } = input;
  const { fail } = context;
  const admin = context.options.admin ?? {};
  const known = (option: string, names: Iterable<string>): void => checkKnown(context, fields, option, names);
  const readableOnly = (option: string, names: readonly string[]): void => {
    known(option, names);
    for (const name of names) {
      if (!fields.get(name)!.readable) {
        fail('NST-R001', `option "${option}" names "${name}", which is hidden or write-only`);
      }
    }
  };
  readableOnly('admin.listDisplay', admin.listDisplay ?? []);
  readableOnly('admin.readonlyFields', admin.readonlyFields ?? []);
  for (const name of admin.listFilter ?? []) {
    if (!filterable.has(name)) {
      fail('NST-R001', `option "admin.listFilter" names "${name}", which is not in "filter"`);
    }
  }
  for (const name of admin.searchFields ?? []) {
    if (!search.some((s) => s.spec.path === name)) {
      fail('NST-R001', `option "admin.searchFields" names "${name}", which is not in "search"`);
    }
  }
  (admin.fieldsets ?? []).forEach((fieldset, i) => known(`admin.fieldsets[${i}]`, fieldset.fields));
  for (const name of admin.autocompleteFields ?? []) {
    if (fields.get(name)?.kind === 'column' || !fields.has(name)) {
      fail('NST-R001', `option "admin.autocompleteFields" names "${name}", which is not a relation field`);
    }
  }
  if (admin.ordering !== undefined && !sortable.has(admin.ordering.replace(/^-/, ''))) {
    fail('NST-R001', `option "admin.ordering" sorts by "${admin.ordering}", which is not in "sort"`);
  }
  known('admin.labels', Object.keys(admin.labels ?? {}));
  known('admin.helpText', Object.keys(admin.helpText ?? {}));
  known('admin.titleField', admin.titleField ? [admin.titleField] : []);
}
