import { ResourceModel, lit, relatedEntities, sortedUnique } from 'src/framework/cli/generate/resource.model';

/**
 * The files of `nestor generate resource`, as template literals. Prettier formats them afterwards, so the
 * templates favour readability over exact layout; literals are JSON (Prettier turns them into single quotes).
 */

export function entityTemplate(model: ResourceModel): string {
  const { names, fields, softDelete } = model;
  const typeorm = sortedUnique([
    'Entity',
    'PrimaryGeneratedColumn',
    'CreateDateColumn',
    'UpdateDateColumn',
    'Index',
    ...(softDelete ? ['DeleteDateColumn'] : []),
    ...fields.flatMap((f) => f.typeorm),
  ]);
  const validators = sortedUnique(fields.flatMap((f) => f.validators));
  const imports = [
    fields.some((f) => f.swagger) ? `import { ApiProperty } from '@nestjs/swagger';` : '',
    validators.length > 0 ? `import { ${validators.join(', ')} } from 'class-validator';` : '',
    `import { ${typeorm.join(', ')} } from 'typeorm';`,
    ...relatedEntities(fields)
      .sort((a, b) => a.importPath.localeCompare(b.importPath))
      .map((t) => `import { ${t.name} } from '${t.importPath}';`),
  ].filter(Boolean);
  const enums = fields.flatMap((f) => (f.enumDeclaration ? [f.enumDeclaration] : []));
  return `${imports.join('\n')}

${enums.join('\n\n')}

/** A ${names.human}, served at \`/api/${names.plural}\` (see ${names.file}.resource.ts). */
@Entity(${lit(names.table)})
export class ${names.entity} {
  @PrimaryGeneratedColumn()
  id!: number;

${fields.map((f) => f.members).join('\n\n')}

  @Index()
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
${
  softDelete
    ? `
  @DeleteDateColumn({ type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
`
    : ''
}}
`;
}

export function resourceTemplate(model: ResourceModel): string {
  const { names, fields, softDelete } = model;
  const search = fields.filter((f) => f.search).map((f) => f.apiName);
  const filter = [...fields.filter((f) => f.filter).map((f) => f.apiName), 'createdAt', 'updatedAt'];
  const sort = [...fields.filter((f) => f.sort).map((f) => f.apiName), 'createdAt', 'updatedAt'];
  const include = fields
    .filter((f) => f.def.type === 'belongsTo' || f.def.type === 'manyToMany')
    .map((f) => f.def.name);
  const listDisplay = fields
    .filter((f) => f.list)
    .slice(0, 5)
    .map((f) => f.apiName);
  const title =
    fields.find((f) => f.def.type === 'string' && !f.def.optional) ??
    fields.find((f) => f.def.type === 'string');
  const options = [
    search.length > 0 ? `search: ${lit(search)},` : '',
    `filter: { ${filter.map((f) => `${f}: true`).join(', ')} },`,
    `sort: ${lit(sort)},`,
    `defaultSort: '-createdAt',`,
    include.length > 0 ? `include: ${lit(include)},` : '',
    `admin: { listDisplay: ${lit(listDisplay.length > 0 ? listDisplay : ['id', 'createdAt'])}${title ? `, titleField: ${lit(title.apiName)}` : ''} },`,
  ].filter(Boolean);
  const actions = softDelete
    ? 'list, get, create, update, delete (soft) and restore'
    : 'list, get, create, update and delete';
  return `import { ${names.entity} } from '${model.folder}/${names.file}.entity';
import { Resource } from 'nestor';

/**
 * \`/api/${names.plural}\`: ${actions}.
 * Callers need the ${names.plural}.view|add|change|delete permissions (superusers have them all);
 * \`public: ['list', 'get']\` would open reading to anonymous callers.
 */
@Resource(${names.entity}, {
  ${options.join('\n  ')}
})
export class ${names.entity}Resource {}
`;
}

export function moduleTemplate(model: ResourceModel): string {
  const { names } = model;
  return `import { Module } from '@nestjs/common';
import { ${names.entity}Resource } from '${model.folder}/${names.file}.resource';
import { ResourceModule } from 'nestor';

/** The ${names.humanPlural}: \`/api/${names.plural}\`, its docs and its admin page. Listed in src/app/modules.ts. */
@Module({
  imports: [ResourceModule.forFeature([${names.entity}Resource])],
})
export class ${model.moduleName} {}
`;
}
