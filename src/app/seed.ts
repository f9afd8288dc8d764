import { EntityManager, ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import 'src/app/catalog/catalog.factories';
import { LOW_STOCK_THRESHOLD } from 'src/app/catalog/catalog.jobs';
import { slugify } from 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { Order, OrderItem, OrderStatus } from 'src/app/orders/order.entity';
import { ReportJobs } from 'src/app/reports/reports.jobs';
import { AuditService, hashPassword, User } from 'nestor';
import { EntityClass, factory, type SeedContext, type Seeder, type SeedResult } from 'nestor/cli';

const CATEGORIES = 20;
/** The first categories are top-level; the others nest under them. */
const ROOT_CATEGORIES = 5;
const TAGS = 15;
const CUSTOMERS = 24;
const ORDERS = 150;
/** Orders fall on the days before today (UTC): one on each of these days first, the rest mostly recent. */
const ORDER_DAYS = 30;
/** Products per INSERT: big enough to be fast, small enough for PostgreSQL's 65535 parameters. */
const BATCH = 500;
const DAY_MS = 24 * 3600 * 1000;
const STAFF_GROUP = 'Shop staff';
/** What the seeded staff may do: run the shop, not administer accounts. */
const STAFF_PERMISSIONS = [
  ...['products', 'categories', 'tags'].flatMap((r) =>
    ['view', 'add', 'change', 'delete'].map((a) => `${r}.${a}`),
  ),
  'orders.view',
  'orders.change',
  'orders.ship',
  'daily-sales-reports.view',
  'audit-entries.view',
];

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
async function idsBy(manager: EntityManager, table: string, key: string, values: string[]) {
  const rows = await manager.query<{ id: number; key: string }[]>(
    `SELECT id, "${key}" AS key FROM "${table}" WHERE "${key}" = ANY($1)`,
    [values],
  );
  return new Map(rows.map((r) => [r.key, r.id]));
}

/**
 * Every status, every filter: 1 product in 10 a draft and 1 in 10 archived (some of those in the trash), 1
 * in 10 low on stock; chosen by index, so even `--count 3` shows each status.
 */
function productShape(i: number): { status: ProductStatus; trashed: boolean; lowStock: boolean } {
  const status =
    [ProductStatus.Active, ProductStatus.Draft, ProductStatus.Archived][i % 10] ?? ProductStatus.Active;
  return { status, trashed: i % 20 === 12, lowStock: i % 10 === 5 };
}

/** Newer orders are still open, older ones shipped; a few of any age were cancelled. */
function orderStatus(i: number, daysAgo: number, roll: number): OrderStatus {
  const first = [OrderStatus.Pending, OrderStatus.Paid, OrderStatus.Shipped, OrderStatus.Cancelled][i];
  if (first) {
    return first; // the first four orders make sure every status shows
  }
  if (roll < 0.08) {
    return OrderStatus.Cancelled;
  }
  if (daysAgo <= 2) {
    return roll < 0.55 ? OrderStatus.Pending : OrderStatus.Paid;
  }
  return daysAgo <= 6 && roll < 0.5 ? OrderStatus.Paid : OrderStatus.Shipped;
}

/** An order to insert: its customer by email, its lines at the product's price. */
interface OrderPlan {
  status: OrderStatus;
  customer: string;
  items: { productId: number; quantity: number; unitPrice: string }[];
  createdAt: Date;
}

/** Cents of a decimal string and back, so totals are exact. */
const cents = (price: string): number => Math.round(Number(price) * 100);
const decimal = (value: number): string =>
  `${Math.floor(value / 100)}.${String(value % 100).padStart(2, '0')}`;

async function seedCatalog(
  { dataSource, count, seed, progress }: SeedContext,
  created: Record<string, number>,
): Promise<void> {
  const manager = dataSource.manager;
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
  created.categories += (await insertNew(manager, Category, roots.map(column), ['id'])).length;
  const rootIds = await idsBy(
    manager,
    'category',
    'slug',
    roots.map((c) => c.slug),
  );
  const children = categories.slice(ROOT_CATEGORIES).map((c, i) => ({
    ...column(c),
    parentId: rootIds.get(roots[i % ROOT_CATEGORIES].slug),
  }));
  created.categories += (await insertNew(manager, Category, children, ['id'])).length;
  const categoryIds = await idsBy(
    manager,
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
      manager,
      Tag,
      tags.map((t) => ({ name: t.name })),
      ['id'],
    )
  ).length;
  const tagIds = await idsBy(
    manager,
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
      const shape = productShape(start + i);
      return {
        sku: `S${seed}-${String(start + i + 1).padStart(6, '0')}`,
        status: shape.status,
        ...(shape.lowStock ? { stock: faker.number.int({ min: 0, max: LOW_STOCK_THRESHOLD - 1 }) } : {}),
        // Chosen by index, so the same seed picks the same category and tags in any database.
        categoryId: categoryIds.get(faker.helpers.arrayElement(categories).slug),
        tags: faker.helpers
          .arrayElements(tags, { min: 0, max: 3 })
          .map((tag) => ({ id: tagIds.get(tag.name) })),
        createdAt,
        updatedAt: createdAt,
        deletedAt: shape.trashed ? createdAt : null,
      };
    });
    await dataSource.transaction(async (tx) => {
      const inserted = await insertNew<Product, { id: number; sku: string }>(
        tx,
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
          deletedAt: p.deletedAt,
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
        await tx.query(
          `INSERT INTO product_tags ("productId", "tagId")
           SELECT * FROM unnest($1::int[], $2::int[]) ON CONFLICT DO NOTHING`,
          [pairs.map(([p]) => p), pairs.map(([, t]) => t)],
        );
      }
    });
    progress.advance(size);
  }
}

/** A staff member (not a superuser) in the "Shop staff" group, which holds the shop's permissions. */
async function seedStaff(
  { dataSource, seed }: SeedContext,
  passwordHash: string,
  created: Record<string, number>,
): Promise<string> {
  const email = `staff.s${seed}@example.com`;
  await dataSource.transaction(async (tx) => {
    const [group] = await tx.query<{ id: number }[]>(
      'INSERT INTO auth_group (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id',
      [STAFF_GROUP],
    );
    if (group) {
      created.groups = 1;
      // Permissions exist from the app's boot (one set per resource, plus actions' own such as orders.ship).
      await tx.query(
        `INSERT INTO group_permissions ("groupId", "permissionId")
         SELECT $1, id FROM permission WHERE codename = ANY($2) ON CONFLICT DO NOTHING`,
        [group.id, STAFF_PERMISSIONS],
      );
    }
    const [staff] = await insertNew<User, { id: number }>(
      tx,
      User,
      [{ email, passwordHash, isActive: true, isStaff: true, emailVerified: true }],
      ['id'],
    );
    if (staff) {
      created['staff users'] = 1;
      await tx.query(
        `INSERT INTO user_groups ("userId", "groupId") SELECT $1, id FROM auth_group WHERE name = $2
         ON CONFLICT DO NOTHING`,
        [staff.id, STAFF_GROUP],
      );
    }
  });
  return email;
}

/**
 * Customers and their orders over the last 30 days (UTC), with items at the products' prices. A customer's
 * orders are made with the customer, in one transaction: a second run finds the customers and adds nothing.
 * Returns the days that got new orders.
 */
async function seedOrders(
  { dataSource, app, seed }: SeedContext,
  passwordHash: string,
  created: Record<string, number>,
): Promise<string[]> {
  const today = new Date(new Date().toISOString().slice(0, 10)).getTime(); // 00:00 UTC
  const customers = await factory(User, dataSource, { seed }).buildMany(CUSTOMERS, (i, { faker }) => {
    const name = slugify(`${faker.person.firstName()} ${faker.person.lastName()}`).replace('-', '.');
    const joined = new Date(today - faker.number.int({ min: 40, max: 400 }) * DAY_MS);
    return {
      email: `${name}.s${seed}-${i + 1}@example.com`,
      createdAt: joined,
      updatedAt: joined,
    };
  });
  // Orders take what a customer could buy: products on sale then (archived since is fine), of this seed.
  const products = await dataSource.query<{ id: number; price: string }[]>(
    `SELECT id, price::text FROM product WHERE sku LIKE $1 AND status <> 'draft' AND "deletedAt" IS NULL
      ORDER BY sku`,
    [`S${seed}-%`],
  );
  // Each order's values come from its own seeded faker (the factory's), kept beside it as a plan.
  const orders: OrderPlan[] = [];
  await factory(Order, dataSource, { seed }).buildMany(ORDERS, (i, { faker }) => {
    const daysAgo = i < ORDER_DAYS ? i + 1 : 1 + Math.floor(ORDER_DAYS * faker.number.float() ** 2);
    const createdAt = new Date(today - daysAgo * DAY_MS + faker.number.int({ min: 0, max: DAY_MS - 1 }));
    const lines = products.length > 0 ? faker.helpers.arrayElements(products, { min: 1, max: 4 }) : [];
    const status = orderStatus(i, daysAgo, faker.number.float());
    orders.push({
      status,
      customer: faker.helpers.arrayElement(customers).email,
      items: lines.map((p) => ({
        productId: p.id,
        quantity: faker.number.int({ min: 1, max: 3 }),
        unitPrice: p.price,
      })),
      createdAt,
    });
    return { status, createdAt, updatedAt: createdAt };
  });
  if (products.length === 0) {
    orders.length = 0; // this seed's products are gone (deleted since): nothing to sell
  }

  return dataSource.transaction(async (tx) => {
    const inserted = await insertNew<User, { id: number; email: string }>(
      tx,
      User,
      customers.map((c) => ({
        email: c.email,
        passwordHash,
        isActive: true,
        emailVerified: true,
        createdAt: c.createdAt,
        updatedAt: c.updatedAt,
      })),
      ['id', 'email'],
    );
    created.customers = inserted.length;
    const customerIds = new Map(inserted.map((c) => [c.email, c.id]));
    const mine = orders.filter((o) => customerIds.has(o.customer));
    if (mine.length === 0) {
      return [];
    }
    const rows = await tx
      .createQueryBuilder()
      .insert()
      .into(Order)
      .values(
        mine.map((o) => ({
          status: o.status,
          total: decimal(o.items.reduce((sum, item) => sum + cents(item.unitPrice) * item.quantity, 0)),
          customerId: customerIds.get(o.customer),
          createdAt: o.createdAt,
          updatedAt: o.createdAt,
        })),
      )
      .returning('id, status, total, "customerId"')
      .updateEntity(false)
      .execute();
    const ids = rows.raw as { id: number; status: string; total: string; customerId: number }[];
    const items = mine.flatMap((o, n) => o.items.map((item) => ({ ...item, orderId: ids[n].id })));
    await tx.createQueryBuilder().insert().into(OrderItem).values(items).updateEntity(false).execute();
    created.orders = ids.length;
    created['order items'] = items.length;
    // Their history starts as an order placed through the shop would start it.
    await app.get(AuditService).record(
      tx,
      ids.map((o) => ({
        resource: 'orders',
        recordId: o.id,
        operation: 'create' as const,
        changes: { status: [null, o.status], total: [null, o.total], customerId: [null, o.customerId] },
      })),
    );
    return [...new Set(mine.map((o) => o.createdAt.toISOString().slice(0, 10)))].sort();
  });
}

/**
 * The shop's `nestor seed`: 20 categories (5 top-level), 15 tags, `count` products with 0–3 tags in every
 * status (some in the trash, some low on stock), 24 customers with 150 orders (every status, with items)
 * over the 30 days before today (UTC), a staff user in the "Shop staff" group, and the daily sales reports
 * of those days, written by the `reports.daily-sales` job's own handler. Every row's natural key comes from
 * the seed and its index (category slug `…-s7-3`, sku `S7-000042`, email `…s7-3@example.com`), and its values
 * from faker seeded with both: the same seed makes the same rows (orders dated relative to today), and
 * running it again adds nothing.
 */
export const shopSeeder: Seeder = {
  counts: 'products',
  async run(context: SeedContext): Promise<SeedResult> {
    const { dataSource, app, count, seed, progress } = context;
    progress.start(CATEGORIES + TAGS + count + CUSTOMERS + ORDERS);
    const created: Record<string, number> = {
      products: 0,
      categories: 0,
      tags: 0,
      customers: 0,
      orders: 0,
      'order items': 0,
      'staff users': 0,
      groups: 0,
      'daily sales reports': 0,
    };
    await seedCatalog(context, created);

    // One password for every seeded account, hashed once (argon2 is slow on purpose).
    const password = `demo-password-${seed}`;
    const passwordHash = await hashPassword(password);
    const staff = await seedStaff(context, passwordHash, created);
    const days = await seedOrders(context, passwordHash, created);
    progress.advance(CUSTOMERS + ORDERS);

    // The reports of the days that got orders, as the nightly job writes them (it upserts one row per day).
    const reported = new Set(
      (
        await dataSource.query<{ date: string }[]>(
          'SELECT date::text FROM daily_sales_report WHERE date = ANY($1::date[])',
          [days],
        )
      ).map((r) => r.date),
    );
    for (const date of days) {
      await app.get(ReportJobs).dailySales({ date });
    }
    created['daily sales reports'] = days.filter((d) => !reported.has(d)).length;

    const byStatus = await dataSource.query<{ kind: string; status: string; n: number }[]>(
      `SELECT 'products' AS kind, status::text, count(*)::int AS n FROM product WHERE sku LIKE $1 GROUP BY status
       UNION ALL
       SELECT 'orders', o.status::text, count(*)::int FROM "order" o JOIN "user" u ON u.id = o."customerId"
        WHERE u.email LIKE $2 GROUP BY o.status ORDER BY 1, 2`,
      [`S${seed}-%`, `%.s${seed}-%@example.com`],
    );
    const statuses = (kind: string) =>
      byStatus
        .filter((r) => r.kind === kind)
        .map((r) => `${r.n} ${r.status}`)
        .join(', ');
    return {
      created,
      existing: {
        products: count - created.products,
        categories: CATEGORIES - created.categories,
        tags: TAGS - created.tags,
        customers: CUSTOMERS - created.customers,
      },
      notes: [
        `  This seed's products: ${statuses('products')}; orders: ${statuses('orders')}`,
        `  Staff login (admin at /admin): ${staff} / ${password}, in the group "${STAFF_GROUP}"`,
        `  Customers sign in with their email and the same password`,
      ],
    };
  },
};
