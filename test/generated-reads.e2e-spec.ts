import { createHash } from 'node:crypto';
import { Injectable, Module } from '@nestjs/common';
import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Category } from 'src/app/catalog/category.entity';
import type { Principal } from 'src/framework/access/principal';
import { Resource, ResourceRow } from 'src/framework/resource/resource.decorator';
import { ResourceModule } from 'src/framework/resource/resource.module';
import { ResourceService } from 'src/framework/resource/resource.service';
import type { Trashed } from 'src/framework/resource/query-types';
import { TestApp, createTestApp } from 'src/framework/testing';
import { appWith } from 'test/support/app-with';

/** The shop's products through a second, test-only entity on the same table, served by a user's service. */
@Entity('product')
class OverriddenProduct {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @ManyToOne(() => Category, { nullable: false })
  @JoinColumn({ name: 'categoryId' })
  category!: Category;

  @Column({ type: 'int' })
  categoryId!: number;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}

/** A user's service: answers every product with its category unless the client already asked for it. */
@Injectable()
class OverriddenProductService extends ResourceService {
  override async get(
    id: unknown,
    options: { fields?: string[]; include?: string[]; principal?: Principal; trashed?: Trashed } = {},
  ): Promise<{ row: ResourceRow; etag: string }> {
    if (options.include && !options.include.includes('category')) {
      options.include.push('category');
    }
    return super.get(id, options);
  }
}

@Resource(OverriddenProduct, {
  path: 'overridden-products',
  include: ['category'],
  public: ['list', 'get'],
  actions: ['list', 'get'],
  service: OverriddenProductService,
})
class OverriddenProductResource {}

@Module({ imports: [ResourceModule.forFeature([OverriddenProductResource])] })
class OverriddenProductsModule {}

const withOverriddenProducts = appWith(OverriddenProductsModule);

const sha1 = (text: string): string => `"${createHash('sha1').update(text).digest('base64url')}"`;

describe('generated GET /:id (ETag and body, shared empty query)', () => {
  let t: TestApp;
  let productId: number;
  let tagIds: number[];

  const post = async (url: string, payload: object): Promise<{ id: number }> => {
    const res = await t.inject({ method: 'POST', url, payload });
    expect({ status: res.statusCode, body: res.body }).toMatchObject({ status: 201 });
    return res.json<{ id: number }>();
  };

  beforeAll(async () => {
    t = await createTestApp(withOverriddenProducts, { as: 'superuser', env: { RESOURCE_CACHE: 'off' } });
    const { id: categoryId } = await post('/api/categories', { name: 'Review', slug: 'review' });
    tagIds = [
      (await post('/api/tags', { name: 'zz-review' })).id,
      (await post('/api/tags', { name: 'aa-review' })).id,
    ];
    ({ id: productId } = await post('/api/products', {
      name: 'Reviewed',
      sku: 'REV-1',
      price: '3.50',
      categoryId,
      tagIds,
    }));
  });

  afterAll(() => t?.close());

  it('answers the JSON its ETag hashed, and the same row the list answers', async () => {
    const res = await t.inject(`/api/products/${productId}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe(sha1(res.body));
    const list = await t.inject(`/api/products?filter[sku]=REV-1`);
    expect(JSON.stringify(list.json<{ data: unknown[] }>().data[0])).toBe(res.body);
    expect(res.json<{ tagIds: number[] }>().tagIds).toEqual([...tagIds].sort((a, b) => a - b));
  });

  it('keeps one ETag across include=, fields= and API version 2, with the body each asks for', async () => {
    const plain = await t.inject(`/api/products/${productId}`);
    const included = await t.inject(`/api/products/${productId}?include=tags,category`);
    const sparse = await t.inject(`/api/products/${productId}?fields=name`);
    const v2 = await t.inject(`/api/v2/products/${productId}`);
    for (const res of [included, sparse, v2]) {
      expect(res.statusCode).toBe(200);
      expect(res.headers.etag).toBe(plain.headers.etag);
    }
    expect(included.json<{ tags: unknown[] }>().tags).toHaveLength(2);
    expect(Object.keys(sparse.json())).toEqual(['id', 'name']);
    expect(v2.json<{ price: unknown }>().price).toEqual({ amount: '3.50', currency: 'EUR' });
    const notModified = await t.inject({
      url: `/api/v2/products/${productId}`,
      headers: { 'if-none-match': plain.headers.etag as string },
    });
    expect(notModified.statusCode).toBe(304);
    expect(notModified.body).toBe('');
  });

  it('drops a tag from tagIds when the tag is deleted (junction read alone)', async () => {
    const { id: gone } = await post('/api/tags', { name: 'gone-review' });
    const { id: other } = await post('/api/products', {
      name: 'Tagged',
      sku: 'REV-2',
      price: '1.00',
      categoryId: (await t.inject(`/api/products/${productId}`)).json<{ categoryId: number }>().categoryId,
      tagIds: [gone],
    });
    expect((await t.inject({ method: 'DELETE', url: `/api/tags/${gone}` })).statusCode).toBe(204);
    const res = await t.inject(`/api/products/${other}`);
    expect(res.json<{ tagIds: number[] }>().tagIds).toEqual([]);
  });

  it('answers each list shape its own columns, whatever shape was cached before', async () => {
    const shapes = [
      '/api/products?sort=price&include=category&fields=name',
      '/api/products?sort=price&include=category',
      '/api/products?sort=-price&include=category,tags&fields=name,tagIds',
      '/api/products?sort=name&fields=price&limit=1',
      '/api/v2/products?sort=name&fields=price&limit=1',
      '/api/products?sort=name&limit=1',
    ];
    const answers = [];
    for (const url of [...shapes, ...[...shapes].reverse()]) {
      const res = await t.inject(url);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
      const { data, meta } = res.json<{
        data: Record<string, unknown>[];
        meta: { nextCursor: string | null };
      }>();
      answers.push({
        url,
        keys: data.map((row) => Object.keys(row).sort().join(',')),
        next: meta.nextCursor,
      });
    }
    const byUrl = new Map<string, unknown>();
    for (const answer of answers) {
      expect(answer).toEqual(byUrl.get(answer.url) ?? answer);
      byUrl.set(answer.url, answer);
    }
    expect(byUrl.get(shapes[0])).toMatchObject({ keys: ['category,id,name', 'category,id,name'] });
    expect(byUrl.get(shapes[3])).toMatchObject({ keys: ['id,price'] });
    // The cursor of a name-sorted page continues after its last row, in every version.
    const next = (byUrl.get(shapes[3]) as { next: string }).next;
    const page2 = await t.inject(`/api/products?sort=name&limit=1&after=${encodeURIComponent(next)}`);
    expect(page2.json<{ data: { name: string }[] }>().data[0].name).toBe('Tagged');
  });

  it("a user's service may add an include to the options it is given, with or without a query string", async () => {
    const withQuery = await t.anonymous().inject(`/api/overridden-products/${productId}?fields=name`);
    expect({ status: withQuery.statusCode, body: withQuery.json() }).toMatchObject({
      status: 200,
      body: { category: { slug: 'review' } },
    });
    const bare = await t.anonymous().inject(`/api/overridden-products/${productId}`);
    expect({ status: bare.statusCode, body: bare.json() }).toMatchObject({
      status: 200,
      body: { category: { slug: 'review' } },
    });
  });

  it('refuses a cursor with a sort other than the one it was made for (400, nothing read)', async () => {
    const first = (await t.inject('/api/products?sort=name&limit=1')).json<{
      meta: { nextCursor: string };
    }>();
    const after = encodeURIComponent(first.meta.nextCursor);
    expect((await t.inject(`/api/products?sort=name&limit=1&after=${after}`)).statusCode).toBe(200);
    for (const sort of ['-name', 'sku']) {
      const res = await t.inject(`/api/products?sort=${sort}&limit=1&after=${after}`);
      expect({ sort, status: res.statusCode, errors: res.json<{ errors: unknown[] }>().errors }).toEqual({
        sort,
        status: 400,
        errors: [expect.objectContaining({ parameter: 'after', code: 'invalid' })],
      });
    }
  });
});
