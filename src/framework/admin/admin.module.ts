import { Module } from '@nestjs/common';
import { AuthModule } from 'src/framework/auth/auth.module';
import { AdminActionJobs } from 'src/framework/admin/admin-action.jobs';
import { AdminActionsService } from 'src/framework/admin/admin-actions.service';
import { AdminController } from 'src/framework/admin/admin.controller';
import { AdminSchemaService } from 'src/framework/admin/admin-schema.service';
import { AdminSessionController } from 'src/framework/admin/admin-session.controller';
import { AuditEntryResource } from 'src/framework/admin/audit-entry.resource';
import { ResourceModule } from 'src/framework/resource/resource.module';

/** The admin panel's server side: schema, staff sessions, audit history, actions, export, the SPA. */
@Module({
  imports: [
    AuthModule,
    // Audit history, read back: /api/audit-entries (AuditModule, which records it, is global).
    ResourceModule.forFeature([AuditEntryResource]),
  ],
  controllers: [AdminSessionController, AdminController],
  providers: [AdminSchemaService, AdminActionsService, AdminActionJobs],
  exports: [AdminSchemaService],
})
export class AdminModule {}
