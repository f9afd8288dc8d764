import { Field, InputType, Int } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsInt, IsPositive, Max, ValidateNested } from 'class-validator';
import { INT32_MAX } from 'nestor';

@InputType('OrderLineInput') // the same class is GraphQL's input of placeOrder
export class OrderLineDto {
  @ApiProperty({
    type: 'integer',
    format: 'int32',
    minimum: 1,
    maximum: INT32_MAX,
    example: 1,
    description: 'Id of an active product',
  })
  @Field(() => Int)
  @IsInt()
  @IsPositive()
  // Product ids are PostgreSQL integers: a larger id would fail in SQL as a 400 instead of pointing here.
  @Max(INT32_MAX)
  productId!: number;

  @ApiProperty({ type: 'integer', format: 'int32', example: 1, minimum: 1, maximum: 1000 })
  @Field(() => Int)
  @IsInt()
  @IsPositive()
  @Max(1000)
  quantity!: number;
}

/** The body of `POST /api/orders`, and the input of GraphQL's `placeOrder`. */
@InputType('PlaceOrderInput')
export class PlaceOrderDto {
  @ApiProperty({ type: [OrderLineDto], minItems: 1, maxItems: 100 })
  @Field(() => [OrderLineDto])
  @ValidateNested({ each: true })
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @Type(() => OrderLineDto)
  items!: OrderLineDto[];
}
