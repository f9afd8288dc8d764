import 'src/framework/compile-cache';
import 'reflect-metadata';
import { AppModule } from 'src/app.module';
import { runWorker } from 'src/framework/bootstrap';

void runWorker((config) => AppModule.forRoot(config));
