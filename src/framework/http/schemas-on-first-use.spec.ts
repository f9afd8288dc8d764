import Ajv from 'ajv';
import Fastify, { type FastifyInstance } from 'fastify';
import { compileSchemasOnFirstUse } from 'src/framework/http/schemas-on-first-use';

const routes = async (app: FastifyInstance): Promise<void> => {
  app.get(
    '/q',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { n: { type: 'integer' }, flag: { type: 'boolean' } },
          required: ['n'],
        },
        response: {
          '2xx': { type: 'object', properties: { n: { type: 'integer' }, flag: { type: 'boolean' } } },
        },
      },
    },
    // `secret` is not in the response schema: the serializer must drop it.
    (request) => ({ ...(request.query as object), secret: 'not sent' }),
  );
  app.post(
    '/b',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', minLength: 2 },
            tags: { type: 'array', items: { type: 'string' } },
          },
          required: ['name'],
        },
      },
    },
    (request) => request.body,
  );
  return Promise.resolve();
};

const fastifyWith = async (onFirstUse: boolean): Promise<FastifyInstance> => {
  const app = Fastify();
  await app.register(async (child) => {
    if (onFirstUse) {
      compileSchemasOnFirstUse(child);
    }
    await child.register(routes);
  });
  await app.ready();
  return app;
};

describe(compileSchemasOnFirstUse.name, () => {
  const apps: FastifyInstance[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  it('validates, coerces and serializes as Fastify does at boot, errors included', async () => {
    const [compiled, onFirstUse] = await Promise.all([fastifyWith(false), fastifyWith(true)]);
    apps.push(compiled, onFirstUse);
    const requests = [
      { method: 'GET', url: '/q?n=5&flag=true' },
      { method: 'GET', url: '/q?n=five' },
      { method: 'GET', url: '/q' },
      { method: 'POST', url: '/b', payload: { name: 'ok', tags: 'one' } },
      { method: 'POST', url: '/b', payload: { name: 'x' } },
      { method: 'POST', url: '/b', payload: { tags: [] } },
    ] as const;
    for (const request of requests) {
      const [expected, actual] = await Promise.all([compiled.inject(request), onFirstUse.inject(request)]);
      expect({ status: actual.statusCode, body: actual.json<unknown>() }).toEqual({
        status: expected.statusCode,
        body: expected.json<unknown>(),
      });
    }
    // What the comparison covered: coercion, a refused input and the serializer's filtering.
    expect((await onFirstUse.inject(requests[0])).json()).toEqual({ n: 5, flag: true });
    expect((await onFirstUse.inject(requests[1])).statusCode).toBe(400);
    expect((await onFirstUse.inject(requests[3])).json()).toEqual({ name: 'ok', tags: ['one'] });
  });

  it('compiles nothing at boot, then each schema once, on its route first request', async () => {
    const compile = jest.spyOn(Ajv.prototype, 'compile');
    try {
      const app = await fastifyWith(true);
      apps.push(app);
      expect(compile).not.toHaveBeenCalled();
      await app.inject({ method: 'GET', url: '/q?n=1' });
      await app.inject({ method: 'GET', url: '/q?n=2' });
      expect(compile).toHaveBeenCalledTimes(1);
      await app.inject({ method: 'POST', url: '/b', payload: { name: 'ok' } });
      expect(compile).toHaveBeenCalledTimes(2);
    } finally {
      compile.mockRestore();
    }
  });
});
