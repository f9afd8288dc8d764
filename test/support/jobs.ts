import { IsString } from 'class-validator';

/** The payload of the jobs specs' recording jobs: a key to find the run by. */
export class KeyPayload {
  @IsString()
  key!: string;
}
