import 'src/framework/compile-cache';
import 'reflect-metadata';
import { AppModule } from 'src/app.module';
import { serveHttp } from 'src/framework/bootstrap';

void serveHttp((config) => AppModule.forRoot(config));
