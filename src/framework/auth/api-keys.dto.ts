import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsString, Length, Matches, MaxLength } from 'class-validator';
import { PERMISSION_CODENAME } from 'src/framework/auth/auth.dto';
import { INT32_MAX } from 'src/framework/openapi/route-docs';

/** How many permissions one key may carry. */
const MAX_KEY_PERMISSIONS = 500;

/** The body of `POST /api/auth/api-keys`. */
export class CreateApiKeyDto {
  @ApiProperty({
    description: 'What the key is for',
    example: 'Warehouse sync',
    minLength: 1,
    maxLength: 100,
    pattern: '\\S',
  })
  @IsString()
  @Length(1, 100)
  @Matches(/\S/, { message: 'name must not be blank' })
  name!: string;

  @ApiProperty({
    type: 'array',
    items: PERMISSION_CODENAME,
    maxItems: MAX_KEY_PERMISSIONS,
    description: 'Permission codenames the key may use: a subset of your own (superusers: any)',
    example: ['orders.view', 'products.add'],
  })
  @IsArray()
  @ArrayMaxSize(MAX_KEY_PERMISSIONS)
  @IsString({ each: true })
  @MaxLength(PERMISSION_CODENAME.maxLength, { each: true })
  permissions!: string[];
}

/** An API key as listed: never its secret or hash. */
export class ApiKeyDto {
  @ApiProperty({ type: 'integer', format: 'int32', minimum: 1, maximum: INT32_MAX, example: 1 }) id!: number;
  @ApiProperty({ maxLength: 100, pattern: '\\S', example: 'Warehouse sync' }) name!: string;

  @ApiProperty({
    description: 'Visible part of the key (`nst_<prefix>_…`)',
    pattern: '^[A-Za-z0-9]{12}$',
    maxLength: 12,
    example: 'Ab3dEf6hIj9k',
  })
  prefix!: string;

  @ApiProperty({
    type: 'array',
    items: PERMISSION_CODENAME,
    maxItems: MAX_KEY_PERMISSIONS,
    description: 'Granted codenames; each request uses only those the owner still holds',
    example: ['orders.view'],
  })
  permissions!: string[];

  @ApiProperty({ type: String, format: 'date-time', maxLength: 30, nullable: true }) lastUsedAt!: Date | null;
  @ApiProperty({ type: String, format: 'date-time', maxLength: 30, nullable: true }) revokedAt!: Date | null;
  @ApiProperty({ type: String, format: 'date-time', maxLength: 30 }) createdAt!: Date;
}

/** A new key: the only response that carries the plaintext key. */
export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({
    description: 'The key, shown only now: send it as `Authorization: Bearer <key>`',
    pattern: '^nst_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$',
    maxLength: 60,
    example: 'nst_Ab3dEf6hIj9k_7mX0c9rQ1VbA2s5TzL8uYw3nKd4pHe6jGf0iRo1qSa2',
  })
  key!: string;
}
