/**
 * The resource icons the admin UI ships (MUI icon names): `admin: { icon: 'ShoppingCart' }` picks one, and
 * the UI's icon table must cover exactly these (admin/src/icons.tsx). A fixed set keeps the bundle small.
 */
export const ADMIN_ICONS = [
  'Article',
  'Assessment',
  'Category',
  'Comment',
  'CreditCard',
  'Description',
  'Email',
  'Event',
  'Folder',
  'Groups',
  'History',
  'Image',
  'Inventory2',
  'Key',
  'Label',
  'LocalOffer',
  'LocalShipping',
  'People',
  'Person',
  'ReceiptLong',
  'Settings',
  'ShoppingCart',
  'Star',
  'Store',
  'ViewList',
  'Work',
] as const;

export type AdminIcon = (typeof ADMIN_ICONS)[number];

/** The icon of a resource that declares none. */
export const DEFAULT_ADMIN_ICON: AdminIcon = 'ViewList';
