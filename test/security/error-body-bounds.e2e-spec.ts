import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/** The error body stays within the bounds the API document states (ErrorResponse). */
describe('error body bounds', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  it('lists at most 50 faults, the last saying how many more there were', async () => {
    const body = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`p${i}`, 1]));
    const res = await ctx.http().post('/api/auth/signup').send(body).expect(400);
    const messages = res.body.message as string[];
    expect(messages).toHaveLength(50);
    expect(messages[0]).toBe('property p0 should not exist');
    // 500 unknown properties and the missing fields' own faults: 49 shown, the rest counted.
    expect(messages[49]).toMatch(/^… and \d+ more faults$/);
    expect(49 + Number(/\d+/.exec(messages[49])![0])).toBeGreaterThanOrEqual(500);
  });

  it('cuts a fault that echoes a huge input to 1,024 characters', async () => {
    const name = 'x'.repeat(10_000);
    const res = await ctx
      .http()
      .post('/api/auth/signup')
      .send({ email: 'ada@example.com', password: 'correct horse battery', [name]: 1 })
      .expect(400);
    expect(res.body.message).toHaveLength(1);
    expect(res.body.message[0]).toHaveLength(1024);
    expect(res.body.message[0]).toMatch(/^property x+…$/);
  });
});
