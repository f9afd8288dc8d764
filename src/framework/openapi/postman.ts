import type { OpenAPIObject } from '@nestjs/swagger';

/** What a Postman v2.1 collection item holds, as far as the export touches it. */
export interface PostmanItem {
  name: string;
  item?: PostmanItem[];
  request?: {
    method: string;
    url: { path?: string[] };
    auth?: unknown;
    body?: { mode?: string; raw?: string; options?: unknown };
  };
  event?: { listen: 'test' | 'prerequest'; script: { type: 'text/javascript'; exec: string[] } }[];
}

/** A Postman v2.1 collection. */
export interface PostmanCollection {
  info: Record<string, unknown>;
  item: PostmanItem[];
  variable?: { key: string; value: string; type?: string }[];
  [key: string]: unknown;
}

/** The operation that signs in; its answer's `accessToken` becomes every other request's bearer token. */
const LOGIN = 'auth.login';

/** The operationId of a converted request, found by its method and path in the document. */
function operationOf(
  document: OpenAPIObject,
  item: PostmanItem,
): { operationId?: string; security?: unknown[] } {
  const path = `/${(item.request?.url.path ?? []).map((s) => (s.startsWith(':') ? `{${s.slice(1)}}` : s)).join('/')}`;
  const method = (item.request?.method ?? '').toLowerCase() as 'get';
  return (document.paths[path]?.[method] as { operationId?: string; security?: unknown[] }) ?? {};
}

function convert(document: OpenAPIObject): Promise<PostmanCollection> {
  return import('openapi-to-postmanv2').then(
    (converter) =>
      new Promise((resolve, reject) => {
        converter.convertV2(
          { type: 'json', data: JSON.stringify(document) },
          // Optional parameters come unticked, as a user would send them: a filter is chosen, not defaulted.
          { folderStrategy: 'Tags', parametersResolution: 'Example', enableOptionalParameters: false },
          (error, result) => {
            if (error || !result?.result || !result.output?.[0]) {
              reject(new Error(`Postman conversion failed: ${error?.message ?? result?.reason}`));
            } else {
              resolve(result.output[0].data as PostmanCollection);
            }
          },
        );
      }),
  );
}

/**
 * The document as a Postman collection (Postman's own converter, openapi-to-postmanv2): `baseUrl` from
 * `servers` (PUBLIC_URL), folders by tag, the examples as values, optional parameters unticked, public
 * requests without credentials, and a login request that reads `{{email}}`/`{{password}}` and stores the
 * access token in `{{bearerToken}}`, which every other request sends.
 * Example: `writeFileSync('api.postman_collection.json', JSON.stringify(await postmanCollection(document)))`.
 */
export async function postmanCollection(document: OpenAPIObject): Promise<PostmanCollection> {
  const collection = await convert(document);
  const walk = (items: PostmanItem[]): PostmanItem[] => items.flatMap((i) => (i.item ? walk(i.item) : [i]));
  for (const item of walk(collection.item)) {
    const { operationId, security } = operationOf(document, item);
    if (Array.isArray(security) && security.length === 0) {
      item.request!.auth = { type: 'noauth' }; // `security: []`: a token, even an empty one, is not wanted
    }
    if (operationId === LOGIN) {
      item.name = 'Log in (stores the access token)';
      item.request!.body = {
        ...item.request!.body,
        mode: 'raw',
        raw: JSON.stringify({ email: '{{email}}', password: '{{password}}' }, null, 2),
      };
      item.event = [
        {
          listen: 'test',
          script: {
            type: 'text/javascript',
            exec: [
              "pm.test('logged in', () => pm.response.to.have.status(200));",
              "pm.collectionVariables.set('bearerToken', pm.response.json().accessToken);",
            ],
          },
        },
      ];
    }
  }
  const variables = collection.variable ?? [];
  for (const key of ['email', 'password', 'bearerToken']) {
    if (!variables.some((v) => v.key === key)) {
      variables.push({ key, value: '', type: 'string' });
    }
  }
  collection.variable = variables;
  return collection;
}
