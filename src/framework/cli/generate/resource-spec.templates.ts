import { ResourceModel, lit, relatedEntities, sortedUnique } from 'src/framework/cli/generate/resource.model';

/** The tests `nestor generate resource` writes beside the resource: a unit spec and an e2e spec. */

/** The unit spec: the entity's class-validator rules and the resource declaration, without a database. */
export function unitSpecTemplate(model: ResourceModel): string {
  const { names, fields } = model;
  const scalars = fields.filter((f) => f.sample !== undefined);
  const enums = sortedUnique(scalars.flatMap((f) => (f.enumName ? [f.enumName] : [])));
  const valid = scalars.map((f) => `${f.def.name}: ${f.sampleCode ?? lit(f.sample)},`).join('\n');
  const invalid = scalars.map((f) => `${f.def.name}: ${lit(f.invalid)},`).join('\n');
  const rejected = scalars.map((f) => f.def.name).sort();
  const validFn = `valid${names.entity}`;
  const rulesTests =
    scalars.length === 0
      ? ''
      : `
  it('accepts a valid ${names.human}', async () => {
    expect(await validate(${validFn}())).toEqual([]);
  });

  it('rejects a bad value in every field', async () => {
    const sut = Object.assign(${validFn}(), {
      ${invalid}
    });
    const errors = await validate(sut);
    expect(errors.map((e) => e.property).sort()).toEqual(${lit(rejected)});
  });
`;
  return `${scalars.length > 0 ? `import { validate } from 'class-validator';\n` : ''}import { ${[names.entity, ...enums].join(', ')} } from '${model.folder}/${names.file}.entity';
import { ${names.entity}Resource } from '${model.folder}/${names.file}.resource';
import { resourceDeclaration } from 'nestor';
${
  scalars.length > 0
    ? `
/** A ${names.human} whose own fields are all valid (relations are checked by the API: see the e2e spec). */
function ${validFn}(): ${names.entity} {
  return Object.assign(new ${names.entity}(), {
    ${valid}
  });
}
`
    : ''
}
describe(${names.entity}Resource.name, () => {
  it('declares the resource for ${names.entity}', () => {
    expect(resourceDeclaration(${names.entity}Resource)).toMatchObject({ entity: ${names.entity} });
  });
${rulesTests}});
`;
}

/** The e2e spec's variable parts: imports, a create body, a change, a rejected value, a list query. */
function e2eSpecParts(model: ResourceModel) {
  const { fields } = model;
  const imports = [
    ...relatedEntities(fields).map((t) => `import { ${t.name} } from '${t.importPath}';`),
    `import { AppModule } from 'src/app.module';`,
    `import { TestApp, createTestApp } from 'nestor/testing';`,
  ].sort((a, b) => a.slice(a.indexOf(' from ')).localeCompare(b.slice(b.indexOf(' from '))));
  const inputLines = fields.flatMap((f): string[] => {
    if (f.sample !== undefined) {
      return [`${f.apiName}: ${lit(f.sample)},`];
    }
    if (!f.target) {
      return []; // a self reference is optional: the first row has nothing to point at
    }
    const row = `(await t.factory(${f.target.name}).create()).id`;
    return [f.def.type === 'belongsTo' ? `${f.apiName}: ${row},` : `${f.apiName}: [${row}],`];
  });
  const scalar = fields.find((f) => f.sample !== undefined);
  const patch = scalar
    ? { name: scalar.apiName, value: lit(scalar.changed) }
    : fields[0].def.type === 'manyToMany'
      ? { name: fields[0].apiName, value: '[]' }
      : { name: fields[0].apiName, value: `input.${fields[0].apiName}` };
  const bad = scalar ?? fields[0];
  const badValue = scalar ? lit(scalar.invalid) : lit('not-an-id');
  const search = fields.find((f) => f.search);
  const listQuery = search ? `, query: { q: ${lit(search.sample)} }` : '';
  return { imports, inputLines, patch, bad, badValue, listQuery };
}

/** The e2e spec: the generated routes through the test kit, on a database of their own. */
export function e2eSpecTemplate(model: ResourceModel): string {
  const { names } = model;
  const url = `/api/${names.plural}`;
  const { imports, inputLines, patch, bad, badValue, listQuery } = e2eSpecParts(model);
  return `${imports.join('\n')}

/** \`${url}\` end to end: the generated routes, validation, permissions, docs and admin. */
describe('${url}', () => {
  let t: TestApp;
  /** A valid create body; related rows come from the test kit's factories. */
  let input: Record<string, unknown>;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser' });
    input = {
      ${inputLines.join('\n')}
    };
  });
  afterAll(() => t.close());

  it('creates, lists, reads, updates and deletes a ${names.human}', async () => {
    const created = await t.inject({ method: 'POST', url: '${url}', payload: input });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject(input);
    const { id } = created.json<{ id: number }>();

    const list = await t.inject({ url: '${url}'${listQuery} });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ data: { id: number }[] }>().data.map((row) => row.id)).toContain(id);

    const read = await t.inject(\`${url}/\${id}\`);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id, ...input });

    const changes = { ${patch.name}: ${patch.value} };
    const updated = await t.inject({ method: 'PATCH', url: \`${url}/\${id}\`, payload: changes });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({ id, ...changes });

    expect((await t.inject({ method: 'DELETE', url: \`${url}/\${id}\` })).statusCode).toBe(204);
    expect((await t.inject(\`${url}/\${id}\`)).statusCode).toBe(404);
  });

  it('refuses invalid input with a problem naming the field', async () => {
    const res = await t.inject({ method: 'POST', url: '${url}', payload: { ...input, ${bad.apiName}: ${badValue} } });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json<{ errors: { pointer: string }[] }>().errors.map((e) => e.pointer)).toContain('/${bad.apiName}');
  });

  it('refuses anonymous callers', async () => {
    expect((await t.anonymous().inject({ method: 'POST', url: '${url}', payload: input })).statusCode).toBe(401);
    expect((await t.anonymous().inject('${url}')).statusCode).toBe(401);
  });

  it('is in the OpenAPI document and the admin', async () => {
    const docs = await t.inject('/docs-json');
    expect(Object.keys(docs.json<{ paths: Record<string, unknown> }>().paths)).toContain('${url}');
    const admin = await t.inject('/admin/api/schema');
    expect(admin.json<{ resources: { path: string }[] }>().resources.map((r) => r.path)).toContain('${names.plural}');
  });
});
`;
}
