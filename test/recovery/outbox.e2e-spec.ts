import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { Client } from 'pg';
import { PASSWORD, signUp, sleep, tokenLogin, uniqueEmail, type SignedUp } from '../support/auth-helpers';
import { linkToken, SmtpSink, type ReceivedMail } from '../support/smtp-sink';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const RESET_SUBJECT = 'Reset your password';
const NEW_PASSWORD = 'a brand new passphrase 7';

interface OutboxRow {
  id: string;
  kind: string;
  recipient: string;
  payload: Record<string, unknown>;
  attempts: number;
  last_error: string | null;
  done_at: Date | null;
  failed_at: Date | null;
}

/** Reads the outbox table directly (what the worker left behind). */
class OutboxTable {
  private constructor(private readonly client: Client) {}

  static async open(url: string): Promise<OutboxTable> {
    const client = new Client({ connectionString: url });
    await client.connect();
    return new OutboxTable(client);
  }

  close(): Promise<void> {
    return this.client.end();
  }

  async rowsFor(address: string, kind?: string): Promise<OutboxRow[]> {
    const { rows } = await this.client.query<OutboxRow>(
      `SELECT id, kind, recipient, payload, attempts, last_error, done_at, failed_at FROM outbox
       WHERE recipient = $1 AND ($2::text IS NULL OR kind = $2) ORDER BY created_at`,
      [address.toLowerCase(), kind ?? null],
    );
    return rows;
  }

  async row(id: string): Promise<OutboxRow> {
    const { rows } = await this.client.query<OutboxRow>(
      'SELECT id, kind, recipient, payload, attempts, last_error, done_at, failed_at FROM outbox WHERE id = $1',
      [id],
    );
    return rows[0];
  }

  /** Polls until `check` returns a value (not undefined). */
  async until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  /** Nothing left to do for `address`: every job and mail done or failed. */
  settled(address: string): Promise<true> {
    return this.until(`the outbox of ${address} to settle`, async () =>
      (await this.rowsFor(address)).every((row) => row.done_at || row.failed_at) ? true : undefined,
    );
  }

  /** The one mail row for `address` that is still to be delivered. */
  pendingMail(address: string): Promise<OutboxRow> {
    return this.until(`a pending mail to ${address}`, async () =>
      (await this.rowsFor(address, 'mail')).find((row) => !row.done_at && !row.failed_at),
    );
  }
}

const forgot = (app: TestApp, email: string) => app.http().post('/api/auth/password/forgot').send({ email });
const resetMails = (sink: SmtpSink, address: string): ReceivedMail[] =>
  sink.to(address).filter((mail) => mail.subject.startsWith(RESET_SUBJECT));

// Must stay the first app of this file (see its beforeAll).
describe('outbox without SMTP_URL', () => {
  let database: TestDatabase;
  let ctx: TestApp;
  let output = '';
  let capturing = true;

  beforeAll(async () => {
    database = await createTestDatabase();
    const stream = new PassThrough();
    // nestjs-pino keeps one root logger per process, made by the first app: this app comes
    // first in the file, and what later apps log is dropped here.
    stream.on('data', (chunk: Buffer) => {
      if (capturing) output += chunk.toString();
    });
    ctx = await startApp(database.url, { LOG_LEVEL: 'info', MAIL_RETRY_BASE_SECONDS: '1' }, stream);
  });
  afterAll(async () => {
    capturing = false;
    await ctx?.close();
    await database?.drop();
  });

  const logLines = () =>
    output
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown> & { msg?: string });

  it('writes the mail, link included, to the log, and the link works', async () => {
    const user = await signUp(ctx.http);
    await forgot(ctx, user.email).expect(202);

    const deadline = Date.now() + 10_000;
    let line: (Record<string, unknown> & { msg?: string }) | undefined;
    while (!line && Date.now() < deadline) {
      line = logLines().find(
        (entry) => entry.msg?.includes(`Mail to ${user.email}`) && entry.msg.includes(RESET_SUBJECT),
      );
      if (!line) await sleep(50);
    }
    expect(line).toBeDefined();
    expect(line).toMatchObject({ context: 'Mail' });
    const token = linkToken({ text: line!.msg! } as ReceivedMail, '/reset-password');

    await ctx.http().post('/api/auth/password/reset').send({ token, newPassword: NEW_PASSWORD }).expect(204);
    await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(401);
    await tokenLogin(ctx.http, { email: user.email, password: NEW_PASSWORD });
  });
});

describe('outbox: SMTP outage and failed signups', () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  let outbox: OutboxTable;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({ SMTP_URL: sink.url, MAIL_RETRY_BASE_SECONDS: '1' });
    outbox = await OutboxTable.open(ctx.database.url);
  });
  afterAll(async () => {
    await outbox?.close();
    await ctx?.close();
    await sink?.stop();
  });

  it('answers 202 at once while SMTP is down, and delivers the mail exactly once when it is back', async () => {
    const user = await signUp(ctx.http);
    await sink.waitFor(user.email); // the verification mail, delivered before the outage
    await outbox.settled(user.email);
    await sink.stop();
    let pendingId: string;
    try {
      const started = performance.now();
      await forgot(ctx, user.email).expect(202);
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeLessThan(1000);

      pendingId = (await outbox.pendingMail(user.email)).id;
      // More than two failed attempts (back-off 1 s, 2 s, ...): attempt 3 is claimed, then fails at once.
      await outbox.until('3 attempts', async () =>
        (await outbox.row(pendingId)).attempts >= 3 ? true : undefined,
      );
      await sleep(300);
      const failing = await outbox.row(pendingId);
      expect(failing).toMatchObject({ done_at: null, failed_at: null, last_error: expect.any(String) });
      expect(resetMails(sink, user.email)).toEqual([]);
    } finally {
      await sink.start();
    }

    const mail = await sink.waitFor(user.email, { count: 2, timeoutMs: 20_000 });
    expect(mail.subject).toMatch(/^Reset your password/);
    await sleep(2500); // more than two polls of the worker: no second delivery
    expect(resetMails(sink, user.email)).toHaveLength(1);

    const done = await outbox.row(pendingId);
    expect(done.done_at).not.toBeNull();
    expect(done.failed_at).toBeNull();
    expect(done.payload).toEqual({});
    expect(done.attempts).toBeGreaterThanOrEqual(3);
    // The link delivered late still works.
    await ctx
      .http()
      .post('/api/auth/password/reset')
      .send({ token: linkToken(mail, '/reset-password'), newPassword: NEW_PASSWORD })
      .expect(204);
  }, 45_000);

  it('queues no mail for a signup that fails with 409', async () => {
    const user = await signUp(ctx.http);
    await sink.waitFor(user.email);
    await outbox.settled(user.email);
    const rowsBefore = await outbox.rowsFor(user.email);

    await ctx
      .http()
      .post('/api/auth/signup')
      .send({ email: ` ${user.email.toUpperCase()} `, password: 'another fine passphrase 3' })
      .expect(409);

    expect(await outbox.rowsFor(user.email)).toEqual(rowsBefore);
    await sleep(1500);
    expect(sink.to(user.email)).toHaveLength(1);
  });
});

describe('outbox: final failure', () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  let outbox: OutboxTable;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      SMTP_URL: sink.url,
      MAIL_RETRY_BASE_SECONDS: '1',
      MAIL_MAX_ATTEMPTS: '2',
      EMAIL_VERIFICATION: 'off',
    });
    outbox = await OutboxTable.open(ctx.database.url);
  });
  afterAll(async () => {
    await outbox?.close();
    await ctx?.close();
    await sink?.stop();
  });

  it('records failed_at and last_error after MAIL_MAX_ATTEMPTS, and never sends that mail later', async () => {
    const user = await signUp(ctx.http);
    await sink.stop();
    let failedId: string;
    try {
      await forgot(ctx, user.email).expect(202);
      const pending = await outbox.pendingMail(user.email);
      failedId = pending.id;
      const failed = await outbox.until('the mail to fail', async () => {
        const row = await outbox.row(pending.id);
        return row.failed_at ? row : undefined;
      });
      expect(failed.attempts).toBe(2);
      expect(failed.done_at).toBeNull();
      expect(failed.last_error).toEqual(expect.stringMatching(/\S/));
      expect(failed.payload).toEqual({});
    } finally {
      await sink.start();
    }

    await sleep(3000); // several polls with SMTP back
    expect(sink.to(user.email)).toEqual([]);
    const after = await outbox.row(failedId);
    expect(after.failed_at).not.toBeNull();
    expect(after.done_at).toBeNull();
    expect(after.attempts).toBe(2);
  });
});

describe('outbox: two instances on one database', () => {
  let sink: SmtpSink;
  let database: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    sink = await SmtpSink.start();
    database = await createTestDatabase();
    for (let i = 0; i < 2; i++)
      apps.push(await startApp(database.url, { SMTP_URL: sink.url, MAIL_RETRY_BASE_SECONDS: '1' }));
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await database?.drop();
    await sink?.stop();
  });

  it('delivers each of 20 mails exactly once', async () => {
    // 10 signups (a verification mail each) and 10 resets, spread over both instances.
    const users: SignedUp[] = await Promise.all(
      Array.from({ length: 10 }, (_, i) => signUp(apps[i % 2].http, uniqueEmail('fleet'))),
    );
    await Promise.all(users.map((user, i) => forgot(apps[(i + 1) % 2], user.email).expect(202)));

    const deadline = Date.now() + 20_000;
    const ours = () =>
      sink.mails.filter((mail) => users.some((user) => mail.to.includes(user.email.toLowerCase())));
    while (ours().length < 20 && Date.now() < deadline) await sleep(50);
    await sleep(2500); // more than two polls of each worker: duplicates would show now

    const mails = ours();
    const keys = mails.map(
      (mail) => `${mail.subject}|${mail.to.join(',')}|${/https?:\/\/\S+/.exec(mail.text)?.[0]}`,
    );
    expect(new Set(keys).size).toBe(keys.length);
    expect(mails).toHaveLength(20);
    for (const user of users) {
      expect(
        sink
          .to(user.email)
          .map((mail) => mail.subject.split(' · ')[0])
          .sort(),
      ).toEqual(['Confirm your email address', 'Reset your password']);
    }
  });
});
