import { humanize } from 'src/framework/admin/humanize';

describe(humanize.name, () => {
  it.each([
    ['totpEnabled', 'TOTP enabled'],
    ['sku', 'SKU'],
    ['imageUrl', 'Image URL'],
    ['imageURL', 'Image URL'],
    ['apiKey', 'API key'],
    ['ApiKey', 'API key'],
    ['api-keys', 'API keys'],
    ['id', 'ID'],
    ['uuid', 'UUID'],
    ['ipAddress', 'IP address'],
    ['HTMLBody', 'HTML body'],
    ['ids', 'IDs'],
    ['vat_number', 'VAT number'],
  ])('spells acronyms in capitals: %s → %s', (name, label) => {
    expect(humanize(name)).toBe(label);
  });

  it.each([
    ['categoryId', 'Category'],
    ['tagIds', 'Tags'],
    ['apiKeyId', 'API key'],
  ])('names a relation, not its id column: %s → %s', (name, label) => {
    expect(humanize(name)).toBe(label);
  });

  it.each([
    ['createdAt', 'Created at'],
    ['isStaff', 'Is staff'],
    ['unitPrice', 'Unit price'],
    ['daily-sales-reports', 'Daily sales reports'],
    ['DailySalesReport', 'Daily sales report'],
    ['category.slug', 'Category slug'],
    ['send-password-reset', 'Send password reset'],
    ['paid', 'Paid'],
    ['status', 'Status'],
  ])('leaves ordinary words in sentence case: %s → %s', (name, label) => {
    expect(humanize(name)).toBe(label);
  });
});
