/**
 * Factory definitions of the catalogue: realistic data that passes the entities' validation rules.
 * Importing this file registers them; `src/app/seed.ts` and the shop's tests import it.
 * Example: `import 'src/app/catalog/catalog.factories'; const p = await t.factory(Product).create();`
 */
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { defineFactory } from 'nestor/cli';

/** "Home & Garden 3" → "home-garden-3": lowercase words joined by hyphens (the slug rule). */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

defineFactory(Category, ({ faker, sequence }) => {
  const name = `${faker.commerce.department()} ${sequence}`;
  return { name, slug: slugify(name), description: faker.commerce.productDescription() };
});

defineFactory(Tag, ({ faker, sequence }) => ({
  name: `${slugify(faker.word.adjective()) || 'tag'}-${sequence}`,
}));

defineFactory(Product, ({ faker, sequence }) => ({
  name: faker.commerce.productName(),
  // /^[A-Z0-9][A-Z0-9-]*$/: three letters, then the sequence (unique).
  sku: `${faker.string.alpha({ length: 3, casing: 'upper' })}-${String(sequence).padStart(5, '0')}`,
  description: faker.commerce.productDescription(),
  price: faker.commerce.price({ min: 1, max: 500, dec: 2 }), // a decimal string: "123.45"
  stock: faker.number.int({ min: 10, max: 200 }),
  // For sale unless a test says otherwise (the entity's own default is a draft).
  status: ProductStatus.Active,
  category: ({ association }) => association(Category),
}));
