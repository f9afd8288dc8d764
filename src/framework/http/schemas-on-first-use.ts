import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler } from 'fastify';

type Route = Parameters<FastifySchemaCompiler<FastifySchema>>[0];
type Validate = ReturnType<FastifySchemaCompiler<FastifySchema>>;

/**
 * Compiles the JSON schemas of the routes this Fastify context registers on each one's first request, with
 * the compilers Fastify would use at boot (Ajv with Fastify's defaults, fast-json-stringify), instead of
 * at `ready()`. Ajv's first compile is most of what a GraphQL endpoint costs a start (about 80 ms of CPU
 * for Mercurius's two routes), for routes a process may never serve. Only for schemas that are fixed and
 * known good (a library's): a broken one fails its first request, not the boot. The first request of each
 * route pays its compile (about 50 ms for Mercurius's POST), once per process.
 *
 * Example: `app.register(async (child) => { compileSchemasOnFirstUse(child); await child.register(mercurius, …) })`.
 */
export function compileSchemasOnFirstUse(context: FastifyInstance): void {
  // Fastify's defaults for the `ajv` server option; the context's shared schemas as of the first request.
  let validators: ((route: Route) => Validate) | undefined;
  const validatorFor = (route: Route): Validate =>
    (validators ??= AjvCompiler()(context.getSchemas() as never, {
      customOptions: {},
      plugins: [],
    }) as never)(route);
  context.setValidatorCompiler((route) => {
    let validate: Validate | undefined;
    // Fastify reads a failed validation's details from the function it was given.
    const onFirstUse: Validate = (data) => {
      validate ??= validatorFor(route);
      const result = validate(data);
      onFirstUse.errors = validate.errors;
      return result;
    };
    return onFirstUse;
  });
  let serializers: ReturnType<ReturnType<typeof SerializerSelector>> | undefined;
  context.setSerializerCompiler((route) => {
    let serialize: ((doc: unknown) => string) | undefined;
    return (doc) => {
      serialize ??= (serializers ??= SerializerSelector()(context.getSchemas()))(route as never);
      return serialize(doc);
    };
  });
}
