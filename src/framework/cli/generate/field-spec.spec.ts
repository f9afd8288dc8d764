import { CliError } from 'src/framework/cli/context';
import { EntityRef, parseFields, tokenize } from 'src/framework/cli/generate/field-spec';

const entities = new Map<string, EntityRef>([
  ['Category', { name: 'Category', importPath: 'src/app/catalog/category.entity', idType: 'int' }],
  ['Tag', { name: 'Tag', importPath: 'src/app/catalog/tag.entity', idType: 'int' }],
]);
const parse = (spec: string) => parseFields(spec, { entity: 'Gadget', entities });

/** The coded message a bad spec fails with. */
function failure(spec: string): string {
  try {
    parse(spec);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return (error as CliError).message;
  }
  throw new Error(`"${spec}" was accepted`);
}

describe(parseFields.name, () => {
  it('reads every type with its arguments and suffixes', () => {
    const sut = parse(
      'name:string code:string(20)! price:decimal rate:decimal(12,4)? stock:integer on:boolean at:timestamp ' +
        'status:enum(draft, in-stock) category:belongsTo(Category) parent:belongsTo(Gadget)? tags:manyToMany(Tag)',
    );
    expect(sut).toMatchObject([
      { name: 'name', type: 'string', length: 200, optional: false, unique: false },
      { name: 'code', type: 'string', length: 20, unique: true },
      { name: 'price', type: 'decimal', precision: 10, scale: 2 },
      { name: 'rate', type: 'decimal', precision: 12, scale: 4, optional: true },
      { name: 'stock', type: 'int' },
      { name: 'on', type: 'bool' },
      { name: 'at', type: 'datetime' },
      { name: 'status', type: 'enum', enumValues: ['draft', 'in-stock'] },
      { name: 'category', type: 'belongsTo', target: 'Category' },
      { name: 'parent', type: 'belongsTo', target: 'Gadget', optional: true },
      { name: 'tags', type: 'manyToMany', target: 'Tag' },
    ]);
  });

  it('splits at spaces outside parentheses', () => {
    expect(tokenize('  a:string   s:enum(x, y)\tb:int ')).toEqual(['a:string', 's:enum(x,y)', 'b:int']);
  });

  it.each([
    ['', 'NST-G002'],
    ['name', 'NST-G002'],
    ['name:strin', 'NST-G003'],
    ['Name:string', 'NST-G004'],
    ['unit_price:decimal', 'NST-G004'],
    ['categoryId:belongsTo(Category)', 'NST-G004'],
    ['a:int a:text', 'NST-G005'],
    ['tagIds:json tags:manyToMany(Tag)', 'NST-G005'],
    ['category:belongsTo(Category) categoryId:int', 'NST-G005'],
    ['s:enum(a,a)', 'NST-G005'],
    ['id:int', 'NST-G006'],
    ['createdAt:datetime', 'NST-G006'],
    ['class:string', 'NST-G006'],
    ['owner:belongsTo(Nobody)', 'NST-G007'],
    ['s:enum()', 'NST-G008'],
    ['s:enum(Draft)', 'NST-G008'],
    ['n:string(0)', 'NST-G008'],
    ['n:string(x)', 'NST-G008'],
    ['p:decimal(4,4)', 'NST-G008'],
    ['n:int(4)', 'NST-G008'],
    ['j:json!', 'NST-G009'],
    ['t:manyToMany(Tag)?', 'NST-G009'],
    ['parent:belongsTo(Gadget)', 'NST-G009'],
  ])('refuses %j with %s', (spec, code) => {
    expect(failure(spec)).toMatch(new RegExp(`^${code} `));
  });
});
