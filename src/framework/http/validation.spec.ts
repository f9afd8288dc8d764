import { ArgumentMetadata } from '@nestjs/common';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsArray,
  IsInt,
  IsString,
  Min,
  ValidateNested,
  ValidationError,
  validateSync,
} from 'class-validator';
import { PROBLEM_TYPES, ProblemException } from 'src/framework/http/problem';
import {
  checkBodyShape,
  fieldErrors,
  MAX_BODY_DEPTH,
  ProblemValidationPipe,
} from 'src/framework/http/validation';

class ItemDto {
  @IsInt()
  @Min(1)
  quantity!: number;
}

class OrderDto {
  @IsString()
  customer!: string;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ItemDto)
  items!: ItemDto[];
}

class ListDto {
  @Type(() => Number)
  @IsInt()
  @Min(1)
  page!: number;
}

const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });
const query = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'query', metatype });

/** The ProblemException a transform rejects with, failing the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<ProblemException> {
  const error: unknown = await promise.then(
    () => {
      throw new Error('expected the pipe to reject');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProblemException);
  return error as ProblemException;
}

describe(fieldErrors.name, () => {
  it('flattens nested errors into JSON pointers, one entry per failed constraint', () => {
    const order = plainToInstance(OrderDto, { customer: 7, items: [{ quantity: 2 }, { quantity: 0.5 }] });

    const sut = fieldErrors(validateSync(order));

    expect(sut).toHaveLength(3);
    expect(sut).toEqual(
      expect.arrayContaining([
        { pointer: '/customer', code: 'isString', message: 'customer must be a string' },
        { pointer: '/items/1/quantity', code: 'isInt', message: 'quantity must be an integer number' },
        { pointer: '/items/1/quantity', code: 'min', message: 'quantity must not be less than 1' },
      ]),
    );
  });

  it('prefixes pointers with a base', () => {
    const error = Object.assign(new ValidationError(), {
      property: 'quantity',
      constraints: { min: 'too small' },
    });

    expect(fieldErrors([error], '/items/0')).toEqual([
      { pointer: '/items/0/quantity', code: 'min', message: 'too small' },
    ]);
  });

  it('reports an unknown property with code unknown and its own message', () => {
    const error = Object.assign(new ValidationError(), {
      property: 'discount',
      constraints: { whitelistValidation: 'property discount should not exist' },
    });

    expect(fieldErrors([error])).toEqual([
      { pointer: '/discount', code: 'unknown', message: 'discount is not an accepted field' },
    ]);
  });

  it.each([
    ['isDefined', 'required'],
    ['isNotEmpty', 'required'],
    ['nestedValidation', 'invalid'],
    ['max', 'max'],
  ])('maps the %s constraint to code %s', (constraint, code) => {
    const error = Object.assign(new ValidationError(), {
      property: 'x',
      constraints: { [constraint]: 'msg' },
    });

    expect(fieldErrors([error])[0].code).toBe(code);
  });

  it('escapes / and ~ in property names as RFC 6901 requires', () => {
    const error = Object.assign(new ValidationError(), {
      property: 'a/b~c',
      constraints: { whitelistValidation: 'property a/b~c should not exist' },
    });

    expect(fieldErrors([error])[0].pointer).toBe('/a~1b~0c');
  });
});

describe(ProblemValidationPipe.name, () => {
  let sut: ProblemValidationPipe;

  beforeEach(() => {
    sut = new ProblemValidationPipe();
  });

  it('returns a valid body as an instance of the DTO', async () => {
    const result = await sut.transform({ customer: 'Ada', items: [{ quantity: 1 }] }, body(OrderDto));

    expect(result).toBeInstanceOf(OrderDto);
    expect((result as OrderDto).items[0]).toBeInstanceOf(ItemDto);
  });

  it('rejects an invalid body with 422 and pointers to every bad field', async () => {
    const error = await rejection(
      sut.transform({ customer: 'Ada', items: [{ quantity: 1 }, { quantity: 0 }] }, body(OrderDto)),
    );

    expect(error.getStatus()).toBe(422);
    expect(error.problem).toMatchObject({
      type: PROBLEM_TYPES.validation,
      status: 422,
      detail: '1 field has errors: /items/1/quantity',
      errors: [{ pointer: '/items/1/quantity', code: 'min', message: expect.any(String) }],
    });
  });

  it('rejects unknown body properties instead of stripping them', async () => {
    const error = await rejection(
      sut.transform({ customer: 'Ada', items: [], discount: 100 }, body(OrderDto)),
    );

    expect(error.problem.status).toBe(422);
    expect(error.problem.errors).toEqual([
      { pointer: '/discount', code: 'unknown', message: 'discount is not an accepted field' },
    ]);
  });

  it('counts and lists each failing field once in the detail, however many rules it broke', async () => {
    const error = await rejection(sut.transform({ items: [{ quantity: 0.5 }] }, body(OrderDto)));

    expect(error.problem.errors).toHaveLength(3);
    expect(error.problem.detail).toBe('2 fields have errors: /customer, /items/0/quantity');
  });

  it('rejects a bad query with 400 bad-query and names the parameters', async () => {
    const error = await rejection(sut.transform({ page: '0', extra: 'x' }, query(ListDto)));

    expect(error.getStatus()).toBe(400);
    expect(error.problem).toMatchObject({ type: PROBLEM_TYPES.badQuery, status: 400 });
    expect(error.problem.detail).toMatch(/^2 fields have errors: (page, extra|extra, page)$/);
    expect(error.problem.errors).toHaveLength(2);
    expect(error.problem.errors).toEqual(
      expect.arrayContaining([
        { parameter: 'page', code: 'min', message: expect.any(String) },
        { parameter: 'extra', code: 'unknown', message: 'extra is not an accepted field' },
      ]),
    );
  });

  it('coerces a valid query through the DTO', async () => {
    const result = await sut.transform({ page: '3' }, query(ListDto));

    expect(result).toEqual(Object.assign(new ListDto(), { page: 3 }));
  });

  it('rejects a bad path parameter with 400 too', async () => {
    const error = await rejection(sut.transform({ page: 'x' }, { type: 'param', metatype: ListDto }));

    expect(error.problem).toMatchObject({ type: PROBLEM_TYPES.badQuery, status: 400 });
  });

  it('rejects the body DTO used as a query with 400 rather than 422', async () => {
    const error = await rejection(
      sut.transform({ customer: 'Ada', items: [{ quantity: 0 }] }, query(OrderDto)),
    );

    expect(error.problem).toMatchObject({ type: PROBLEM_TYPES.badQuery, status: 400 });
    expect(error.problem.errors?.[0]).not.toHaveProperty('pointer');
  });

  it('names a nested query parameter in the detail exactly as in errors[].parameter', async () => {
    const error = await rejection(
      sut.transform({ customer: 'Ada', items: [{ quantity: 0 }] }, query(OrderDto)),
    );

    const parameter = error.problem.errors?.[0].parameter;
    expect(parameter).toBeDefined();
    expect(error.problem.detail).toBe(`1 field has errors: ${parameter}`);
  });

  it('names a nested query parameter as the client wrote it (bracket syntax)', async () => {
    const error = await rejection(
      sut.transform({ customer: 'Ada', items: [{ quantity: 0 }] }, query(OrderDto)),
    );

    expect(error.problem.errors?.[0].parameter).toBe('items[0][quantity]');
  });
});

describe(checkBodyShape.name, () => {
  const refusal = (value: unknown): ProblemException => {
    try {
      checkBodyShape(value);
    } catch (error) {
      return error as ProblemException;
    }
    throw new Error('checkBodyShape accepted the body');
  };

  it('accepts bodies of any ordinary shape, surrogate pairs included', () => {
    expect(() =>
      checkBodyShape({ name: 'Kettle 𝕏', tags: [1, 'two', null, { deep: [true] }], empty: {}, 'a/b~c': 1 }),
    ).not.toThrow();
    expect(() => checkBodyShape('plain')).not.toThrow();
    expect(() => checkBodyShape(undefined)).not.toThrow();
  });

  it('refuses a lone surrogate with 400 malformed-body, naming where it is as a JSON pointer', () => {
    const error = refusal({ items: [{ 'a/b~c': 'ok' }, { 'a/b~c': 'x\ud800' }] });
    expect(error.problem).toMatchObject({ type: PROBLEM_TYPES.malformedBody, status: 400 });
    expect(error.problem.detail).toBe(
      '/items/1/a~1b~0c contains a lone UTF-16 surrogate, which is not valid Unicode.',
    );
    expect(refusal('\udc00x').problem.detail).toBe(
      'The body contains a lone UTF-16 surrogate, which is not valid Unicode.',
    );
    expect(refusal({ ['k\udbff']: 1 }).problem.detail).toBe(
      'A property name contains a lone UTF-16 surrogate, which is not valid Unicode.',
    );
  });

  it(`refuses a body nested deeper than ${MAX_BODY_DEPTH} levels, however deep, without overflowing the stack`, () => {
    const nest = (levels: number): unknown => {
      let value: unknown = 'leaf';
      for (let i = 0; i < levels; i++) {
        value = i % 2 === 0 ? { a: value } : [value];
      }
      return value;
    };
    expect(() => checkBodyShape(nest(MAX_BODY_DEPTH))).not.toThrow();
    for (const levels of [MAX_BODY_DEPTH + 1, 100_000]) {
      expect(refusal(nest(levels)).problem).toMatchObject({
        type: PROBLEM_TYPES.malformedBody,
        status: 400,
        detail: `The request body nests deeper than ${MAX_BODY_DEPTH} levels.`,
      });
    }
  });
});
