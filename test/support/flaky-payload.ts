import { IsInt, IsString, Min } from 'class-validator';

/** The payload of the test jobs that fail their first `failures` attempts, then succeed. */
export class FlakyPayload {
  @IsString()
  key!: string;

  @IsInt()
  @Min(0)
  failures!: number;
}
