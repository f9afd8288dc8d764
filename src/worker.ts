// `nestor` first: it turns on the compile cache before the rest of the app loads.
import { runWorker } from 'nestor';
import { AppModule } from 'src/app.module';

void runWorker((config) => AppModule.forRoot(config));
