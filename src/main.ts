// `nestor` first: it turns on the compile cache before the rest of the app loads.
import { serveHttp } from 'nestor';
import { AppModule } from 'src/app.module';

void serveHttp((config) => AppModule.forRoot(config));
