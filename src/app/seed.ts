import { DataSource, EntityManager, ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import 'src/app/catalog/catalog.factories';
import { slugify } from 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import type { SeedContext, SeedResult, Seeder } from 'src/framework/cli/seed.command';
import { EntityClass, factory } from 'src/framework/testing/factory';

const CATEGORIES = 20;
/** The first categories are top-level; the others nest under them. */
const ROOT_CATEGORIES = 5;
const TAGS = 15;
/** Products per INSERT: big enough to be fast, small enough for PostgreSQL's 65535 parameters. */
const BATCH = 500;

/**
 * Inserts rows, skipping those whose natural key exists already (ON CONFLICT DO NOTHING); returns the
 * inserted rows' `returning` columns.
 */
async function insertNew<T extends ObjectLiteral, R>(
  manager: EntityManager,
  entity: EntityClass<T>,
  rows: QueryDeepPartialEntity<T>[],
  returning: string[],
): Promise<R[]> {
  const result = await manager
    .createQueryBuilder()
    .insert()
    .into(entity)
    .values(rows)
    .orIgnore()
    .returning(returning.map((c) => `"${c}"`).join(', '))
    .updateEntity(false)
    .execute();
  return result.raw as R[];
}

/** Ids by natural key, for rows of this seed inserted now or by an earlier run. */
async function idsBy(dataSource: DataSource, table: string, key: string, values: string[]) {
  const rows = await dataSource.query<{ id: number; key: string }[]>(
    `SELECT id, "${key}" AS key FROM "${table}" WHERE "${key}" = ANY($1)`,
    [values],
  );
  return new Map(rows.map((r) => [r.key, r.id]));
}

/**
 * The shop's `nestor seed`: 20 categories (5 top-level), 15 tags and `count` products with 0–3 tags,
 * made by the catalogue factories. Every row's natural key comes from the seed and its index (category
 * slug `…-s7-3`, tag `…-s7-3`, sku `S7-000042`), and its values from faker seeded with both: the same
 * seed makes the same rows in any database, and running it again adds nothing.
 */
export const shopSeeder: Seeder = {
  counts: 'products',
  async run({ dataSource, count, seed, progress }: SeedContext): Promise<SeedResult> {
    progress.start(CATEGORIES + TAGS + count);
    const created = { products: 0, categories: 0, tags: 0 };

    // Categories: built with their faker data, keyed by seed and index; roots first, for the parents.
    const categories = await factory(Category, dataSource, { seed }).buildMany(CATEGORIES, (i, { faker }) => {
      const department = faker.commerce.department();
      return {
        name: `${department} ${seed}-${i + 1}`,
        slug: `${slugify(department)}-s${seed}-${i + 1}`,
      };
    });
    const column = (c: Category) => ({ name: c.name, slug: c.slug, description: c.description });
    const roots = categories.slice(0, ROOT_CATEGORIES);
    created.categories += (await insertNew(dataSource.manager, Category, roots.map(column), ['id'])).length;
    const rootIds = await idsBy(
      dataSource,
      'category',
      'slug',
      roots.map((c) => c.slug),
    );
    const children = categories.slice(ROOT_CATEGORIES).map((c, i) => ({
      ...column(c),
      parentId: rootIds.get(roots[i % ROOT_CATEGORIES].slug),
    }));
    created.categories += (await insertNew(dataSource.manager, Category, children, ['id'])).length;
    const categoryIds = await idsBy(
      dataSource,
      'category',
      'slug',
      categories.map((c) => c.slug),
    );
    progress.advance(CATEGORIES);

    const tags = await factory(Tag, dataSource, { seed }).buildMany(TAGS, (i, { faker }) => ({
      name: `${slugify(faker.word.adjective()) || 'tag'}-s${seed}-${i + 1}`,
    }));
    created.tags = (
      await insertNew(
        dataSource.manager,
        Tag,
        tags.map((t) => ({ name: t.name })),
        ['id'],
      )
    ).length;
    const tagIds = await idsBy(
      dataSource,
      'tag',
      'name',
      tags.map((t) => t.name),
    );
    progress.advance(TAGS);

    // Products, a batch at a time: one INSERT for the products, one for their tags, in one transaction.
    const products = factory(Product, dataSource, { seed });
    for (let start = 0; start < count; start += BATCH) {
      const size = Math.min(BATCH, count - start);
      const batch = await products.buildMany(size, (i, { faker }) => {
        const createdAt = faker.date.between({ from: '2025-01-01T00:00:00Z', to: '2025-12-31T23:59:59Z' });
        return {
          sku: `S${seed}-${String(start + i + 1).padStart(6, '0')}`,
          // Chosen by index, so the same seed picks the same category and tags in any database.
          categoryId: categoryIds.get(faker.helpers.arrayElement(categories).slug),
          tags: faker.helpers
            .arrayElements(tags, { min: 0, max: 3 })
            .map((tag) => ({ id: tagIds.get(tag.name) })),
          createdAt,
          updatedAt: createdAt,
        };
      });
      await dataSource.transaction(async (manager) => {
        const inserted = await insertNew<Product, { id: number; sku: string }>(
          manager,
          Product,
          batch.map((p) => ({
            name: p.name,
            sku: p.sku,
            description: p.description,
            price: p.price,
            stock: p.stock,
            status: p.status,
            categoryId: p.categoryId,
            createdAt: p.createdAt,
            updatedAt: p.updatedAt,
          })),
          ['id', 'sku'],
        );
        created.products += inserted.length;
        // Tags only for products inserted now: an earlier run's products keep theirs.
        const newIds = new Map(inserted.map((row) => [row.sku, row.id]));
        const pairs = batch.flatMap((p) =>
          newIds.has(p.sku) ? p.tags.map((tag) => [newIds.get(p.sku)!, tag.id] as const) : [],
        );
        if (pairs.length > 0) {
          await manager.query(
            `INSERT INTO product_tags ("productId", "tagId")
             SELECT * FROM unnest($1::int[], $2::int[]) ON CONFLICT DO NOTHING`,
            [pairs.map(([p]) => p), pairs.map(([, t]) => t)],
          );
        }
      });
      progress.advance(size);
    }

    return {
      created,
      existing: {
        products: count - created.products,
        categories: CATEGORIES - created.categories,
        tags: TAGS - created.tags,
      },
    };
  },
};
