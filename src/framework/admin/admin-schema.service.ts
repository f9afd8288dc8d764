import { Injectable, OnModuleInit, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getMetadataStorage } from 'class-validator';
import { AdminActionDeclaration, adminActionsOf } from 'src/framework/resource/admin-action.decorator';
import { resolveIcon, resolveInlines } from 'src/framework/admin/admin-resource-options';
import {
  AdminAction,
  AdminField,
  AdminFieldType,
  AdminResource,
  AdminSchema,
} from 'src/framework/admin/admin-schema.types';
import { isSecretField } from 'src/framework/audit/audit-diff';
import { FieldRules, fieldRules } from 'src/framework/fields/field-rules';
import { humanize } from 'src/framework/admin/humanize';
import { can, Principal } from 'src/framework/access/principal';
import {
  ResourceDefinition,
  ResourceDeclarationError,
  ResourceField,
  holdsList,
} from 'src/framework/resource/resource-definition';
import { resourceServiceToken } from 'src/framework/resource/resource.module';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';
import type { ResourceService } from 'src/framework/resource/resource.service';

/** Bump when the schema's shape changes incompatibly (the admin UI checks it). */
export const ADMIN_SCHEMA_VERSION = 1 as const;

/** An action resolved at boot: its schema, the method to call and the input class. */
export interface ResolvedAdminAction {
  schema: AdminAction;
  declaration: AdminActionDeclaration;
  resourceClass: Type;
}

interface ResolvedResource {
  definition: ResourceDefinition;
  schema: Omit<AdminResource, 'permissions' | 'actions'>;
  actions: Map<string, ResolvedAdminAction>;
}

const TITLE_CANDIDATES = ['name', 'title', 'email', 'slug', 'code'];
const LIST_COLUMNS = 6;
const NOT_IN_FORMS = new Set(['deletedAt', 'version']);

/**
 * The admin's view of a field's rules (the same FieldRules OpenAPI documents and the server checks): bounds,
 * lengths and the pattern with what it means, so the form can say so before the server does.
 */
export function adminLimits(rules: FieldRules): Partial<AdminField> {
  const integer = rules.type === 'integer';
  const min =
    rules.minimum ??
    (rules.decimalMinimum !== undefined ? Number(rules.decimalMinimum) : undefined) ??
    (integer && rules.exclusiveMinimum !== undefined ? rules.exclusiveMinimum + 1 : undefined);
  const max =
    rules.maximum ??
    (rules.decimalMaximum !== undefined ? Number(rules.decimalMaximum) : undefined) ??
    (integer && rules.exclusiveMaximum !== undefined ? rules.exclusiveMaximum - 1 : undefined);
  return {
    min: min ?? null,
    max: max ?? null,
    minLength: rules.minLength ?? null,
    maxLength: rules.maxLength ?? null,
    pattern: rules.pattern ?? null,
    patternMessage: rules.patternMessage ?? null,
  };
}

function baseField(name: string, label: string): AdminField {
  return {
    name,
    label,
    type: 'string',
    required: false,
    readOnly: false,
    writeOnly: false,
    nullable: true,
    enum: null,
    min: null,
    max: null,
    minLength: null,
    maxLength: null,
    pattern: null,
    patternMessage: null,
    helpText: null,
    relation: null,
  };
}

/** The fields of a plain class-validator class (an action's input form). */
function inputFields(input: Type<object>): AdminField[] {
  const rules = getMetadataStorage().getTargetValidationMetadatas(input, '', true, false);
  const names = [...new Set(rules.map((rule) => rule.propertyName))];
  return names.map((name) => {
    const own = rules.filter((rule) => rule.propertyName === name).map((rule) => rule.name);
    const enumRule = rules.find((rule) => rule.propertyName === name && rule.name === 'isIn');
    const type: AdminFieldType = enumRule
      ? 'enum'
      : own.includes('isInt')
        ? 'integer'
        : own.includes('isNumber')
          ? 'number'
          : own.includes('isBoolean')
            ? 'boolean'
            : own.includes('isDateString') || own.includes('isISO8601')
              ? 'datetime'
              : 'string';
    return {
      ...baseField(name, humanize(name)),
      type,
      writeOnly: isSecretField(name), // a password typed into the form is never shown back
      required:
        !own.includes('isOptional') &&
        !rules.some((r) => r.propertyName === name && r.type === 'conditionalValidation'),
      nullable: false,
      enum: enumRule ? (enumRule.constraints[0] as unknown[]).map(String) : null,
      ...adminLimits(fieldRules({ type, nullable: false, custom: [] }, input, name)),
    };
  });
}

type AdminOptions = NonNullable<ResourceDefinition['options']['admin']>;

/** A resource's readable or writable fields as the admin shows them; relations name their target's path. */
function adminFields(
  definition: ResourceDefinition,
  all: ResourceDefinition[],
  admin: AdminOptions,
): AdminField[] {
  const pathOf = (field: ResourceField): string | undefined =>
    all.find((d) => d.metadata.target === field.relation?.inverseEntityMetadata.target)?.path;
  return [...definition.fields.values()]
    .filter((field) => field.readable || field.writable)
    .map((field) => {
      const target = field.kind === 'column' ? undefined : pathOf(field);
      const type: AdminFieldType = target
        ? 'relation'
        : field.type === 'bigint'
          ? 'integer'
          : holdsList(field)
            ? 'json'
            : field.type;
      return {
        ...baseField(field.name, admin.labels?.[field.name] ?? humanize(field.name)),
        type,
        required: field.required,
        readOnly: !field.writable || (admin.readonlyFields ?? []).includes(field.name),
        writeOnly: field.writable && !field.readable,
        nullable: field.nullable,
        enum: field.enumValues ? [...field.enumValues] : null,
        helpText: admin.helpText?.[field.name] ?? null,
        relation: target
          ? { resource: target, cardinality: field.kind === 'toManyIds' ? 'toMany' : 'toOne' }
          : null,
        ...(holdsList(field) ? {} : adminLimits(field.rules)),
      } satisfies AdminField;
    });
}

/** The list page's filters: the declared ones, else every filterable enum, boolean, date or relation. */
function listFilters(definition: ResourceDefinition, fields: AdminField[], admin: AdminOptions) {
  const typeOf = (name: string): AdminFieldType => {
    const type =
      fields.find((f) => f.name === name)?.type ?? definition.query.filterable.get(name)?.field.type;
    return type === 'bigint' ? 'integer' : (type ?? 'string');
  };
  const defaultFilters = [...definition.query.filterable.keys()].filter((name) =>
    ['enum', 'boolean', 'date', 'datetime', 'relation'].includes(typeOf(name)),
  );
  return (admin.listFilter ?? defaultFilters).map((name) => ({
    field: name,
    label: fields.find((f) => f.name === name)?.label ?? humanize(name),
    type: typeOf(name),
    operators: [...(definition.query.filterable.get(name)?.operators ?? [])],
  }));
}

/**
 * The admin schema (`GET /admin/api/schema`): every resource's fields, list, filters, form layout and
 * actions, derived from the `@Resource` declarations (and their `admin` options) at boot; per request
 * only the caller's permissions are added. Bad action declarations stop the boot (NST-R009).
 */
@Injectable()
export class AdminSchemaService implements OnModuleInit {
  private readonly resources = new Map<string, ResolvedResource>();

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    this.registry.resolveAll();
    const definitions = this.registry.all();
    for (const definition of definitions) {
      this.resources.set(definition.path, this.resolve(definition, definitions));
    }
    // Inlines take their defaults from the child's schema: a second pass, once every resource is resolved.
    for (const { definition, schema } of this.resources.values()) {
      schema.inlines = resolveInlines(definition, definitions, (path) => this.resources.get(path)!.schema);
    }
  }

  /** The schema as `principal` may see it: resources they may do nothing with are left out. */
  schemaFor(principal: Principal): AdminSchema {
    const resources: AdminResource[] = [];
    for (const { definition, schema, actions } of this.resources.values()) {
      const permissions = {
        view: can(principal, `${definition.path}.view`),
        add: definition.actions.has('create') && can(principal, `${definition.path}.add`),
        change: definition.actions.has('update') && can(principal, `${definition.path}.change`),
        delete: definition.actions.has('delete') && can(principal, `${definition.path}.delete`),
      };
      if (!permissions.view) {
        continue; // the admin lists what it can show
      }
      resources.push({
        ...schema,
        // A child the user may not view is left out, as its own resource is.
        inlines: schema.inlines.filter((inline) => can(principal, `${inline.resource}.view`)),
        actions: [...actions.values()]
          .filter((action) => can(principal, action.schema.permission))
          .map((action) => action.schema),
        permissions,
      });
    }
    return {
      version: ADMIN_SCHEMA_VERSION,
      user: {
        id: principal.userId,
        email: principal.email,
        isStaff: principal.isStaff,
        isSuperuser: principal.isSuperuser,
      },
      resources,
    };
  }

  /** A resource's definition by path, or undefined. */
  definition(path: string): ResourceDefinition | undefined {
    return this.resources.get(path)?.definition;
  }

  /** The service behind a resource's routes (list, parseId…), for the admin's own endpoints. */
  serviceOf(definition: ResourceDefinition): ResourceService {
    const resourceClass = (definition.hooks as object).constructor as Type;
    return this.moduleRef.get(resourceServiceToken(resourceClass), { strict: false });
  }

  /** A declared action, or undefined. */
  action(path: string, name: string): ResolvedAdminAction | undefined {
    return this.resources.get(path)?.actions.get(name);
  }

  private resolve(definition: ResourceDefinition, all: ResourceDefinition[]): ResolvedResource {
    const admin: AdminOptions = definition.options.admin ?? {};
    const fields = adminFields(definition, all, admin);
    const readable = fields.filter((f) => !f.writeOnly);
    const titleField =
      admin.titleField ??
      TITLE_CANDIDATES.find((name) => readable.some((f) => f.name === name)) ??
      definition.id.name;
    const label = humanize(definition.path);
    const schema: ResolvedResource['schema'] = {
      name: definition.name,
      path: definition.path,
      label,
      labelSingular: humanize(definition.name),
      icon: resolveIcon(definition),
      primaryKey: definition.id.name,
      titleField,
      fields,
      listDisplay:
        admin.listDisplay ??
        readable
          .filter((f) => !['json', 'text'].includes(f.type) && f.relation?.cardinality !== 'toMany')
          .slice(0, LIST_COLUMNS)
          .map((f) => f.name),
      searchFields: admin.searchFields ?? definition.search.map((s) => s.spec.path),
      listFilter: listFilters(definition, fields, admin),
      sortable: [...definition.query.sortable.keys()],
      ordering: admin.ordering ?? definition.options.defaultSort ?? null,
      fieldsets: (
        admin.fieldsets ?? [
          {
            fields: fields
              .filter((f) => f.name !== definition.id.name && !NOT_IN_FORMS.has(f.name))
              .map((f) => f.name),
          },
        ]
      ).map((fieldset) => ({ title: fieldset.title ?? null, fields: fieldset.fields })),
      autocompleteFields:
        admin.autocompleteFields ?? fields.filter((f) => f.type === 'relation').map((f) => f.name),
      softDelete: definition.deleteDateColumn !== undefined,
      readOnly: !definition.actions.has('create') && !definition.actions.has('update'),
      inlines: [], // resolved in onModuleInit's second pass
    };
    return { definition, schema, actions: this.resolveActions(definition) };
  }

  private resolveActions(definition: ResourceDefinition): Map<string, ResolvedAdminAction> {
    const resourceClass = (definition.hooks as object).constructor as Type;
    const actions = new Map<string, ResolvedAdminAction>();
    for (const declaration of adminActionsOf(resourceClass)) {
      const { name, options } = declaration;
      const fail = (message: string): never => {
        throw new ResourceDeclarationError(
          'NST-R009',
          `${definition.className}: admin action "${name}" ${message}`,
        );
      };
      if (!/^[a-z][a-z0-9-]*$/.test(name)) {
        fail('must be a lower-case kebab-case name');
      }
      if (actions.has(name)) {
        fail('is declared twice');
      }
      const permission = options.permission ?? 'change';
      const codename = ['view', 'add', 'change', 'delete'].includes(permission)
        ? `${definition.path}.${permission}`
        : permission;
      if (!/^[a-z0-9-]+\.[a-z0-9-]+$/.test(codename)) {
        fail(`has an invalid permission "${permission}" (view, add, change, delete, or "<resource>.<name>")`);
      }
      actions.set(name, {
        declaration,
        resourceClass,
        schema: {
          name,
          label: options.label ?? humanize(name),
          permission: codename,
          bulk: options.bulk ?? true,
          confirm: options.confirm ?? null,
          job: options.job ?? false,
          input: options.input ? inputFields(options.input) : null,
        },
      });
    }
    return actions;
  }
}
