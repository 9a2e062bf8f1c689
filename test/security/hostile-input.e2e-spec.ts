import { randomBytes } from 'node:crypto';
import fc, { type Arbitrary } from 'fast-check';
import type { Response } from 'supertest';
import { UsersService } from '../../src/users/users.service';
import { PASSWORD, sessionCookie, sleep, uniqueEmail } from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * Property-based hostile input for every operation of the OpenAPI document (/docs-json):
 * hostile path parameters, query strings and bodies (schema-shaped, random JSON, malformed
 * JSON, wrong content types and encodings), sent anonymously and as an admin (so that
 * authorization never stops the input before validation and the services see it).
 * For every response: no 5xx, errors are the JSON error body, and no stack trace, SQL, ORM
 * or library text reaches the client. The list of operations comes from the document, so a
 * new operation is covered without touching this file.
 *
 * Callers: anonymous; an admin by bearer token, or by cookie session with its X-CSRF-Token on
 * session-only operations; calls that end the caller's own sign-ins (SELF_DESTRUCTIVE) are made
 * by a second, throw-away admin, so that the main admin stays signed in (checked after every
 * operation). Path parameters are hostile strings, random UUIDs or a fresh plain user's id,
 * never the caller's own id.
 *
 * The seed is random on every run; a failure prints it with the shrunk counter-example.
 * HOSTILE_INPUT_SEED=<seed> replays it; HOSTILE_INPUT_STATS=1 prints the statuses seen per
 * operation (to see how far the input got: 2xx/404 mean past validation).
 */

const NUM_RUNS = 40;
/** The same seed for every operation: only the one that failed with it replays exactly. */
const REPLAY_SEED = process.env.HOSTILE_INPUT_SEED ? Number(process.env.HOSTILE_INPUT_SEED) : undefined;

// ---------------------------------------------------------------------------------------
// OpenAPI document

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  example?: unknown;
}

interface Operation {
  parameters?: { in: string; name: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: Record<string, string[]>[];
}

interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

type Verb = 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options';
const VERBS = new Set<string>(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
const UNSAFE = new Set<Verb>(['post', 'put', 'patch', 'delete']);

interface Endpoint {
  key: string; // "POST /api/auth/signup"
  verb: Verb;
  path: string; // "/api/users/{id}"
  pathParams: string[];
  queryParams: string[];
  bodySchema?: Schema;
  sessionOnly: boolean;
}

function endpointsOf(doc: OpenApiDocument): Endpoint[] {
  const resolve = (schema: Schema | undefined): Schema | undefined => {
    const ref = schema?.$ref?.replace('#/components/schemas/', '');
    return ref ? doc.components?.schemas?.[ref] : schema;
  };
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([verb]) => VERBS.has(verb))
      .map(([verb, op]) => {
        const params = op.parameters ?? [];
        const body = op.requestBody?.content;
        const bodySchema = body
          ? resolve((body['application/json'] ?? Object.values(body)[0])?.schema)
          : undefined;
        const templateParams = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
        return {
          key: `${verb.toUpperCase()} ${path}`,
          verb: verb as Verb,
          path,
          pathParams: [
            ...new Set([...templateParams, ...params.filter((p) => p.in === 'path').map((p) => p.name)]),
          ],
          queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
          bodySchema: body ? (bodySchema ?? {}) : undefined,
          sessionOnly:
            !!op.security?.length &&
            op.security.every((requirement) => Object.keys(requirement).join() === 'session'),
        };
      }),
  );
}

// ---------------------------------------------------------------------------------------
// Arbitraries

/** encodeURIComponent, except that a lone surrogate becomes a raw invalid UTF-8 escape. */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return `${encodeURIComponent(value.replace(/[\uD800-\uDFFF]/g, ''))}%ED%A0%80`;
  }
}

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF',
  'x\uD83D',
  '\uFFFE',
  '\u202Eevil',
  'ä',
  'A\u0301',
  '😀',
  '\r\n',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  "'; DROP TABLE users; --",
  '" OR ""="',
  '$1',
  '%',
  '_',
  '\\',
  '${7*7}',
  '{{7*7}}',
  '../../etc/passwd',
  '%00',
  '%ZZ',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '0x10',
  '9'.repeat(40),
  'true',
  'admin',
  'user',
  'me',
  '__proto__',
  'constructor',
  'toString',
  PASSWORD, // strong enough for signup, so that some signups reach the database
  'ADMIN@EXAMPLE.COM',
  ' a@b.co ',
  'a@b',
  '@',
  'a@ä.de',
  'x@example.com\u0000',
];

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];
const MASS_ASSIGNMENT_KEYS = ['id', 'roles', 'disabled', 'passwordHash', 'isAdmin', 'email', 'createdAt'];

const longString = fc
  .tuple(
    fc.constantFrom('a', 'ä', '😀', '\u0000', '%', '\\', '"', ' '),
    fc.integer({ min: 255, max: 10_000 }),
  )
  .map(([char, length]) => char.repeat(length).slice(0, length));

const hostileString: Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...NASTY_STRINGS), fc.string({ maxLength: 10 }))
      .map((parts) => parts.join('')),
  },
  { weight: 1, arbitrary: longString },
  { weight: 2, arbitrary: fc.emailAddress() },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.emailAddress(), fc.constantFrom('\u0000', ' ', 'Ä', '\uD800', '%00', "'--"))
      .map(([email, extra]) => ` ${email.toUpperCase()}${extra}`),
  },
);

/** Short enough for a URL (Node refuses request lines over 16 kB before the app sees them). */
const shortHostileString = hostileString.map((value) => value.slice(0, 500));

const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(), // NaN and ±Infinity serialise to null
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -1, 0, 2 ** 31, -(2 ** 31) - 1, 1e308, Number.MIN_VALUE),
);

/** JSON text that JSON.stringify never produces, but a parser accepts. */
const RAW_JSON_VALUES = [
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '-0',
  '0.0000001',
  'true',
  'false',
  'null',
  '{}',
  '[]',
  '""',
  '[null]',
  '[[]]',
  '{"__proto__":{"isAdmin":true}}',
  '{"constructor":{"prototype":{"isAdmin":true}}}',
  '{"$gt":""}',
  '{"$ne":null}',
];

/** Deeply nested arrays or objects: recursion in transformers and validators. */
const deeplyNested = fc
  .tuple(fc.integer({ min: 30, max: 3_000 }), fc.boolean())
  .map(([depth, array]) =>
    array ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
  );

/** Any hostile JSON value, as JSON text. */
const hostileJsonValue: Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: hostileString.map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: hostileNumber.map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.boolean().map(String) },
  { weight: 2, arbitrary: fc.constantFrom(...RAW_JSON_VALUES) },
  { weight: 2, arbitrary: fc.array(hostileString, { maxLength: 40 }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: deeplyNested },
);

/** A hostile string that fits the declared length, so that it gets past validation now and then. */
function fittingString(schema: Schema): Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Infinity;
  return hostileString.map((value) =>
    value.length < min ? value.padEnd(min, value || 'x') : value.slice(0, max),
  );
}

/** A value for one property: usually of the declared type (but hostile), else anything. */
function valueFor(schema: Schema): Arbitrary<string> {
  const typed = (arbitrary: Arbitrary<string>) =>
    fc.oneof({ weight: 3, arbitrary }, { weight: 2, arbitrary: hostileJsonValue });
  switch (schema.type) {
    case 'string':
      return typed(fittingString(schema).map((value) => JSON.stringify(value)));
    case 'boolean':
      return typed(fc.boolean().map(String));
    case 'number':
    case 'integer':
      return typed(hostileNumber.map((value) => JSON.stringify(value)));
    case 'array':
      return typed(
        fc
          .array(schema.items?.type === 'string' ? fittingString(schema.items) : hostileString, {
            maxLength: 40,
          })
          .map((value) => JSON.stringify(value)),
      );
    default:
      return hostileJsonValue;
  }
}

/** A JSON object with the schema's properties (some left out) and now and then unknown or prototype keys. */
function shapedBody(schema: Schema): Arbitrary<string> {
  const properties = Object.entries(schema.properties ?? {});
  const known = fc.tuple(
    ...properties.map(([name, property]) =>
      fc.option(
        valueFor(property).map((value): [string, string] => [name, value]),
        { nil: undefined, freq: 4 },
      ),
    ),
  );
  const extraKey = fc.oneof(
    fc.constantFrom(...PROTOTYPE_KEYS, ...MASS_ASSIGNMENT_KEYS, ...properties.map(([name]) => name)),
    fc.string({ maxLength: 20 }),
  );
  const extras = fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as [string, string][]) },
    { weight: 1, arbitrary: fc.array(fc.tuple(extraKey, hostileJsonValue), { minLength: 1, maxLength: 3 }) },
  );
  return fc
    .tuple(known, extras)
    .map(
      ([present, extra]) =>
        `{${[...present.filter((entry) => entry !== undefined), ...extra]
          .map(([key, value]) => `${JSON.stringify(key)}:${value}`)
          .join(',')}}`,
    );
}

const MALFORMED_JSON = [
  '{',
  '}',
  '{"email":',
  "{'email':'a'}",
  '{"a":1,}',
  '{a:1}',
  'undefined',
  'NaN',
  '\u0000',
  '{"a":"\\u00zz"}',
  '\uFEFF{}',
  '{"a":1}garbage',
  '[',
  '"unterminated',
  '{"a":01}',
  '',
  ' ',
];

const WRONG_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=bogus',
  'multipart/form-data; boundary=x',
  'application/xml',
  'text/html',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=bogus',
  'application/vnd.api+json',
  'application/json, text/plain',
  '*/*',
  ';;;',
];

interface HostileBody {
  contentType?: string;
  contentEncoding?: string;
  body?: string;
}

function bodyArbitrary(schema: Schema): Arbitrary<HostileBody> {
  const shaped = shapedBody(schema);
  const json = (body: string): HostileBody => ({ contentType: 'application/json', body });
  const names = Object.keys(schema.properties ?? {});
  const formEncoded = fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(...names, ...PROTOTYPE_KEYS, '__proto__[isAdmin]', 'a[b][c]', 'roles[]'),
          fc.string({ maxLength: 10 }),
        ),
        shortHostileString,
      ),
      { maxLength: 6 },
    )
    .map((pairs) => pairs.map(([key, value]) => `${encode(key)}=${encode(value)}`).join('&'));
  return fc.oneof(
    { weight: 8, arbitrary: shaped.map(json) },
    { weight: 1, arbitrary: fc.json().map(json) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom(...MALFORMED_JSON),
          fc.string({ unit: 'grapheme', maxLength: 50 }),
          shaped.map((body) => body.slice(0, -1)),
        )
        .map(json),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        contentType: fc.constantFrom(...WRONG_CONTENT_TYPES),
        body: fc.oneof(shaped, formEncoded, fc.string({ unit: 'grapheme', maxLength: 50 })),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        contentType: fc.constant('application/json'),
        contentEncoding: fc.constantFrom('gzip', 'deflate', 'br', 'bogus', 'gzip, gzip', 'identity'),
        body: shaped,
      }),
    },
    { weight: 1, arbitrary: fc.constant(json(`{"a":"${'x'.repeat(20_000)}"}`)) }, // over the body limit
  );
}

const PATH_CONSTANTS = [
  '..%2F..%2Fetc%2Fpasswd',
  "' OR 1=1 --",
  '%00',
  'ä',
  '0',
  '-1',
  '9'.repeat(40),
  'me',
  '__proto__',
  'constructor',
  'null',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  '\u0000',
];
/** Sent as is, not encoded: bad percent-encoding, dot segments, reserved characters. */
const RAW_PATH_SEGMENTS = [
  '%ZZ',
  '%',
  '%0',
  '%00',
  '%C0%AE',
  '%ED%A0%80',
  '%FF',
  '..',
  '.',
  '%2e%2e',
  '%2F',
  ';',
  '*',
];

function pathParamArbitrary(ids: readonly string[]): Arbitrary<string> {
  return fc.oneof(
    fc.uuid(),
    fc.string({ unit: 'grapheme', maxLength: 60 }).map(encode),
    fc.constantFrom(...PATH_CONSTANTS).map(encode),
    fc.constantFrom(...RAW_PATH_SEGMENTS),
    ...(ids.length ? [{ weight: 2, arbitrary: fc.constantFrom(...ids) }] : []),
  );
}

function queryArbitrary(declared: readonly string[]): Arbitrary<string> {
  const key = fc.oneof(
    {
      weight: declared.length ? 4 : 0,
      arbitrary: declared.length ? fc.constantFrom(...declared) : fc.constant(''),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        ...PROTOTYPE_KEYS,
        'a[b]',
        'page[]',
        'limit[$gt]',
        'q[]',
        'access_token',
        'token',
        'sid',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
  );
  const value = fc.oneof(
    shortHostileString,
    fc.integer().map(String),
    fc.bigInt().map(String),
    fc.constantFrom(
      '9'.repeat(40),
      '-1',
      '-0',
      '0',
      '1.5',
      '1e400',
      '1e3',
      '0x10',
      'NaN',
      'Infinity',
      '',
      ' 1',
    ),
  );
  const pair = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(key, value).map(([k, v]) => `${encode(k)}=${encode(v)}`) },
    {
      weight: 1,
      arbitrary: fc.tuple(key, fc.constantFrom(...RAW_PATH_SEGMENTS)).map(([k, v]) => `${encode(k)}=${v}`),
    },
    { weight: 1, arbitrary: key.map(encode) }, // a key without a value
  );
  return fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join('&'));
}

interface HostileRequest extends HostileBody {
  method: string;
  url: string;
}

function requestArbitrary(endpoint: Endpoint, ids: readonly string[]): Arbitrary<HostileRequest> {
  const params = fc.tuple(...endpoint.pathParams.map(() => pathParamArbitrary(ids)));
  const query = fc.oneof(
    { weight: endpoint.verb === 'get' ? 1 : 4, arbitrary: fc.constant('') },
    { weight: endpoint.verb === 'get' ? 4 : 1, arbitrary: queryArbitrary(endpoint.queryParams) },
  );
  // Operations without a documented body get one now and then too (a body where none belongs).
  const body: Arbitrary<HostileBody> = endpoint.bodySchema
    ? bodyArbitrary(endpoint.bodySchema)
    : fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: bodyArbitrary({}) });
  return fc.tuple(params, query, body).map(([values, search, hostileBody]) => {
    let path = endpoint.path;
    endpoint.pathParams.forEach((name, index) => (path = path.replace(`{${name}}`, values[index])));
    return withShortToString({
      method: endpoint.verb.toUpperCase(),
      url: search ? `${path}?${search}` : path,
      ...hostileBody,
    });
  });
}

/**
 * Always tried first: each body property set to null while the others hold their
 * documented example, so a null that passes validation and reaches the database
 * is found on every run, not on one seed in twenty.
 */
function nullPropertyExamples(endpoint: Endpoint, ids: readonly string[]): [HostileRequest][] {
  const properties = Object.entries(endpoint.bodySchema?.properties ?? {});
  let path = endpoint.path;
  endpoint.pathParams.forEach((name) => (path = path.replace(`{${name}}`, ids[0] ?? 'x')));
  return properties.map(([nulled]) => {
    const body = Object.fromEntries(
      properties
        .filter(([name, property]) => name === nulled || property.example !== undefined)
        .map(([name, property]) => [name, name === nulled ? null : property.example]),
    );
    return [
      withShortToString({
        method: endpoint.verb.toUpperCase(),
        url: path,
        contentType: 'application/json',
        body: JSON.stringify(body),
      }),
    ];
  });
}

/** Counter-examples print with long bodies cut in the middle (a 3,000-deep nesting is unreadable). */
function withShortToString(req: HostileRequest): HostileRequest {
  const cut = (text: string) =>
    text.length <= 300 ? text : `${text.slice(0, 200)}…(${text.length} chars in all)…${text.slice(-60)}`;
  return Object.assign(req, {
    [fc.toStringMethod]: () =>
      JSON.stringify({ ...req, url: cut(req.url), body: req.body === undefined ? undefined : cut(req.body) }),
  });
}

// ---------------------------------------------------------------------------------------
// The properties every response must have

/** Stack frames, SQL, ORM, driver and parser text: never in a response. */
const INTERNALS =
  /QueryFailedError|TypeORM|typeorm|postgres|pg_|SELECT |INSERT |UPDATE |DELETE FROM|syntax error|at [\w.<>]+ \(|node_modules|\.ts:\d+|\.js:\d+|stack|Unexpected token|JSON\.parse|ECONNREFUSED|duplicate key|violates|relation "/gi;

function internalsIn(text: string): string[] {
  return [...text.matchAll(INTERNALS)].map((match) => match[0].toLowerCase());
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Every string a client sent (in this file) that looks like internals: a response may echo
 * it back (a validation message naming an unknown property `stack`, a user named
 * "SELECT ..."), which is no leak.
 */
const sentInternals = new Set<string>();

type Answer = Pick<Response, 'status' | 'body' | 'text' | 'headers'>;

function checkResponse(req: HostileRequest, res: Answer, anonymous: boolean): void {
  const problems: string[] = [];
  const echoed = new Set(internalsIn([req.url, safeDecode(req.url), req.body ?? ''].join('\n')));
  echoed.forEach((text) => sentInternals.add(text));

  if (res.status >= 500) problems.push(`status ${res.status}`);
  if (res.status >= 400) {
    const body = res.body as { statusCode?: unknown; error?: unknown; message?: unknown } | undefined;
    const messageOk =
      typeof body?.message === 'string' ||
      (Array.isArray(body?.message) && body.message.every((item) => typeof item === 'string'));
    if (!/^application\/json/.test(String(res.headers['content-type'])))
      problems.push(`error is not JSON (${String(res.headers['content-type'])})`);
    else if (body?.statusCode !== res.status || typeof body.error !== 'string' || !messageOk)
      problems.push('error body is not { statusCode, error, message }');
    if (anonymous && res.headers['set-cookie'])
      problems.push(`anonymous failed request got Set-Cookie: ${String(res.headers['set-cookie'])}`);
  }
  // A success may echo data stored by earlier requests (GET /api/users lists their names).
  const leaks = internalsIn(res.text ?? '').filter(
    (text) => !echoed.has(text) && !(res.status < 400 && sentInternals.has(text)),
  );
  if (leaks.length) problems.push(`internals in the body: ${[...new Set(leaks)].join(', ')}`);

  if (problems.length)
    throw new Error(`${problems.join('; ')}\n  → ${res.status} ${(res.text ?? '').slice(0, 1_500)}`);
}

// ---------------------------------------------------------------------------------------
// The test

type Credentials =
  { kind: 'bearer'; accessToken: string } | { kind: 'session'; cookie: string; csrfToken: string };

/** Calls that end the caller's own sign-ins: the admin makes them with a login of a second, throw-away admin. */
const SELF_DESTRUCTIVE = new Set([
  'POST /api/auth/logout-all',
  'DELETE /api/auth/session',
  'POST /api/auth/password',
]);

describe('the response check', () => {
  const fake = (status: number, body: unknown): Answer => ({
    status,
    body,
    text: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const req: HostileRequest = { method: 'POST', url: '/x', body: '{"stack":"SELECT 1"}' };

  it('refuses 5xx, non-standard error bodies and internals that the client did not send', () => {
    expect(() => checkResponse(req, fake(500, { statusCode: 500, error: 'x', message: 'x' }), false)).toThrow(
      /status 500/,
    );
    expect(() => checkResponse(req, fake(400, { message: 'x' }), false)).toThrow(/error body/);
    const leak = { statusCode: 400, error: 'Bad Request', message: 'QueryFailedError: duplicate key value' };
    expect(() => checkResponse(req, fake(400, leak), false)).toThrow(/queryfailederror, duplicate key/);
  });

  it('accepts a message that echoes what the client sent', () => {
    const echo = {
      statusCode: 400,
      error: 'Bad Request',
      message: ['property stack should not exist: SELECT 1'],
    };
    expect(() => checkResponse(req, fake(400, echo), false)).not.toThrow();
  });
});

describe('hostile input on every operation of the OpenAPI document', () => {
  let ctx: TestContext;
  let users: UsersService;
  let endpoints: Endpoint[];
  let admin: Account;
  let disposableAdmin: Account;
  let adminBearer: Credentials;
  let adminSession: Credentials;

  interface Account {
    id: string;
    email: string;
    password: string;
  }

  /**
   * Accounts are made through the service: no HTTP, so a throttled signup cannot break the setup.
   * The password is random: a hostile `POST /api/auth/password` must never guess it by chance
   * (the arbitraries send the helpers' PASSWORD as a strong new password).
   */
  async function newAccount(prefix: string, roles: string[] = []): Promise<Account> {
    const email = uniqueEmail(prefix);
    const password = `hostile-${randomBytes(12).toString('hex')}`;
    const user = await users.create({ email, password, roles });
    return { id: user.id, email, password };
  }

  /** A fresh login; undefined while login is throttled (429) after a few polite retries. */
  async function login(account: Account, kind: Credentials['kind']): Promise<Credentials | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await ctx
        .http()
        .post(kind === 'bearer' ? '/api/auth/token' : '/api/auth/session')
        .send({ email: account.email, password: account.password });
      if (res.status === 200)
        return kind === 'bearer'
          ? { kind, accessToken: (res.body as { accessToken: string }).accessToken }
          : {
              kind,
              cookie: sessionCookie(res.headers['set-cookie']),
              csrfToken: res.body.csrfToken as string,
            };
      if (res.status !== 429) throw new Error(`setup: ${kind} login failed: ${res.status} ${res.text}`);
      await sleep(Math.min(Number(res.headers['retry-after']) || 1, 5) * 1_000);
    }
    return undefined;
  }

  async function mustLogin(account: Account, kind: Credentials['kind']): Promise<Credentials> {
    const credentials = await login(account, kind);
    if (!credentials) throw new Error(`setup: ${kind} login stays throttled`);
    return credentials;
  }

  async function send(verb: Verb, req: HostileRequest, credentials?: Credentials): Promise<Response> {
    let test = ctx.http()[verb](req.url);
    if (credentials?.kind === 'bearer') test = test.set('Authorization', `Bearer ${credentials.accessToken}`);
    if (credentials?.kind === 'session') {
      test = test.set('Cookie', credentials.cookie);
      if (UNSAFE.has(verb)) test = test.set('X-CSRF-Token', credentials.csrfToken);
    }
    if (req.contentType !== undefined) test = test.set('Content-Type', req.contentType);
    if (req.contentEncoding !== undefined) test = test.set('Content-Encoding', req.contentEncoding);
    return req.body === undefined ? await test : await test.send(req.body);
  }

  /** The admin's long-lived credentials that stopped working (then logs in again). */
  async function deadAdminCredentials(): Promise<string[]> {
    const dead: string[] = [];
    for (const credentials of [adminBearer, adminSession]) {
      const res = await send('get', { method: 'GET', url: '/api/auth/me' }, credentials);
      if (res.status !== 200) dead.push(`${credentials.kind} (GET /api/auth/me → ${res.status})`);
    }
    if (dead.length) {
      adminBearer = await mustLogin(admin, 'bearer');
      adminSession = await mustLogin(admin, 'session');
    }
    return dead;
  }

  async function runAll(caller: 'anonymous' | 'admin'): Promise<void> {
    const failures: string[] = [];
    const statuses: Record<string, Record<number, number>> = {};
    for (const endpoint of endpoints) {
      // A fresh plain user per operation, so that valid ids reach the services too.
      const target = await newAccount('hostile-target');
      const kind: Credentials['kind'] = endpoint.sessionOnly ? 'session' : 'bearer';
      const selfDestructive = caller === 'admin' && SELF_DESTRUCTIVE.has(endpoint.key);
      let throwAway: Credentials | undefined; // the disposable admin's login, renewed once a call succeeds
      const histogram = (statuses[`${caller} ${endpoint.key}`] = {} as Record<number, number>);

      const details = await fc.check(
        fc.asyncProperty(requestArbitrary(endpoint, [target.id]), async (req) => {
          let credentials: Credentials | undefined;
          if (selfDestructive) {
            credentials = throwAway ??= await login(disposableAdmin, kind);
            fc.pre(credentials !== undefined); // login throttled: skip this run
          } else if (caller === 'admin') {
            credentials = kind === 'session' ? adminSession : adminBearer;
          }
          const res = await send(endpoint.verb, req, credentials);
          if (selfDestructive && res.status < 300) throwAway = undefined;
          histogram[res.status] = (histogram[res.status] ?? 0) + 1;
          checkResponse(req, res, caller === 'anonymous');
        }),
        {
          numRuns: NUM_RUNS,
          includeErrorInReport: true,
          seed: REPLAY_SEED,
          examples: nullPropertyExamples(endpoint, [target.id]),
        },
      );
      if (details.failed)
        failures.push(`${endpoint.key} as ${caller}:\n${fc.defaultReportMessage(details) ?? ''}`);

      if (caller === 'admin') {
        const dead = await deadAdminCredentials();
        if (dead.length)
          failures.push(`after ${endpoint.key} as admin, the admin's own sign-ins fail: ${dead.join(', ')}`);
      }
    }
    if (process.env.HOSTILE_INPUT_STATS)
      console.log(
        Object.entries(statuses)
          .map(([name, counts]) => `${name.padEnd(48)} ${JSON.stringify(counts)}`)
          .join('\n'),
      );
    if (failures.length)
      throw new Error(`${failures.length} operation(s) failed:\n\n${failures.join('\n\n')}`);
  }

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    users = ctx.app.get(UsersService);
    const res = await ctx.http().get('/docs-json').expect(200);
    endpoints = endpointsOf(res.body as OpenApiDocument);
    admin = await newAccount('hostile-admin', ['admin']);
    disposableAdmin = await newAccount('hostile-disposable-admin', ['admin']);
    adminBearer = await mustLogin(admin, 'bearer');
    adminSession = await mustLogin(admin, 'session');
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('finds the operations in the OpenAPI document', () => {
    const keys = endpoints.map((endpoint) => endpoint.key);
    expect(keys.length).toBeGreaterThan(10);
    expect(keys).toEqual(
      expect.arrayContaining(['POST /api/auth/signup', 'GET /api/users', 'PUT /api/users/{id}/roles']),
    );
    const roles = endpoints.find((endpoint) => endpoint.key === 'PUT /api/users/{id}/roles')!;
    expect(roles.pathParams).toEqual(['id']);
    expect(Object.keys(roles.bodySchema?.properties ?? {})).toEqual(['roles']);
    expect(endpoints.find((endpoint) => endpoint.key === 'GET /api/users')!.queryParams).toEqual(
      expect.arrayContaining(['page', 'limit']),
    );
    expect(endpoints.find((endpoint) => endpoint.key === 'DELETE /api/auth/session')!.sessionOnly).toBe(true);
  });

  it(
    'anonymous: no 5xx and no internals, whatever the path, query and body',
    () => runAll('anonymous'),
    300_000,
  );

  it(
    'admin (bearer; cookie session with CSRF token on session-only routes): no 5xx and no internals',
    () => runAll('admin'),
    300_000,
  );
});
