import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsString, Length, MaxLength } from 'class-validator';

/** The body of `POST /api/auth/api-keys`. */
export class CreateApiKeyDto {
  @ApiProperty({
    description: 'What the key is for',
    example: 'Warehouse sync',
    minLength: 1,
    maxLength: 100,
  })
  @IsString()
  @Length(1, 100)
  name!: string;

  @ApiProperty({
    type: [String],
    maxItems: 500,
    description: 'Permission codenames the key may use: a subset of your own (superusers: any)',
    example: ['orders.view', 'products.add'],
  })
  @IsArray()
  @ArrayMaxSize(500)
  @IsString({ each: true })
  @MaxLength(150, { each: true })
  permissions!: string[];
}

/** An API key as listed: never its secret or hash. */
export class ApiKeyDto {
  @ApiProperty({ type: 'integer', example: 1 }) id!: number;
  @ApiProperty({ example: 'Warehouse sync' }) name!: string;

  @ApiProperty({ description: 'Visible part of the key (`nst_<prefix>_…`)', example: 'Ab3dEf6hIj9k' })
  prefix!: string;

  @ApiProperty({
    type: [String],
    description: 'Granted codenames; each request uses only those the owner still holds',
    example: ['orders.view'],
  })
  permissions!: string[];

  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastUsedAt!: Date | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt!: Date | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
}

/** A new key: the only response that carries the plaintext key. */
export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({
    description: 'The key, shown only now: send it as `Authorization: Bearer <key>`',
    example: 'nst_Ab3dEf6hIj9k_7mX0c9rQ1VbA2s5TzL8uYw3nKd4pHe6jGf0iRo1qSa2',
  })
  key!: string;
}
