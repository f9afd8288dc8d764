import { CatalogModule } from 'src/app/catalog/catalog.module';
import { OrdersModule } from 'src/app/orders/orders.module';
import { ReportsModule } from 'src/app/reports/reports.module';

/** The shop's feature modules. `nestor generate resource` appends new modules here, and only here. */
export const APP_MODULES = [CatalogModule, OrdersModule, ReportsModule];
