import { createHmac, generateKeyPairSync, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Response } from 'supertest';
import { startAppOnFreshDatabase, TEST_ENV, type TestContext } from '../support/test-app';

/*
 * Attacks on the bearer access token of `GET /api/auth/me`. Every forged or broken
 * token must give the contract's 401 JSON error, never a 500 and never library text.
 *
 * Tokens are built by hand (base64url + HMAC/RSA/ECDSA from node:crypto) so that any
 * header, claim or signature can be bent. A token built the same way with the real
 * secret and valid claims is accepted (the control below), so each refused token
 * differs from an accepted one only in the thing under test.
 */

type Json = Record<string, unknown>;
type Signer = (signingInput: string) => string;

const PASSWORD = 'correct horse battery staple';
const ISSUER = 'nest-auth-service';

/** Text a client must never see in a 401 body: library, parser, SQL and stack-trace text. */
const LEAK =
  /jsonwebtoken|JsonWebTokenError|TokenExpiredError|NotBeforeError|passport|invalid signature|jwt (malformed|expired|must|signature|audience|issuer|not active|id invalid|subject invalid)|invalid algorithm|unexpected token|SyntaxError|TypeError|QueryFailedError|invalid input syntax|node_modules|stack|\bat .+\.[jt]s\b/i;

const b64url = (input: string | Buffer): string => Buffer.from(input).toString('base64url');
const segment = (value: unknown): string => b64url(JSON.stringify(value));
const decodeSegment = (part: string): Json =>
  JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Json;
const now = (): number => Math.floor(Date.now() / 1000);

const hmac =
  (hash: 'sha256' | 'sha384' | 'sha512', secret: string | Buffer): Signer =>
  (input) =>
    createHmac(hash, secret).update(input).digest('base64url');
const rs256 =
  (key: KeyObject): Signer =>
  (input) =>
    cryptoSign('sha256', Buffer.from(input), key).toString('base64url');
const es256 =
  (key: KeyObject): Signer =>
  (input) =>
    cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
const REAL = hmac('sha256', TEST_ENV.JWT_SECRET);
/** RFC 9068 §2.1: an access token says what it is, so no other JWT can pass for one. */
const TYP = 'at+jwt';
const HS256 = { alg: 'HS256', typ: TYP };

/** `header.payload.signature`; `signature` is a signer, or literal text to put in the third segment. */
function forge(header: unknown, payload: unknown, signature: Signer | string = REAL): string {
  const input = `${segment(header)}.${segment(payload)}`;
  return `${input}.${typeof signature === 'string' ? signature : signature(input)}`;
}

const attackerRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const attackerEc = generateKeyPairSync('ec', { namedCurve: 'P-256' });

interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

describe('JWT access token attacks (GET /api/auth/me)', () => {
  let ctx: TestContext;
  let alice: { id: string; email: string };
  let bob: { id: string; email: string };
  let genuine: TokenPair;
  let bobTokens: TokenPair;
  /** The claims of alice's genuine access token. */
  let real: Json;
  /** Records any request the service might make to a URL named in a token header. */
  let keyServer: Server;
  const keyServerHits: string[] = [];
  let keyServerUrl: string;
  /** The one message of every refused bearer token, taken from an obviously bad one. */
  let tokenRejected: string;

  const me = (authorization?: string) => {
    const req = ctx.http().get('/api/auth/me');
    return authorization === undefined ? req : req.set('Authorization', authorization);
  };
  const bearer = (token: string) => me(`Bearer ${token}`);

  async function signup(email: string, name: string) {
    const res = await ctx.http().post('/api/auth/signup').send({ email, password: PASSWORD, name });
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 201, body: { email } });
    return { id: res.body.id as string, email };
  }

  async function login(email: string): Promise<TokenPair> {
    const res = await ctx.http().post('/api/auth/token').send({ email, password: PASSWORD });
    expect({ status: res.status, body: res.body }).toMatchObject({
      status: 200,
      body: {
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: expect.any(Number),
      },
    });
    return res.body as TokenPair;
  }

  /** Valid claims for alice's login, with overrides; an `undefined` override removes the claim. */
  function claims(overrides: Json = {}): Json {
    const iat = now();
    const merged: Json = { sub: real.sub, sid: real.sid, jti: randomUUID(), iat, exp: iat + 900 };
    merged.iss = real.iss;
    merged.aud = real.aud;
    Object.assign(merged, overrides);
    for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
    return merged;
  }

  /** The contract's 401: JSON `{ statusCode, error, message }` and nothing that betrays the internals. */
  function expectUnauthorized(res: Response, presented?: string) {
    // The actual message is echoed into the expectation so that a failure shows it in full.
    expect({ status: res.status, body: res.body }).toEqual({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: res.body?.message },
    });
    expect(typeof res.body.message).toBe('string');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.text).not.toMatch(LEAK);
    expect(res.text.length).toBeLessThan(300);
    if (presented && presented.length >= 16) expect(res.text).not.toContain(presented);
  }

  /** `Bearer <token>` is refused with the contract's 401 and the same message as any other bad token. */
  async function expectRejected(token: string) {
    const res = await bearer(token);
    expectUnauthorized(res, token);
    expect(res.body.message).toBe(tokenRejected);
  }

  beforeAll(async () => {
    keyServer = createServer((req, res) => {
      keyServerHits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys: [attackerRsa.publicKey.export({ format: 'jwk' })] }));
    });
    await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
    keyServerUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/keys.json`;

    // HS256 mode (JWT_ALGORITHM=HS256): the forger holds the real secret as a control.
    // The ES256 keys and their attacks: test/auth/signing-keys.e2e-spec.ts.
    ctx = await startAppOnFreshDatabase({ JWT_ALGORITHM: 'HS256' });
    alice = await signup('alice.jwt@example.com', 'Alice');
    bob = await signup('bob.jwt@example.com', 'Bob');
    genuine = await login(alice.email);
    bobTokens = await login(bob.email);
    real = decodeSegment(genuine.accessToken.split('.')[1]);
    tokenRejected = (await bearer('garbage')).body.message;
  });
  afterAll(async () => {
    await ctx?.close();
    await new Promise((resolve) => keyServer?.close(resolve));
  });

  describe('controls', () => {
    it('the genuine access token has the fixed format', () => {
      const [header, , signature] = genuine.accessToken.split('.');
      expect(decodeSegment(header)).toEqual(HS256);
      expect(real).toEqual({
        sub: alice.id,
        sid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i),
        jti: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i),
        iat: expect.any(Number),
        exp: (real.iat as number) + 900,
        iss: ISSUER,
        aud: ISSUER,
      });
      expect(REAL(genuine.accessToken.split('.').slice(0, 2).join('.'))).toBe(signature);
    });

    it('the genuine access token gives 200 with authMethod "jwt" and the user', async () => {
      const res = await bearer(genuine.accessToken);
      expect({ status: res.status, body: res.body }).toMatchObject({
        status: 200,
        body: { id: alice.id, email: alice.email, authMethod: 'jwt' },
      });
      expect(res.text).not.toContain(genuine.accessToken);
    });

    it('a token built by this test with the real secret and valid claims is accepted (checks the forger)', async () => {
      const res = await bearer(forge(HS256, claims()));
      expect({ status: res.status, body: res.body }).toMatchObject({
        status: 200,
        body: { id: alice.id, authMethod: 'jwt' },
      });
    });

    it('no Authorization header at all is 401', async () => {
      expectUnauthorized(await me());
    });
  });

  describe('tampered tokens', () => {
    // The genuine token was accepted above, so the service remembers it as verified
    // (JwtAuthGuard): each of these is a near-copy of it and must still be checked in full.
    const parts = () => genuine.accessToken.split('.');
    it.each<[string, () => string]>([
      [
        'payload with sub changed to the other user, signature kept',
        () => {
          const [h, , s] = parts();
          return `${h}.${segment({ ...real, sub: bob.id })}.${s}`;
        },
      ],
      [
        'payload with exp pushed a year ahead, signature kept',
        () => {
          const [h, , s] = parts();
          return `${h}.${segment({ ...real, exp: (real.exp as number) + 365 * 86400 })}.${s}`;
        },
      ],
      [
        'header changed (kid added), signature kept',
        () => {
          const [, p, s] = parts();
          return `${segment({ ...HS256, kid: 'x' })}.${p}.${s}`;
        },
      ],
      [
        'header re-encoded with other key order, signature kept',
        () => {
          const [, p, s] = parts();
          return `${segment({ typ: TYP, alg: 'HS256' })}.${p}.${s}`;
        },
      ],
      ['signature truncated by one character', () => genuine.accessToken.slice(0, -1)],
      [
        'signature truncated to half',
        () => {
          const [h, p, s] = parts();
          return `${h}.${p}.${s.slice(0, s.length / 2)}`;
        },
      ],
      [
        'signature with one character flipped',
        () => {
          const [h, p, s] = parts();
          return `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
        },
      ],
      [
        'signature of another token (bob’s) on alice’s header and payload',
        () => {
          const [h, p] = parts();
          return `${h}.${p}.${bobTokens.accessToken.split('.')[2]}`;
        },
      ],
      [
        'bob’s payload under alice’s signature',
        () => {
          const [h, , s] = parts();
          return `${h}.${bobTokens.accessToken.split('.')[1]}.${s}`;
        },
      ],
      [
        'signature removed (header.payload.)',
        () => {
          const [h, p] = parts();
          return `${h}.${p}.`;
        },
      ],
      ['signature segment dropped (header.payload)', () => parts().slice(0, 2).join('.')],
      ['an extra fourth segment', () => `${genuine.accessToken}.${parts()[2]}`],
    ])('%s → 401', async (_name, build) => {
      const token = build();
      await expectRejected(token);
    });
  });

  describe('alg "none"', () => {
    const cases: [string, string][] = [];
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      cases.push([alg, 'empty signature'], [alg, 'original signature kept']);
    }
    it.each(cases)('alg %p with %s → 401', async (alg, variant) => {
      const payload = claims({ sub: bob.id });
      const signature = variant === 'empty signature' ? '' : genuine.accessToken.split('.')[2];
      const token = forge({ alg, typ: TYP }, payload, signature);
      await expectRejected(token);
      const own = forge({ alg, typ: TYP }, claims(), signature);
      await expectRejected(own);
    });

    it('no alg at all, and alg null, with the real HS256 signature → 401', async () => {
      for (const header of [{ typ: TYP }, { alg: null, typ: TYP }, { alg: '', typ: TYP }]) {
        const token = forge(header, claims());
        await expectRejected(token);
      }
    });
  });

  describe('other algorithms', () => {
    it.each<[string, () => string]>([
      [
        'HS384 signed with the real secret',
        () => forge({ alg: 'HS384', typ: TYP }, claims(), hmac('sha384', TEST_ENV.JWT_SECRET)),
      ],
      [
        'HS512 signed with the real secret',
        () => forge({ alg: 'HS512', typ: TYP }, claims(), hmac('sha512', TEST_ENV.JWT_SECRET)),
      ],
      [
        '"hs256" (wrong case: alg names are case-sensitive) signed with the real secret',
        () => forge({ alg: 'hs256', typ: TYP }, claims()),
      ],
      [
        'RS256 signed with a fresh RSA key',
        () => forge({ alg: 'RS256', typ: TYP }, claims(), rs256(attackerRsa.privateKey)),
      ],
      [
        'ES256 signed with a fresh EC key',
        () => forge({ alg: 'ES256', typ: TYP }, claims(), es256(attackerEc.privateKey)),
      ],
      [
        'PS256 with an HS256 signature made with the real secret',
        () => forge({ alg: 'PS256', typ: TYP }, claims()),
      ],
      ['HS256 signed with an empty secret', () => forge(HS256, claims(), hmac('sha256', ''))],
    ])('%s → 401', async (_name, build) => {
      const token = build();
      await expectRejected(token);
    });
  });

  describe('typ and crit headers (RFC 9068 §2.1, RFC 8725 §3.11, RFC 7515 §4.1.11)', () => {
    // Media type names compare case-insensitively, and "application/" may be left out (RFC 7515 §4.1.9).
    it.each(['at+jwt', 'AT+JWT', 'At+Jwt', 'application/at+jwt', 'Application/AT+JWT'])(
      'typ %p, signed with the real secret → 200',
      async (typ) => {
        const res = await bearer(forge({ alg: 'HS256', typ }, claims()));
        expect({ status: res.status, body: res.body }).toMatchObject({
          status: 200,
          body: { id: alice.id, authMethod: 'jwt' },
        });
      },
    );

    it.each<[string, Json]>([
      ['typ "JWT" (a JWT that is not an access token)', { alg: 'HS256', typ: 'JWT' }],
      ['typ "jwt"', { alg: 'HS256', typ: 'jwt' }],
      ['no typ at all', { alg: 'HS256' }],
      ['typ null', { alg: 'HS256', typ: null }],
      ['typ empty', { alg: 'HS256', typ: '' }],
      ['typ "application/jwt"', { alg: 'HS256', typ: 'application/jwt' }],
      ['typ of another kind of JWT ("dpop+jwt")', { alg: 'HS256', typ: 'dpop+jwt' }],
      ['typ "at+jwt" with something appended', { alg: 'HS256', typ: 'at+jwtx' }],
      ['typ an array holding "at+jwt"', { alg: 'HS256', typ: [TYP] }],
      ['typ an object', { alg: 'HS256', typ: { toString: TYP } }],
    ])('%s, signed with the real secret → 401', async (_name, header) => {
      await expectRejected(forge(header, claims()));
    });

    it.each<[string, Json]>([
      ['crit ["exp"]', { ...HS256, crit: ['exp'] }],
      ['crit [] (must not be empty)', { ...HS256, crit: [] }],
      ['crit naming an extension that is present', { ...HS256, crit: ['b64'], b64: false }],
      ['crit naming an unknown extension', { ...HS256, crit: ['urn:example:must-understand'] }],
      ['crit as a string', { ...HS256, crit: 'exp' }],
    ])('%s, signed with the real secret → 401', async (_name, header) => {
      await expectRejected(forge(header, claims()));
    });
  });

  describe('guessed secrets', () => {
    it.each<[string, string]>([
      ['"secret"', 'secret'],
      ['"changeme"', 'changeme'],
      ['the empty string', ''],
      ['the issuer name', ISSUER],
      ['the SESSION secret', TEST_ENV.SESSION_SECRET],
      ['the JWT secret with a trailing newline', `${TEST_ENV.JWT_SECRET}\n`],
    ])('HS256 signed with %s → 401', async (_name, secret) => {
      const token = forge(HS256, claims(), hmac('sha256', secret));
      await expectRejected(token);
    });
  });

  describe('time claims (signed with the real secret)', () => {
    it.each<[string, () => Json]>([
      ['expired an hour ago', () => claims({ iat: now() - 3600 - 900, exp: now() - 3600 })],
      ['expired two minutes ago', () => claims({ iat: now() - 1020, exp: now() - 120 })],
      ['no exp at all', () => claims({ exp: undefined })],
      ['exp as a string', () => claims({ exp: String(now() + 900) })],
      ['nbf an hour in the future', () => claims({ nbf: now() + 3600 })],
      ['iat an hour in the future', () => claims({ iat: now() + 3600, exp: now() + 3600 + 900 })],
      ['iat in the year 2100', () => claims({ iat: 4102444800, exp: 4102444800 + 900 })],
      ['iat not a number', () => claims({ iat: 'yesterday' })],
    ])('%s → 401', async (_name, build) => {
      const token = forge(HS256, build());
      await expectRejected(token);
    });
  });

  describe('identity claims (signed with the real secret)', () => {
    it.each<[string, () => Json]>([
      ['wrong iss', () => claims({ iss: 'evil-issuer' })],
      ['wrong aud', () => claims({ aud: 'another-service' })],
      ['aud as an array without our audience', () => claims({ aud: ['another-service'] })],
      ['missing iss', () => claims({ iss: undefined })],
      ['missing aud', () => claims({ aud: undefined })],
      ['missing sub', () => claims({ sub: undefined })],
      ['missing sid', () => claims({ sid: undefined })],
      ['sub not a uuid', () => claims({ sub: 'not-a-uuid' })],
      ['sub a SQL injection string', () => claims({ sub: "' OR '1'='1" })],
      ['sub a SQL injection string with a uuid prefix', () => claims({ sub: `${randomUUID()}' OR '1'='1` })],
      ['sub an object', () => claims({ sub: { id: real.sub } })],
      ['sub an array', () => claims({ sub: [real.sub] })],
      ['sub a number', () => claims({ sub: 1 })],
      ['sub null', () => claims({ sub: null })],
      ['sub of a user that does not exist', () => claims({ sub: randomUUID() })],
      ['sub of the other user with this login’s sid', () => claims({ sub: bob.id })],
      ['sid of a login that does not exist', () => claims({ sid: randomUUID() })],
      [
        'sid of the other user’s login',
        () => claims({ sid: decodeSegment(bobTokens.accessToken.split('.')[1]).sid }),
      ],
      ['sid not a uuid', () => claims({ sid: "x' OR '1'='1" })],
      ['sid an object', () => claims({ sid: { $ne: null } })],
      [
        '__proto__ claim',
        () =>
          JSON.parse(
            `{"__proto__":{"sub":"${bob.id}"},${JSON.stringify(claims({ sub: undefined })).slice(1)}`,
          ) as Json,
      ],
    ])('%s → 401', async (_name, build) => {
      const token = forge(HS256, build());
      await expectRejected(token);
    });

    it.each(['null', '[]', '"alice"', '42', 'true', 'not json', ''])(
      'a payload %p that is not a JSON object, signed with the real secret → 401',
      async (payload) => {
        const input = `${segment(HS256)}.${b64url(payload)}`;
        await expectRejected(`${input}.${REAL(input)}`);
      },
    );

    it.each(['null', '[]', '"HS256"', 'not json', ''])(
      'a header %p that is not a JSON object, signed with the real secret → 401',
      async (header) => {
        const input = `${b64url(header)}.${segment(claims())}`;
        await expectRejected(`${input}.${REAL(input)}`);
      },
    );
  });

  describe('hostile headers', () => {
    it.each<[string, () => string]>([
      [
        'kid "../../../../dev/null", signed with an empty key',
        () => forge({ ...HS256, kid: '../../../../dev/null' }, claims(), hmac('sha256', '')),
      ],
      [
        'kid a SQL injection selecting an attacker key',
        () =>
          forge(
            { ...HS256, kid: "x' UNION SELECT 'attacker-key' -- " },
            claims(),
            hmac('sha256', 'attacker-key'),
          ),
      ],
      [
        'kid a very long string',
        () => forge({ ...HS256, kid: 'k'.repeat(4096) }, claims(), hmac('sha256', 'k'.repeat(4096))),
      ],
      [
        'jku pointing to 127.0.0.1:9, RS256 with the attacker key',
        () =>
          forge(
            { alg: 'RS256', typ: TYP, jku: 'http://127.0.0.1:9/keys.json' },
            claims(),
            rs256(attackerRsa.privateKey),
          ),
      ],
      [
        'x5u pointing to 127.0.0.1:9, RS256 with the attacker key',
        () =>
          forge(
            { alg: 'RS256', typ: TYP, x5u: 'http://127.0.0.1:9/keys.json' },
            claims(),
            rs256(attackerRsa.privateKey),
          ),
      ],
      [
        'jku pointing to a live key server, RS256 with the attacker key',
        () => forge({ alg: 'RS256', typ: TYP, jku: keyServerUrl }, claims(), rs256(attackerRsa.privateKey)),
      ],
      [
        'x5u pointing to a live key server, RS256 with the attacker key',
        () => forge({ alg: 'RS256', typ: TYP, x5u: keyServerUrl }, claims(), rs256(attackerRsa.privateKey)),
      ],
      [
        'jwk embedded with the attacker key, RS256 signed with it',
        () =>
          forge(
            {
              alg: 'RS256',
              typ: TYP,
              jwk: { ...attackerRsa.publicKey.export({ format: 'jwk' }), kid: 'attacker' },
            },
            claims(),
            rs256(attackerRsa.privateKey),
          ),
      ],
      [
        'jwk embedded as an oct key, HS256 signed with it',
        () =>
          forge(
            { ...HS256, jwk: { kty: 'oct', k: b64url('attacker-key') } },
            claims(),
            hmac('sha256', 'attacker-key'),
          ),
      ],
    ])('%s → 401 quickly, without fetching anything', async (_name, build) => {
      const token = build();
      const started = Date.now();
      await expectRejected(token);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(keyServerHits).toEqual([]);
    });
  });

  describe('malformed Authorization headers', () => {
    it.each<[string, () => string]>([
      ['empty', () => ''],
      ['"Bearer" alone', () => 'Bearer'],
      ['"Bearer " with nothing after', () => 'Bearer '],
      ['"Bearer" + garbage', () => 'Bearer garbage-that-is-no-token'],
      ['two dots only', () => 'Bearer ..'],
      ['three single characters', () => 'Bearer a.b.c'],
      ['non-base64 segments', () => 'Bearer !!!.@@@.###'],
      [
        'base64 segments that are not JSON',
        () => `Bearer ${b64url('{{{')}.${b64url('}}}')}.${b64url('sig')}`,
      ],
      ['a 10 kB garbage token', () => `Bearer ${'A'.repeat(3400)}.${'B'.repeat(3400)}.${'C'.repeat(3400)}`],
      [
        'a 10 kB well-formed token with a wrong signature',
        () => `Bearer ${forge(HS256, claims({ pad: 'x'.repeat(7500) }), hmac('sha256', 'wrong'))}`,
      ],
      ['the genuine token without a scheme', () => genuine.accessToken],
      ['the genuine token under scheme "Token"', () => `Token ${genuine.accessToken}`],
      ['the genuine token under scheme "JWT"', () => `JWT ${genuine.accessToken}`],
      ['the genuine token glued to "Bearer" without a space', () => `Bearer${genuine.accessToken}`],
      [
        'Basic with the user’s real email and password (no session cookie)',
        () => `Basic ${Buffer.from(`${alice.email}:${PASSWORD}`).toString('base64')}`,
      ],
      [
        'Basic with the genuine token as credentials',
        () => `Basic ${Buffer.from(`${genuine.accessToken}:`).toString('base64')}`,
      ],
    ])('%s → 401', async (_name, build) => {
      expectUnauthorized(await me(build()));
    });

    // RFC 7235 §2.1: the auth-scheme is case-insensitive.
    it.each(['bearer', 'BEARER', 'BeArEr'])('scheme "%s" with the genuine token → 200', async (scheme) => {
      const res = await me(`${scheme} ${genuine.accessToken}`);
      expect({ status: res.status, body: res.body }).toMatchObject({
        status: 200,
        body: { id: alice.id, authMethod: 'jwt' },
      });
    });
  });

  describe('token confusion', () => {
    it('the refresh token used as an access token → 401', async () => {
      await expectRejected(genuine.refreshToken);
    });

    it('an access token sent to /api/auth/token/refresh as refreshToken → 401', async () => {
      const res = await ctx
        .http()
        .post('/api/auth/token/refresh')
        .send({ refreshToken: genuine.accessToken });
      expectUnauthorized(res, genuine.accessToken);
    });

    it('a forged, really signed access token sent as refreshToken → 401', async () => {
      const token = forge(HS256, claims());
      expectUnauthorized(
        await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: token }),
        token,
      );
    });
  });

  describe('credentials in the query string are ignored', () => {
    it.each(['access_token', 'token', 'jwt', 'bearer', 'authorization'])(
      '/api/auth/me?%s=<genuine> with no header → 401',
      async (param) => {
        const res = await ctx.http().get(`/api/auth/me?${param}=${encodeURIComponent(genuine.accessToken)}`);
        expectUnauthorized(res, genuine.accessToken);
      },
    );

    it('a genuine token in the body of a GET is ignored too → 401', async () => {
      const res = await ctx.http().get('/api/auth/me').send({ access_token: genuine.accessToken });
      expectUnauthorized(res, genuine.accessToken);
    });
  });

  describe('revocation', () => {
    it("after revoking a login's refresh token, its unexpired access token is refused on the very next request; another login of the same user still works", async () => {
      const first = await login(bob.email);
      const second = await login(bob.email);
      expect(decodeSegment(first.accessToken.split('.')[1]).sid).not.toBe(
        decodeSegment(second.accessToken.split('.')[1]).sid,
      );
      // Used once before the revocation, so that a cache of "valid" answers would show.
      expect((await bearer(first.accessToken)).status).toBe(200);
      expect((await bearer(second.accessToken)).status).toBe(200);

      const revoke = await ctx
        .http()
        .post('/api/auth/token/revoke')
        .send({ refreshToken: first.refreshToken });
      expect({ status: revoke.status, body: revoke.body }).toEqual({ status: 204, body: {} });

      await expectRejected(first.accessToken);
      // A token re-signed for the revoked login is refused as well: the login, not the token, is revoked.
      const firstClaims = decodeSegment(first.accessToken.split('.')[1]);
      const reissued = forge(HS256, { ...firstClaims, jti: randomUUID(), iat: now(), exp: now() + 900 });
      await expectRejected(reissued);
      expectUnauthorized(
        await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: first.refreshToken }),
        first.refreshToken,
      );

      const other = await bearer(second.accessToken);
      expect({ status: other.status, body: other.body }).toMatchObject({
        status: 200,
        body: { id: bob.id, email: bob.email, authMethod: 'jwt' },
      });
    });
  });

  it('after all of the above, the genuine token still works and nothing fetched a key URL', async () => {
    const res = await bearer(genuine.accessToken);
    expect({ status: res.status, body: res.body }).toMatchObject({
      status: 200,
      body: { id: alice.id, email: alice.email, authMethod: 'jwt' },
    });
    expect(keyServerHits).toEqual([]);
  });
});
