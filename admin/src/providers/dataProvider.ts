import {
  type CreateParams,
  type DataProvider,
  type DeleteManyParams,
  type DeleteParams,
  type GetListParams,
  type GetManyParams,
  type GetManyReferenceParams,
  type GetOneParams,
  HttpError,
  type Identifier,
  type RaRecord,
  type UpdateManyParams,
  type UpdateParams,
} from 'react-admin';
import { request, requestJson } from '../api/http';
import { type ListQuery, listQuery } from '../api/query';
import { loadSchema } from '../api/session';
import { type AdminResource, findResource } from '../schema';
import type { ActionResult, Dashboard, JobList, JobQueue, JobSchedule, JobState } from './types';

type Row = Record<string, unknown>;

interface ListBody {
  data: Row[];
  meta: { total: number; page: number; limit: number };
}

async function resourceOf(path: string): Promise<AdminResource | undefined> {
  return findResource(await loadSchema(), path);
}

function withId<R extends RaRecord = RaRecord>(resource: AdminResource | undefined, row: Row): R {
  const pk = resource?.primaryKey ?? 'id';
  return (pk === 'id' ? row : { ...row, id: row[pk] }) as unknown as R;
}

const itemUrl = (path: string, id: Identifier): string => `/api/${path}/${encodeURIComponent(String(id))}`;

// ETags of records read with getOne: the following PATCH/DELETE sends If-Match, so saving over someone
// else's change is a 412 instead of a silent overwrite.
const etags = new Map<string, string>();

function remember(path: string, id: Identifier, response: Response): void {
  const etag = response.headers.get('etag');
  if (etag) {
    etags.set(`${path}/${id}`, etag);
  } else {
    etags.delete(`${path}/${id}`);
  }
}

function ifMatch(path: string, id: Identifier): Record<string, string> {
  const etag = etags.get(`${path}/${id}`);
  return etag ? { 'if-match': etag } : {};
}

function comparable(value: unknown): string {
  return JSON.stringify(value instanceof Date ? value.toISOString() : (value ?? null));
}

/**
 * The body of a write: writable fields only (never id, timestamps or includes), JSON editors parsed, a
 * blank write-only field (an unchanged password) left out, and on update only what changed.
 */
function payload(resource: AdminResource | undefined, data: Row, previous?: Row): Row {
  if (!resource) {
    return data;
  }
  const body: Row = {};
  for (const field of resource.fields) {
    if (field.readOnly || !(field.name in data)) {
      continue;
    }
    let value = data[field.name];
    if (field.writeOnly && (value === '' || value === null || value === undefined)) {
      continue;
    }
    if (field.type === 'json' && typeof value === 'string') {
      if (value.trim() === '' && !field.nullable) {
        continue; // a cleared editor of a non-nullable field: leave the value as it is
      }
      value = value.trim() === '' ? null : (JSON.parse(value) as unknown);
    }
    if (previous && comparable(value) === comparable(previous[field.name])) {
      continue;
    }
    body[field.name] = value;
  }
  return body;
}

async function getOne<R extends RaRecord>(path: string, id: Identifier): Promise<R> {
  const { json, response } = await requestJson<Row>(itemUrl(path, id));
  remember(path, id, response);
  return withId<R>(await resourceOf(path), json);
}

async function getList<R extends RaRecord>(
  path: string,
  query: ListQuery,
): Promise<{ data: R[]; total: number }> {
  const resource = await resourceOf(path);
  const { json } = await requestJson<ListBody>(`/api/${path}?${listQuery(resource, query).toString()}`);
  return { data: json.data.map((row) => withId<R>(resource, row)), total: json.meta.total };
}

/**
 * Records by id in one list request per 100 ids (every resource accepts `filter[<pk>][in]`): react-admin
 * gathers the ids a page references (reference columns, labels in the history) into one getMany, so a page
 * costs one request per related resource, never one per row. Ids that no longer exist are simply absent.
 */
async function getMany<R extends RaRecord>(path: string, ids: Identifier[]): Promise<R[]> {
  const resource = await resourceOf(path);
  const pk = resource?.primaryKey ?? 'id';
  const chunks: Identifier[][] = [];
  for (let i = 0; i < ids.length; i += 100) {
    chunks.push(ids.slice(i, i + 100));
  }
  const pages = await Promise.all(
    chunks.map((chunk) =>
      getList<R>(path, { page: 1, perPage: chunk.length, filter: { [`${pk}@in`]: chunk } }),
    ),
  );
  return pages.flatMap((page) => page.data);
}

/** One request per id (the API has no bulk write); the error names how many failed. */
async function eachId(ids: Identifier[], run: (id: Identifier) => Promise<unknown>): Promise<Identifier[]> {
  const done: Identifier[] = [];
  let failure: HttpError | undefined;
  for (const id of ids) {
    try {
      await run(id);
      done.push(id);
    } catch (error) {
      failure ??= error as HttpError;
    }
  }
  if (failure) {
    const message = `${ids.length - done.length} of ${ids.length} failed: ${failure.message}`;
    throw new HttpError(message, failure.status, failure.body);
  }
  return done;
}

async function update<R extends RaRecord>(
  path: string,
  id: Identifier,
  data: Row,
  previous: Row,
): Promise<R> {
  const body = payload(await resourceOf(path), data, previous);
  if (Object.keys(body).length === 0) {
    return { ...previous, id } as unknown as R;
  }
  const { json, response } = await requestJson<Row>(itemUrl(path, id), {
    method: 'PATCH',
    body,
    headers: ifMatch(path, id),
    idempotent: true,
  });
  remember(path, id, response);
  return withId<R>(await resourceOf(path), json);
}

async function remove(path: string, id: Identifier): Promise<void> {
  await request(itemUrl(path, id), { method: 'DELETE', headers: ifMatch(path, id), idempotent: true });
  etags.delete(`${path}/${id}`);
}

// Writes to resources send an Idempotency-Key, one per user action (per record in a bulk action), and a
// lost answer is asked for again with the same key: a save never happens twice (see http.ts `idempotent`).

/** react-admin's DataProvider on the REST contract, plus the admin-only endpoints as custom methods. */
export const dataProvider = {
  getList: async <R extends RaRecord>(path: string, params: GetListParams) =>
    getList<R>(path, {
      page: params.pagination?.page,
      perPage: params.pagination?.perPage,
      sort: params.sort,
      filter: params.filter as Row,
      trashed: (params.meta as { trashed?: boolean } | undefined)?.trashed,
    }),

  getOne: async <R extends RaRecord>(path: string, params: GetOneParams) => ({
    data: await getOne<R>(path, params.id as Identifier),
  }),

  getMany: async <R extends RaRecord>(path: string, params: GetManyParams) => ({
    data: await getMany<R>(path, params.ids as Identifier[]),
  }),

  getManyReference: async <R extends RaRecord>(path: string, params: GetManyReferenceParams) =>
    getList<R>(path, {
      page: params.pagination.page,
      perPage: params.pagination.perPage,
      sort: params.sort,
      filter: { ...(params.filter as Row), [params.target]: params.id },
    }),

  create: async <R extends RaRecord>(path: string, params: CreateParams) => {
    const resource = await resourceOf(path);
    const { json } = await requestJson<Row>(`/api/${path}`, {
      method: 'POST',
      body: payload(resource, params.data as Row),
      idempotent: true,
    });
    return { data: withId<R>(resource, json) };
  },

  update: async <R extends RaRecord>(path: string, params: UpdateParams) => ({
    data: await update<R>(path, params.id as Identifier, params.data as Row, params.previousData as Row),
  }),

  updateMany: async (path: string, params: UpdateManyParams) => ({
    data: await eachId(params.ids, (id) => update(path, id, params.data as Row, {})),
  }),

  delete: async <R extends RaRecord>(path: string, params: DeleteParams<R>) => {
    const id = params.id;
    await remove(path, id);
    return { data: params.previousData ?? ({ id } as R) };
  },

  deleteMany: async (path: string, params: DeleteManyParams) => ({
    data: await eachId(params.ids as Identifier[], (id) => remove(path, id)),
  }),

  restore: async (path: string, id: Identifier): Promise<RaRecord> => {
    const { json } = await requestJson<Row>(`${itemUrl(path, id)}/restore`, {
      method: 'POST',
      idempotent: true,
    });
    return withId(await resourceOf(path), json ?? { id });
  },

  runAction: async (path: string, action: string, ids: Identifier[], input?: Row): Promise<ActionResult> => {
    const { json } = await requestJson<ActionResult>(
      `/admin/api/actions/${path}/${encodeURIComponent(action)}`,
      { method: 'POST', body: input === undefined ? { ids } : { ids, input }, pointerPrefix: '/input' },
    );
    return json;
  },

  dashboard: async (): Promise<Dashboard> => (await requestJson<Dashboard>('/admin/api/dashboard')).json,

  jobQueues: async (): Promise<JobQueue[]> => (await requestJson<JobQueue[]>('/admin/api/jobs/queues')).json,

  jobSchedules: async (): Promise<JobSchedule[]> =>
    (await requestJson<JobSchedule[]>('/admin/api/jobs/schedules')).json,

  jobs: async (queue: string, state: JobState, limit = 20, offset = 0): Promise<JobList> =>
    (
      await requestJson<JobList>(
        `/admin/api/jobs/queues/${encodeURIComponent(queue)}/jobs?state=${state}&limit=${limit}&offset=${offset}`,
      )
    ).json,

  job: async (queue: string, id: string): Promise<JobList['items'][number]> =>
    (
      await requestJson<JobList['items'][number]>(
        `/admin/api/jobs/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(id)}`,
      )
    ).json,

  retryJob: async (queue: string, id: string): Promise<void> => {
    await request(
      `/admin/api/jobs/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(id)}/retry`,
      {
        method: 'POST',
      },
    );
  },

  removeJob: async (queue: string, id: string): Promise<void> => {
    await request(`/admin/api/jobs/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(id)}`, {
      method: 'DELETE',
    });
  },
} satisfies DataProvider & Record<string, unknown>;

export type NestorDataProvider = typeof dataProvider;
