import type { PostmanCollection } from 'src/framework/openapi/postman';

/**
 * Turns the collection `nestor openapi --postman` exports (its login request stores the token) into a run:
 * the login first, the operations that can succeed with the document's examples in an order where none
 * removes what a later one uses, and on each other request a test that it answered 2xx.
 */

/** Operations left out of the run, each with why: they need what no example can hold, or end the session. */
export const LEFT_OUT: Record<string, string> = {
  'auth.refresh': 'needs the refresh token of a login',
  'auth.logout': 'needs the refresh token of a login, and ends its session',
  'auth.verifyEmail': 'needs the token from the verification mail',
  'auth.resetPassword': 'needs the token from the password reset mail',
  'auth.changePassword': 'needs the current password, and signs out the other sessions',
  'auth.resendVerification': 'the signed-in account is verified already (409 by design)',
  'auth.twoFactor.enable': 'needs a code from an authenticator app',
  'auth.twoFactor.disable': 'needs a code from an authenticator app, or the password',
  'auth.twoFactor.replaceRecoveryCodes': 'needs a code from an authenticator app',
  'auth.sessions.end': 'needs the id of a live session, and ends it',
  'auth.oauth.authorize': 'needs a provider in OAUTH_PROVIDERS (test/auth-oauth.e2e-spec.ts runs one)',
  'auth.oauth.callback': "needs the provider's redirect, in the browser that started the sign-in",
  'auth.identities.unlink': 'needs an identity linked by signing in with a provider',
  'admin.session.get': "the admin panel's cookie session; this run signs in with a token",
  'admin.session.login': "the admin panel's cookie session; this run signs in with a token",
  'admin.jobs.get': 'needs the id of an existing job',
  'admin.jobs.retry': 'needs the id of an existing failed job',
  'admin.jobs.remove': 'needs the id of an existing job',
  'categories.delete': 'category 1 still holds products (soft-deleted ones keep it): refused by design',
};

/** Creates that others refer to come first (a product needs its category, an order its product). */
const CREATES_FIRST = [
  'categories.create',
  'tags.create',
  'products.create',
  'orders.place',
  'groups.create',
  'users.create', // row 1 of users: before register adds another account
];

type Collection = PostmanCollection;
type Item = PostmanCollection['item'][number];

type Paths = Record<string, Record<string, { operationId?: string }>>;

/** Login first, creates, reads, updates, deletes, restores, and the admin logout last. */
function rank(operationId: string, method: string, path: string): number {
  if (operationId === 'auth.login') {
    return 0;
  }
  if (operationId === 'admin.session.logout') {
    return 700;
  }
  if (operationId.endsWith('.restore')) {
    return 600;
  }
  if (method === 'DELETE') {
    return 500;
  }
  if (method === 'GET') {
    return 300;
  }
  if (path.includes('{')) {
    return 400;
  }
  const first = CREATES_FIRST.indexOf(operationId);
  return first >= 0 ? 100 + first : 200;
}

const test = (exec: string[]): NonNullable<Item['event']>[number] => ({
  listen: 'test',
  script: { type: 'text/javascript', exec },
});

/**
 * The run, and the operationIds in it in order. The login request sends `{{email}}` and `{{password}}`
 * (run-time variables, as a user keeps them in a Postman environment).
 */
export function prepareRun(collection: Collection, paths: Paths): { run: Collection; order: string[] } {
  const flat: Item[] = [];
  const walk = (items: Item[]) => items.forEach((i) => (i.item ? walk(i.item) : flat.push(i)));
  walk(collection.item);
  const planned = flat
    .map((item, index) => {
      const method = item.request!.method.toUpperCase();
      const path = `/${(item.request!.url.path ?? []).map((s) => (s.startsWith(':') ? `{${s.slice(1)}}` : s)).join('/')}`;
      const operationId = paths[path]?.[method.toLowerCase()]?.operationId ?? `${method} ${path}`;
      return { item, index, operationId, rank: rank(operationId, method, path) };
    })
    .filter((p) => !(p.operationId in LEFT_OUT))
    .sort((a, b) => a.rank - b.rank || a.index - b.index);
  for (const { item, operationId } of planned) {
    if (operationId !== 'auth.login') {
      item.event = [
        test(["pm.test('answers 2xx', () => pm.expect(pm.response.code).to.be.within(200, 299));"]),
      ];
    }
  }
  return {
    run: { ...collection, item: planned.map((p) => p.item) },
    order: planned.map((p) => p.operationId),
  };
}
