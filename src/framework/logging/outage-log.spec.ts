import { OutageLog } from 'src/framework/logging/outage-log';

describe('OutageLog', () => {
  let now: number;
  let lines: { level: 'warn' | 'log'; text: string }[];
  let outages: OutageLog;
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:6379');

  beforeEach(() => {
    now = 1_000_000;
    lines = [];
    const logger = {
      warn: (text: string) => void lines.push({ level: 'warn', text }),
      log: (text: string) => void lines.push({ level: 'log', text }),
    };
    outages = new OutageLog(logger, 'Redis (jobs)', 60_000, () => now);
  });

  it('logs the first error, counts its repeats from every source, and sums them up once a period', () => {
    outages.failed('Worker mail.send', refused);
    for (let i = 0; i < 30; i++) {
      now += 1_000;
      outages.failed(i % 2 ? 'Queue mail.send' : 'Worker admin.action', refused);
    }
    expect(lines).toEqual([{ level: 'warn', text: 'Worker mail.send: connect ECONNREFUSED 127.0.0.1:6379' }]);

    now += 30_000; // 60 s after the first line
    outages.failed('Worker reports.daily-sales', refused);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toEqual({
      level: 'warn',
      text: 'connect ECONNREFUSED 127.0.0.1:6379: 31 more times in 60 s, from Worker admin.action, Queue mail.send, Worker reports.daily-sales (failing for 60 s)',
    });
  });

  it('logs another message at once, even during an outage', () => {
    outages.failed('Worker mail.send', refused);
    outages.failed('Worker mail.send', new Error('Missing lock for job 7. moveToFinished'));
    outages.failed('Worker mail.send', refused);
    expect(lines.map((l) => l.text)).toEqual([
      'Worker mail.send: connect ECONNREFUSED 127.0.0.1:6379',
      'Worker mail.send: Missing lock for job 7. moveToFinished',
    ]);
  });

  it('says once that the dependency is back, with the outage length and its errors; the next error is new', () => {
    outages.recovered(); // nothing had failed: nothing to say
    outages.failed('Worker mail.send', refused);
    now += 5_000;
    outages.failed('Queue mail.send', refused);
    now += 7_000;
    outages.recovered();
    outages.recovered();
    expect(lines).toEqual([
      { level: 'warn', text: 'Worker mail.send: connect ECONNREFUSED 127.0.0.1:6379' },
      { level: 'log', text: 'Redis (jobs) is reachable again after 12 s (2 errors while it was not)' },
    ]);
    outages.failed('Queue mail.send', refused);
    expect(lines[2]).toEqual({ level: 'warn', text: 'Queue mail.send: connect ECONNREFUSED 127.0.0.1:6379' });
  });

  it('starts a new run after a quiet period, summing up the repeats of the last one first', () => {
    outages.failed('Worker mail.send', refused);
    now += 2_000;
    outages.failed('Worker mail.send', refused);
    now += 120_000;
    outages.failed('Worker mail.send', refused);
    expect(lines.map((l) => l.text)).toEqual([
      'Worker mail.send: connect ECONNREFUSED 127.0.0.1:6379',
      'connect ECONNREFUSED 127.0.0.1:6379: 1 more time in 2 s, from Worker mail.send (failing for 2 s)',
      'Worker mail.send: connect ECONNREFUSED 127.0.0.1:6379',
    ]);
  });

  it('keeps a bounded number of messages when each error is new (a job id in every message)', () => {
    for (let i = 0; i < 1_000; i++) {
      outages.failed('Worker mail.send', new Error(`Missing lock for job ${i}`));
    }
    expect(lines).toHaveLength(1_000); // each one said
    expect((outages as unknown as { repeats: Map<string, unknown> }).repeats.size).toBeLessThanOrEqual(200);
  });
});
