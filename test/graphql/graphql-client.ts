import { GraphQLClient } from 'graphql-request';
import type { TestClient } from 'src/framework/testing';

/**
 * graphql-request, the third-party client, talking to an in-process test app: its `fetch` is answered by
 * Fastify's `inject`, so requests go through every hook, guard and limit a real one would.
 * Example: `await client(t.actingAs(user)).request('{ viewer { email } }')`.
 */
export function client(
  t: TestClient,
  path = '/graphql',
  headers: Record<string, string> = {},
): GraphQLClient {
  const fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const res = await t.inject({
      method: (init.method ?? 'GET') as 'GET' | 'POST',
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      ...(typeof init.body === 'string' ? { payload: init.body } : {}),
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) {
        responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : String(value));
      }
    }
    return new Response(res.body, { status: res.statusCode, headers: responseHeaders });
  };
  return new GraphQLClient(`http://localhost${path}`, { fetch, headers });
}

/** A GraphQL error as Nestor shapes it. */
export interface GraphqlErrorBody {
  message: string;
  path?: (string | number)[];
  extensions: {
    code: string;
    status: number;
    type?: string;
    requestId?: string;
    errors?: { pointer?: string; parameter?: string; code: string; message: string }[];
  };
}

/** The raw answer of one document (status, data and errors), without the client throwing on errors. */
export async function raw(
  t: TestClient,
  query: string,
  variables?: Record<string, unknown>,
  path = '/graphql',
): Promise<{
  status: number;
  data: Record<string, unknown> | null;
  errors?: GraphqlErrorBody[];
  headers: Record<string, unknown>;
}> {
  const res = await t.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ query, variables }),
  });
  const body = res.json<{ data: Record<string, unknown> | null; errors?: GraphqlErrorBody[] }>();
  return { status: res.statusCode, data: body.data, errors: body.errors, headers: res.headers };
}
