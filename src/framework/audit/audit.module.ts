import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEntry } from 'src/framework/audit/audit-entry.entity';
import { AuditService } from 'src/framework/audit/audit.service';

/**
 * The audit history every write records into: resource services, auth's account changes and your own
 * services inject `AuditService`; the admin reads it back (`/api/audit-entries`). Global, so any module can
 * record its changes. Example: `constructor(private readonly audit: AuditService) {}`.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditEntry])],
  providers: [AuditService],
  exports: [AuditService],
})
export class AuditModule {}
