import { Column, DataSource, Entity, ManyToOne, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import { resolveIcon, resolveInlines } from 'src/framework/admin/admin-resource-options';
import type { ResourceAdminOptions, ResourceOptions } from 'src/framework/resource/resource.decorator';
import {
  ResourceDeclarationError,
  ResourceDefinition,
  resolveResource,
} from 'src/framework/resource/resource-definition';
import { metadataOnly } from 'test/support/entity-metadata';

@Entity('spec_invoice')
class Invoice {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 20 })
  number!: string;

  @OneToMany(() => InvoiceLine, (line) => line.invoice)
  lines!: InvoiceLine[];
}

/** Two relations to Invoice (the invoice and the one it corrects): an inline must say which. */
@Entity('spec_invoice_line')
class InvoiceLine {
  @PrimaryGeneratedColumn()
  id!: number;

  @ManyToOne(() => Invoice, (invoice) => invoice.lines)
  invoice!: Invoice;

  @ManyToOne(() => Invoice, { nullable: true })
  corrects!: Invoice | null;

  @Column({ type: 'varchar', length: 80 })
  description!: string;

  @Column({ type: 'int' })
  quantity!: number;
}

@Entity('spec_note')
class Note {
  @PrimaryGeneratedColumn()
  id!: number;

  @ManyToOne(() => Invoice)
  invoice!: Invoice;

  @Column({ type: 'text' })
  body!: string;
}

class InvoiceResource {}
class InvoiceLineResource {}
class NoteResource {}
class UnregisteredResource {}

let dataSource: DataSource;

beforeAll(async () => {
  dataSource = await metadataOnly([Invoice, InvoiceLine, Note]);
});

function define(entity: new () => object, hooks: object, options: ResourceOptions = {}): ResourceDefinition {
  return resolveResource(hooks.constructor.name, { entity, options }, dataSource.getMetadata(entity), hooks);
}

/** The invoice resource with `admin`, its lines (with `lineOptions`) and notes. */
function resources(admin: ResourceAdminOptions, lineOptions: ResourceOptions = {}) {
  const invoices = define(Invoice, new InvoiceResource(), { admin });
  return {
    invoices,
    all: [
      invoices,
      define(InvoiceLine, new InvoiceLineResource(), lineOptions),
      define(Note, new NoteResource(), { path: 'notes' }),
    ],
  };
}

const childSchema = (path: string) => ({
  label: path === 'notes' ? 'Notes' : 'Invoice lines',
  listDisplay: ['id', 'invoiceId', 'description'],
  ordering: path === 'notes' ? null : '-id',
});

function inlinesOf(admin: ResourceAdminOptions, lineOptions?: ResourceOptions) {
  const { invoices, all } = resources(admin, lineOptions);
  return resolveInlines(invoices, all, childSchema);
}

function failure(admin: ResourceAdminOptions, lineOptions?: ResourceOptions): ResourceDeclarationError {
  try {
    inlinesOf(admin, lineOptions);
  } catch (error) {
    if (error instanceof ResourceDeclarationError) {
      return error;
    }
    throw error;
  }
  throw new Error('the inlines resolved');
}

describe(resolveInlines.name, () => {
  it('resolves a child by class or path, with its relation, columns, sort and heading', () => {
    const sut = inlinesOf({
      inlines: [
        { resource: InvoiceLineResource, fkName: 'invoice', fields: ['description', 'quantity'] },
        { resource: 'notes' },
      ],
    });
    expect(sut).toEqual([
      {
        resource: 'invoice-lines',
        fkField: 'invoiceId',
        label: 'Lines', // the parent's side of the relation: Invoice.lines
        fields: ['description', 'quantity'],
        ordering: '-id',
      },
      {
        resource: 'notes',
        fkField: 'invoiceId',
        label: 'Notes', // no inverse property: the child's own label
        fields: ['id', 'description'], // the child's list columns without the relation to the parent
        ordering: null,
      },
    ]);
  });

  it('takes the declared heading and ordering', () => {
    const [sut] = inlinesOf({
      inlines: [{ resource: 'notes', label: 'Remarks', ordering: '-body', fields: ['body'] }],
    });
    expect(sut).toMatchObject({ label: 'Remarks', ordering: '-body' });
  });

  it.each<[string, ResourceAdminOptions, ResourceOptions | undefined, RegExp]>([
    [
      'an unknown path',
      { inlines: [{ resource: 'invoice-line' }] },
      undefined,
      /^NST-R010 InvoiceResource: option "admin\.inlines\[0\]" names resource "invoice-line", which is not a registered resource \(paths: invoices, invoice-lines, notes\)$/,
    ],
    [
      'a class that is not registered',
      { inlines: [{ resource: UnregisteredResource }] },
      undefined,
      /^NST-R010 .*"admin\.inlines\[0\]" names UnregisteredResource, which is not registered/,
    ],
    [
      'two relations to the parent and no fkName',
      { inlines: [{ resource: 'invoice-lines' }] },
      undefined,
      /^NST-R010 .* has 2 relations to Invoice \(invoice, corrects\): set "fkName"$/,
    ],
    [
      'an fkName that is not a relation to the parent',
      { inlines: [{ resource: 'invoice-lines', fkName: 'invoise' }] },
      undefined,
      /^NST-R010 .*"fkName" "invoise", which is not a to-one relation of InvoiceLine to Invoice \(relations to Invoice: invoice, corrects\)$/,
    ],
    [
      'a child with no relation to the parent',
      { inlines: [{ resource: 'invoices' }] },
      undefined,
      /^NST-R010 .*names InvoiceResource, but Invoice has no to-one relation to Invoice$/,
    ],
    [
      'a relation the child does not let clients filter by',
      { inlines: [{ resource: 'invoice-lines', fkName: 'invoice' }] },
      { filter: { quantity: true } },
      /^NST-R010 .*lists InvoiceLineResource by "invoiceId", which its "filter" must allow/,
    ],
    [
      'the same inline twice',
      { inlines: [{ resource: 'notes' }, { resource: NoteResource }] },
      undefined,
      /^NST-R010 .*"admin\.inlines\[1\]" repeats the inline of NoteResource by "invoiceId"$/,
    ],
    [
      'an unknown field',
      { inlines: [{ resource: 'notes', fields: ['body', 'bdy'] }] },
      undefined,
      /^NST-R001 .*"admin\.inlines\[0\]" names field "bdy", which NoteResource does not show \(fields: id, body, invoiceId\)$/,
    ],
    [
      'a hidden field',
      { inlines: [{ resource: 'invoice-lines', fkName: 'invoice', fields: ['quantity'] }] },
      { hidden: ['quantity'] },
      /^NST-R001 .*names field "quantity", which InvoiceLineResource does not show/,
    ],
    [
      'an ordering that is not sortable',
      { inlines: [{ resource: 'invoice-lines', fkName: 'invoice', ordering: '-quantity' }] },
      { sort: ['description'] },
      /^NST-R001 .*sorts by "-quantity", which is not in the "sort" of InvoiceLineResource \(description, id\)$/,
    ],
  ])('refuses %s, naming the option', (_title, admin, lineOptions, message) => {
    expect(failure(admin, lineOptions).message).toMatch(message);
  });
});

describe(resolveIcon.name, () => {
  it('defaults to ViewList and takes a shipped icon', () => {
    expect(resolveIcon(define(Note, new NoteResource()))).toBe('ViewList');
    expect(resolveIcon(define(Note, new NoteResource(), { admin: { icon: 'Comment' } }))).toBe('Comment');
  });

  it('refuses an icon the admin does not ship (NST-R007), listing those it does', () => {
    const options = { admin: { icon: 'ShoppingBasket' } } as unknown as ResourceOptions; // plain JS, or a cast
    expect(() => resolveIcon(define(Note, new NoteResource(), options))).toThrow(
      /^NST-R007 NoteResource: option "admin\.icon" is "ShoppingBasket", which is not an icon the admin ships \(icons: Article, .*ShoppingCart.*\)$/,
    );
  });
});
