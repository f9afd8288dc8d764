import { DynamicModule, Module } from '@nestjs/common';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { AppModule } from 'src/app.module';
import { LoadedConfig } from 'src/framework/config/load-config';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { HookContext, Resource, ResourceHooks, ResourceRow } from 'src/framework/resource/resource.decorator';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { TestApp, createTestApp } from 'src/framework/testing';

const calls: string[] = [];

/**
 * The shop's order lines through a second, test-only entity on the same table (an entity is exposed once,
 * and the shop's read-only OrderItemResource has it): this resource gives them writes, hooks and an
 * estimated count.
 */
@Entity('order_item')
class OrderLine {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'int' })
  orderId!: number;

  @Column({ type: 'int' })
  productId!: number;

  @Column({ type: 'int' })
  quantity!: number;

  @Column({ type: 'numeric', precision: 10, scale: 2 })
  unitPrice!: string;
}

@Resource(OrderLine, { path: 'order-lines', readOnly: ['unitPrice'], estimateCountAbove: 0 })
class OrderLineResource implements ResourceHooks {
  async beforeCreate({ manager, input }: HookContext & { input: ResourceRow }): Promise<void> {
    calls.push('beforeCreate');
    const [product] = await manager.query<{ price: string }[]>('SELECT price FROM product WHERE id = $1', [
      input.productId,
    ]);
    input.unitPrice = product.price; // server-side value for a read-only column
  }

  afterCreate({ row }: HookContext & { row: ResourceRow }): void {
    calls.push('afterCreate');
    if (row.quantity === 13) {
      throw new ProblemException({ type: PROBLEM_TYPES.conflict, title: 'Unlucky', status: 409 });
    }
  }

  beforeDelete({ current }: HookContext & { current: ResourceRow }): void {
    calls.push('beforeDelete');
    if (current.quantity === 7) {
      throw new ProblemException({ type: PROBLEM_TYPES.conflict, title: 'Kept', status: 409 });
    }
  }
}

@Module({ imports: [ResourceModule.forFeature([OrderLineResource])] })
class OrderLinesModule {}

function withOrderLines(config: LoadedConfig): DynamicModule {
  const root = AppModule.forRoot(config);
  return { ...root, imports: [...(root.imports ?? []), OrderLinesModule] };
}

describe('Resource lifecycle hooks and options', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let orderId: number;
  let productId: number;

  const post = (url: string, payload: object) => t.inject({ method: 'POST', url, payload });
  const stock = async (): Promise<number> =>
    (await dataSource.query<{ stock: number }[]>('SELECT stock FROM product WHERE id = $1', [productId]))[0]
      .stock;

  beforeAll(async () => {
    t = await createTestApp(withOrderLines, { as: 'superuser' });
    dataSource = t.app.get(DataSource);
    const category = (await post('/api/categories', { name: 'Hooks', slug: 'hooks' })).json<{ id: number }>();
    productId = (
      await post('/api/products', {
        name: 'Mug',
        sku: 'MUG-1',
        price: '3.25',
        stock: 10,
        status: 'active',
        categoryId: category.id,
      })
    ).json<{ id: number }>().id;
    orderId = (await post('/api/orders', { items: [{ productId, quantity: 4 }] })).json<{ id: number }>().id;
  });
  afterAll(() => t.close());

  beforeEach(() => {
    calls.length = 0;
  });

  it('runs before/after create hooks; a before hook can set read-only columns', async () => {
    const res = await post('/api/order-lines', { orderId, productId, quantity: 2 });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ quantity: 2, unitPrice: '3.25' });
    expect(calls).toEqual(['beforeCreate', 'afterCreate']);
  });

  it('rolls the whole write back when a hook throws inside the transaction', async () => {
    const before = await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM order_item');
    const res = await post('/api/order-lines', { orderId, productId, quantity: 13 });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(calls).toEqual(['beforeCreate', 'afterCreate']);
    expect(await dataSource.query('SELECT count(*)::int AS n FROM order_item')).toEqual(before);
  });

  it('a before-delete hook can refuse, and the row stays', async () => {
    const line = (await post('/api/order-lines', { orderId, productId, quantity: 7 })).json<{ id: number }>();
    const res = await t.inject({ method: 'DELETE', url: `/api/order-lines/${line.id}` });
    expect(res.statusCode).toBe(409);
    expect((await t.inject(`/api/order-lines/${line.id}`)).statusCode).toBe(200);
  });

  it("reports the planner's estimate as total above estimateCountAbove", async () => {
    await dataSource.query('ANALYZE order_item');
    const [{ n }] = await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM order_item');
    expect(n).toBeGreaterThan(1);
    // A page with a next page: the last one counts its rows, so it says the exact total instead.
    const res = await t.inject('/api/order-lines?limit=1');
    const body = res.json<{ data: unknown[]; meta: { total: number; totalEstimated?: boolean } }>();
    expect(res.statusCode).toBe(200);
    expect(body.meta.totalEstimated).toBe(true);
    expect(body.meta.total).toBeGreaterThan(1);
    const last = (await t.inject(`/api/order-lines?limit=1&page=${n}`)).json<{ meta: object }>().meta;
    expect(last).toMatchObject({ total: n });
    expect(last).not.toHaveProperty('totalEstimated');
    // Exact resources never carry the flag.
    expect((await t.inject('/api/products')).json<{ meta: object }>().meta).not.toHaveProperty(
      'totalEstimated',
    );
  });

  it('lets exactly one of 50 concurrent PATCHes with the same If-Match through', async () => {
    const etag = (await t.inject(`/api/products/${productId}`)).headers.etag as string;
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.inject({
          method: 'PATCH',
          url: `/api/products/${productId}`,
          payload: { name: `Mug ${i}` },
          headers: { 'if-match': etag },
        }),
      ),
    );
    const codes = responses.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.filter((c) => c === 412)).toHaveLength(49);
    const winner = responses.find((r) => r.statusCode === 200)!.json<{ name: string; version: number }>();
    expect((await t.inject(`/api/products/${productId}`)).json()).toMatchObject(winner);
  });

  it('shop: cancelling an order returns its items to stock; a final order cannot change', async () => {
    const placed = (await post('/api/orders', { items: [{ productId, quantity: 3 }] })).json<{
      id: number;
    }>();
    const afterOrder = await stock();
    const cancel = await t.inject({
      method: 'PATCH',
      url: `/api/orders/${placed.id}`,
      payload: { status: 'cancelled' },
    });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json()).toMatchObject({ status: 'cancelled' });
    expect(await stock()).toBe(afterOrder + 3);

    const reopen = await t.inject({
      method: 'PATCH',
      url: `/api/orders/${placed.id}`,
      payload: { status: 'paid' },
    });
    expect(reopen.statusCode).toBe(409);
    expect(reopen.json()).toMatchObject({ errors: [{ pointer: '/status', code: 'final' }] });
    expect((await t.inject(`/api/orders/${placed.id}`)).json()).toMatchObject({ status: 'cancelled' });
    expect(await stock()).toBe(afterOrder + 3);

    const total = await t.inject({
      method: 'PATCH',
      url: `/api/orders/${placed.id}`,
      payload: { total: '0.00' },
    });
    expect(total.statusCode).toBe(422);
    expect(total.json()).toMatchObject({ errors: [{ pointer: '/total', code: 'readOnly' }] });
  });
});
