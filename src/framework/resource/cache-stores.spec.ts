import { Logger } from '@nestjs/common';
import { PendingInvalidations } from 'src/framework/resource/cache-stores';

/** A Redis that takes invalidations or refuses them, as the test says, recording what it took. */
class FakeRedis {
  up = false;
  readonly taken: string[][] = [];
  private held?: () => void;

  /** While set, a send waits until `release()`: one on its way to Redis. */
  hold(): void {
    this.held = () => undefined;
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    held?.();
  }

  bump = async (keys: string[]): Promise<void> => {
    if (this.held) {
      await new Promise<void>((resolve) => (this.held = resolve));
    }
    if (!this.up) {
      throw new Error('Redis unreachable');
    }
    this.taken.push(keys);
  };
}

const until = async (what: string, probe: () => boolean): Promise<void> => {
  const deadline = Date.now() + 2_000;
  while (!probe()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe(PendingInvalidations.name, () => {
  let redis: FakeRedis;
  let logger: { log: jest.Mock; error: jest.Mock };
  let sut: PendingInvalidations;

  beforeEach(() => {
    redis = new FakeRedis();
    logger = { log: jest.fn(), error: jest.fn() };
    sut = new PendingInvalidations(redis.bump, logger as unknown as Logger, 'Test cache', 10);
  });
  afterEach(() => sut.close());

  it('sends a failed invalidation again until Redis takes it, then holds nothing', async () => {
    await expect(sut.send(['v:products'], () => redis.bump(['v:products']))).rejects.toThrow(/unreachable/);
    expect(sut.has('v:products')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50)); // a few failed resends
    expect(sut.has('v:products')).toBe(true);
    redis.up = true;
    await until('the resend to land', () => !sut.has('v:products'));
    expect(redis.taken).toEqual([['v:products']]);
    expect(logger.log).toHaveBeenCalledWith(
      expect.stringMatching(/invalidation of v:products sent \d+ s late/),
    );
  });

  it('holds each key once however often it fails, and resends them together', async () => {
    for (let i = 0; i < 1_000; i++) {
      await sut.send(['v:products', 'v:categories'], () => redis.bump(['v:products'])).catch(() => undefined);
    }
    expect(sut.size).toBe(2);
    redis.up = true;
    await sut.flush();
    expect(redis.taken).toEqual([['v:products', 'v:categories']]);
    expect(sut.size).toBe(0);
  });

  it('a successful send takes its keys off', async () => {
    await sut.send(['v:products'], () => redis.bump(['v:products'])).catch(() => undefined);
    redis.up = true;
    await sut.send(['v:products'], () => redis.bump(['v:products']));
    expect(sut.has('v:products')).toBe(false);
  });

  it('keeps a key that failed again while a send was on its way: that send may predate the later write', async () => {
    await sut.send(['v:products'], () => redis.bump(['v:products'])).catch(() => undefined);
    redis.up = true;
    redis.hold();
    const resend = sut.flush(); // on its way
    await sut.send(['v:products'], () => Promise.reject(new Error('refused'))).catch(() => undefined);
    redis.release();
    await resend;
    expect(sut.has('v:products')).toBe(true);
    await until('the next resend to land', () => !sut.has('v:products'));
    expect(redis.taken).toHaveLength(2);
  });

  it('makes one last attempt at close, then stops and says what stays unsent', async () => {
    await sut.send(['v:products'], () => redis.bump(['v:products'])).catch(() => undefined);
    await sut.close();
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('v:products not sent before shutdown'));
    const attempts = redis.taken.length;
    redis.up = true;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(redis.taken).toHaveLength(attempts); // no timer left behind

    const other = new PendingInvalidations(redis.bump, logger as unknown as Logger, 'Test cache', 60_000);
    redis.up = false;
    await other.send(['v:orders'], () => redis.bump(['v:orders'])).catch(() => undefined);
    redis.up = true;
    await other.close(); // the last attempt lands, long before the next tick
    expect(redis.taken).toContainEqual(['v:orders']);
    expect(other.size).toBe(0);
  });
});
