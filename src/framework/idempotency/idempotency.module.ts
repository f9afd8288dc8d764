import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyRecord } from 'src/framework/idempotency/idempotency-record.entity';
import { IdempotencyInterceptor } from 'src/framework/idempotency/idempotency.interceptor';
import { IdempotencyService } from 'src/framework/idempotency/idempotency.service';

/**
 * `Idempotency-Key` support (imported once by NestorModule): the store, the interceptor `@Idempotent()`
 * routes use, and the `idempotency_key` table.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([IdempotencyRecord])],
  providers: [IdempotencyService, IdempotencyInterceptor],
  exports: [IdempotencyService, IdempotencyInterceptor],
})
export class IdempotencyModule {}
