import 'src/app/catalog/catalog.factories';
import { gql } from 'graphql-request';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { Category } from 'src/app/catalog/category.entity';
import { Product } from 'src/app/catalog/product.entity';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';
import { client, raw } from 'test/graphql/graphql-client';

/**
 * Mutations through ResourceService (issue 22 item 1 and 2): the same validation (422 pointers), optimistic
 * concurrency, audit entries, transactional hooks and outbox as REST, and the shop's custom `placeOrder`.
 */

interface ProductRow {
  id: number;
  name: string;
  price: string;
  version: number;
  etag: string;
  deletedAt: string | null;
}

const FIELDS = 'id name price version etag deletedAt';

describe('GraphQL mutations', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let category: Category;
  let customer: TestUser;

  const sql = async (text: string, params: unknown[] = []) =>
    dataSource.query<Record<string, unknown>[]>(text, params);

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { WORKERS: 'off' } });
    dataSource = t.app.get(DataSource);
    category = await t.factory(Category).create();
    customer = await t.createUser();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('creates, updates with ifMatch, deletes and restores, each audited like REST', async () => {
    const gqlc = client(t);
    const { createProduct: created } = await gqlc.request<{ createProduct: ProductRow }>(
      gql`
        mutation ($input: ProductCreateInput!) {
          createProduct(input: $input) { ${FIELDS} }
        }
      `,
      { input: { name: 'Mug', sku: 'GQL-MUG-1', price: '4.5', categoryId: category.id } },
    );
    expect(created).toMatchObject({ name: 'Mug', price: '4.50', version: 1, deletedAt: null });
    const rest = await t.inject(`/api/products/${created.id}`);
    expect(rest.headers.etag).toBe(created.etag);

    const { updateProduct: updated } = await gqlc.request<{ updateProduct: ProductRow }>(
      gql`mutation ($id: Int!, $etag: String) { updateProduct(id: $id, input: { price: "5.00" }, ifMatch: $etag) { ${FIELDS} } }`,
      { id: created.id, etag: created.etag },
    );
    expect(updated).toMatchObject({ price: '5.00', version: 2 });

    const stale = await raw(
      t,
      `mutation { updateProduct(id: ${created.id}, input: { name: "Cup" }, ifMatch: ${JSON.stringify(created.etag)}) { id } }`,
    );
    expect(stale.errors?.[0].extensions).toMatchObject({ code: 'PRECONDITION_FAILED', status: 412 });
    expect((await sql('SELECT name FROM product WHERE id = $1', [created.id]))[0].name).toBe('Mug');

    const deleted = await gqlc.request<{ deleteProduct: number }>(
      `mutation { deleteProduct(id: ${created.id}) }`,
    );
    expect(deleted.deleteProduct).toBe(created.id);
    expect(
      (await gqlc.request<{ product: null }>(`{ product(id: ${created.id}) { id } }`)).product,
    ).toBeNull();
    const { restoreProduct } = await gqlc.request<{ restoreProduct: ProductRow }>(
      `mutation { restoreProduct(id: ${created.id}) { ${FIELDS} } }`,
    );
    expect(restoreProduct.deletedAt).toBeNull();

    const audit = await sql(
      `SELECT operation FROM audit_entry WHERE resource = 'products' AND "recordId" = $1 ORDER BY id`,
      [String(created.id)],
    );
    expect(audit.map((a) => a.operation)).toEqual(['create', 'update', 'delete', 'restore']);
  });

  it('validates like REST: a 422 with one pointer per field, and nothing written', async () => {
    const before = (await sql('SELECT count(*)::int AS n FROM product'))[0].n;
    const res = await raw(
      t,
      `mutation { createProduct(input: { name: "", sku: "bad sku", price: "-1", categoryId: ${category.id} }) { id } }`,
    );
    expect(res.status).toBe(422);
    expect(res.errors?.[0].extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      status: 422,
      type: 'urn:nestor:problem:validation-failed',
    });
    const pointers = res.errors![0].extensions.errors!.map((e) => e.pointer);
    expect(pointers).toEqual(expect.arrayContaining(['/name', '/sku', '/price']));
    const missing = await raw(
      t,
      'mutation { createProduct(input: { name: "x", sku: "GQL-X", price: "1", categoryId: 999999 }) { id } }',
    );
    expect(missing.errors?.[0].extensions.errors).toEqual([
      expect.objectContaining({ pointer: '/categoryId' }),
    ]);
    expect((await sql('SELECT count(*)::int AS n FROM product'))[0].n).toBe(before);
  });

  it('places an order with the shop’s placeOrder: stock taken, outbox written, answered as the generated Order', async () => {
    const product = await t.factory(Product).create({ name: 'Kettle', stock: 5, price: '20.00', category });
    const { placeOrder } = await client(t.actingAs(customer)).request<{
      placeOrder: {
        id: number;
        total: string;
        customerId: number;
        items: { quantity: number; product: { name: string } }[];
      };
    }>(
      gql`
        mutation ($input: PlaceOrderInput!) {
          placeOrder(input: $input) {
            id
            total
            customerId
            items {
              quantity
              product {
                name
              }
            }
          }
        }
      `,
      { input: { items: [{ productId: product.id, quantity: 2 }] } },
    );
    expect(placeOrder).toMatchObject({
      total: '40.00',
      customerId: customer.id,
      items: [{ quantity: 2, product: { name: 'Kettle' } }],
    });
    expect((await sql('SELECT stock FROM product WHERE id = $1', [product.id]))[0].stock).toBe(3);
    const outbox = await sql(`SELECT name FROM job_outbox WHERE payload->>'orderId' = $1`, [
      String(placeOrder.id),
    ]);
    expect(outbox.map((j) => j.name)).toContain('orders.send-confirmation');

    const invalid = await raw(
      t.actingAs(customer),
      `mutation { placeOrder(input: { items: [{ productId: ${product.id}, quantity: 0 }] }) { id } }`,
    );
    expect(invalid.errors?.[0].extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [expect.objectContaining({ pointer: '/items/0/quantity' })],
    });
    const short = await raw(
      t.actingAs(customer),
      `mutation { placeOrder(input: { items: [{ productId: ${product.id}, quantity: 4 }] }) { id } }`,
    );
    expect(short.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', status: 409 });
    const anonymous = await raw(
      t.anonymous(),
      `mutation { placeOrder(input: { items: [{ productId: ${product.id}, quantity: 1 }] }) { id } }`,
    );
    expect(anonymous.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('runs the resource’s transactional hooks: a shipped order is final, a cancelled one returns its stock', async () => {
    const product = await t.factory(Product).create({ stock: 10, category });
    const order = await client(t.actingAs(customer)).request<{ placeOrder: { id: number } }>(
      `mutation { placeOrder(input: { items: [{ productId: ${product.id}, quantity: 4 }] }) { id } }`,
    );
    const id = order.placeOrder.id;
    const cancelled = await client(t.actingAs(customer)).request<{ updateOrder: { status: string } }>(
      `mutation { updateOrder(id: ${id}, input: { status: cancelled }) { status } }`,
    );
    expect(cancelled.updateOrder.status).toBe('cancelled');
    expect((await sql('SELECT stock FROM product WHERE id = $1', [product.id]))[0].stock).toBe(10);
    const reopen = await raw(t, `mutation { updateOrder(id: ${id}, input: { status: pending }) { status } }`);
    expect(reopen.errors?.[0].extensions).toMatchObject({
      code: 'CONFLICT',
      errors: [expect.objectContaining({ pointer: '/status', code: 'final' })],
    });
    // Someone else's order is not found, as in REST.
    const other = await t.createUser();
    const foreign = await raw(t.actingAs(other), `mutation { deleteOrder(id: ${id}) }`);
    expect(foreign.errors?.[0].extensions.code).toBe('NOT_FOUND');
  });
});
