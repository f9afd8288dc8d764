import { BadRequestException, HttpException, NotFoundException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import { toProblem } from 'src/framework/http/problem.filter';

/** An error shaped like node-postgres' DatabaseError. */
function pgError(fields: {
  code: string;
  detail?: string;
  table?: string;
  column?: string;
  message?: string;
}) {
  return Object.assign(new Error(fields.message ?? 'database error'), fields);
}

/** What TypeORM throws when a query fails. */
function queryFailed(driverError: Error): QueryFailedError {
  return new QueryFailedError('INSERT INTO "user"("email") VALUES ($1)', ['a@b.c'], driverError);
}

/** An error shaped like the ones Fastify's content-type parsers throw. */
function fastifyError(code: string, statusCode: number, message: string) {
  return Object.assign(new Error(message), { code, statusCode });
}

describe(toProblem.name, () => {
  describe('ProblemException', () => {
    it('passes the problem and headers through unchanged', () => {
      const exception = new ProblemException(
        { type: 'urn:shop:out-of-stock', title: 'Out of stock', status: 409, detail: 'Only 3 left', left: 3 },
        { 'retry-after': '60' },
      );

      const sut = toProblem(exception);

      expect(sut).toEqual({
        problem: {
          type: 'urn:shop:out-of-stock',
          title: 'Out of stock',
          status: 409,
          detail: 'Only 3 left',
          left: 3,
        },
        headers: { 'retry-after': '60' },
        unexpected: false,
      });
    });

    it('defaults the type to about:blank', () => {
      const sut = toProblem(new ProblemException({ title: 'Gone', status: 410 }));

      expect(sut.problem.type).toBe('about:blank');
      expect(sut.problem.status).toBe(410);
    });
  });

  describe('HttpException', () => {
    it('maps NotFoundException to a 404 about:blank problem', () => {
      const sut = toProblem(new NotFoundException());

      expect(sut.problem).toMatchObject({ type: 'about:blank', title: 'Not Found', status: 404 });
      expect(sut.unexpected).toBe(false);
    });

    it('keeps the message a developer gave to a 4xx exception', () => {
      const sut = toProblem(new NotFoundException('Product 7 not found'));

      expect(sut.problem.detail).toBe('Product 7 not found');
    });

    it('joins a list of messages', () => {
      const sut = toProblem(new BadRequestException(['name is required', 'price must be positive']));

      expect(sut.problem).toMatchObject({ status: 400, detail: 'name is required; price must be positive' });
    });

    it('maps a wrapped invalid-JSON Fastify error to 400 malformed-body', () => {
      const cause = fastifyError(
        'FST_ERR_CTP_INVALID_JSON_BODY',
        400,
        "Body is not valid JSON but content-type is set to 'application/json'",
      );

      const sut = toProblem(new HttpException(cause.message, 400, { cause }));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.malformedBody, status: 400 });
      expect(sut.problem.detail).toMatch(/^Malformed JSON body/);
      expect(sut.unexpected).toBe(false);
    });

    it('maps a wrapped body-too-large Fastify error to 413 and names the limit', () => {
      const cause = fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413, 'Request body is too large');

      const sut = toProblem(new HttpException(cause.message, 413, { cause }), { bodyLimit: 1024 });

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.bodyTooLarge, status: 413 });
      expect(sut.problem.detail).toContain('1024 bytes');
    });

    it('maps a wrapped unsupported-media-type Fastify error to 415', () => {
      const cause = fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'Unsupported Media Type: text/plain');

      const sut = toProblem(new HttpException(cause.message, 415, { cause }));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.unsupportedMediaType, status: 415 });
      expect(sut.problem.detail).toContain('application/json');
    });

    it('maps an unwrapped Fastify body error the same way', () => {
      const sut = toProblem(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413, 'Request body is too large'));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.bodyTooLarge, status: 413 });
    });
  });

  describe('PostgreSQL errors', () => {
    it('maps a unique violation (23505) to 409 with a pointer, without echoing the value', () => {
      const driverError = pgError({
        code: '23505',
        table: 'user',
        detail: 'Key (email)=(a@b.c) already exists.',
        message: 'duplicate key value violates unique constraint "UQ_user_email"',
      });

      const sut = toProblem(queryFailed(driverError));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.unique, status: 409 });
      expect(sut.problem.errors).toEqual([
        { pointer: '/email', code: 'unique', message: expect.any(String) },
      ]);
      expect(JSON.stringify(sut.problem)).not.toContain('a@b.c');
      expect(JSON.stringify(sut.problem)).not.toContain('UQ_user_email');
      expect(sut.unexpected).toBe(false);
    });

    it('gives one pointer per column of a composite unique key, unquoting identifiers', () => {
      const driverError = pgError({ code: '23505', detail: 'Key ("orderId", sku)=(1, X-1) already exists.' });

      const sut = toProblem(queryFailed(driverError));

      expect(sut.problem.errors?.map((e) => e.pointer)).toEqual(['/orderId', '/sku']);
    });

    it('maps a missing reference on insert (23503) to 409 with a pointer to the foreign key', () => {
      const driverError = pgError({
        code: '23503',
        table: 'product',
        detail: 'Key (categoryId)=(9) is not present in table "category".',
      });

      const sut = toProblem(queryFailed(driverError));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.foreignKey, status: 409 });
      expect(sut.problem.errors).toEqual([
        { pointer: '/categoryId', code: 'exists', message: expect.any(String) },
      ]);
    });

    it('maps a delete of a still-referenced row (23503) to 409 without field errors', () => {
      const driverError = pgError({
        code: '23503',
        table: 'category',
        detail: 'Key (id)=(9) is still referenced from table "product".',
      });

      const sut = toProblem(queryFailed(driverError));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.foreignKey, status: 409 });
      expect(sut.problem.errors).toBeUndefined();
      expect(sut.problem.detail).toContain('still referenced');
    });

    it('maps an ON DELETE RESTRICT refusal (23001) to the same 409, not a 500', () => {
      const driverError = pgError({
        code: '23001',
        table: 'product',
        detail: 'Key (id)=(1) is referenced from table "product".',
      });

      const sut = toProblem(queryFailed(driverError));

      expect(sut).toMatchObject({
        unexpected: false,
        problem: { type: PROBLEM_TYPES.foreignKey, status: 409 },
      });
      expect(sut.problem.detail).toContain('still referenced');
    });

    it('maps a not-null violation (23502) to 422 with a required pointer', () => {
      const driverError = pgError({ code: '23502', table: 'product', column: 'name' });

      const sut = toProblem(queryFailed(driverError));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.validation, status: 422 });
      expect(sut.problem.errors).toEqual([
        { pointer: '/name', code: 'required', message: 'name is required' },
      ]);
    });

    it('maps a malformed value (22P02) to 400 bad-query', () => {
      const sut = toProblem(
        queryFailed(pgError({ code: '22P02', message: 'invalid input syntax for type uuid: "x"' })),
      );

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.badQuery, status: 400 });
      expect(sut.problem.detail).not.toContain('uuid');
    });

    it('maps an admin shutdown (57P01) to 503 with retry-after', () => {
      const sut = toProblem(queryFailed(pgError({ code: '57P01', message: 'terminating connection' })));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.dependencyDown, status: 503 });
      expect(sut.headers).toEqual({ 'retry-after': expect.stringMatching(/^\d+$/) });
      expect(sut.unexpected).toBe(false);
    });

    it('maps a refused connection (ECONNREFUSED) to 503 with retry-after', () => {
      const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

      const sut = toProblem(error);

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.dependencyDown, status: 503 });
      expect(sut.headers['retry-after']).toMatch(/^\d+$/);
      expect(sut.problem.detail).not.toContain('5432');
    });

    it('maps a connection dropped during a query to 503', () => {
      const sut = toProblem(queryFailed(new Error('Connection terminated unexpectedly')));

      expect(sut.problem.status).toBe(503);
    });

    // node-postgres' pool rejects connect() with a code-less Error, and TypeORM rethrows it unwrapped.
    it('maps a pool connect timeout (a plain Error without code) to 503', () => {
      const sut = toProblem(new Error('timeout exceeded when trying to connect'));

      expect(sut.problem).toMatchObject({ type: PROBLEM_TYPES.dependencyDown, status: 503 });
      expect(sut.headers['retry-after']).toMatch(/^\d+$/);
    });

    it('maps an unknown SQL error to 500 without leaking the SQL or the message', () => {
      const driverError = pgError({ code: '42P01', message: 'relation "secret_table" does not exist' });

      const sut = toProblem(queryFailed(driverError));

      expect(sut.problem.status).toBe(500);
      expect(sut.unexpected).toBe(true);
      expect(JSON.stringify(sut.problem)).not.toMatch(/secret_table|INSERT|a@b\.c/);
    });
  });

  describe('anything else', () => {
    it('maps an unknown Error to 500 without any part of its message', () => {
      const sut = toProblem(new Error('password=hunter2 leaked via stack'));

      expect(sut.problem).toMatchObject({ type: 'about:blank', status: 500, title: 'Internal Server Error' });
      expect(sut.unexpected).toBe(true);
      expect(sut.headers).toEqual({});
      for (const word of ['password', 'hunter2', 'leaked', 'stack']) {
        expect(JSON.stringify(sut.problem)).not.toContain(word);
      }
    });

    it.each([['a string'], [undefined], [null], [42]])('maps a thrown non-error (%p) to 500', (thrown) => {
      const sut = toProblem(thrown);

      expect(sut.problem.status).toBe(500);
      expect(sut.unexpected).toBe(true);
      expect(JSON.stringify(sut.problem)).not.toContain('a string');
    });
  });
});
