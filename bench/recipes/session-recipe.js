// The NestJS documentation's session recipe, as a user would copy it: express-session
// on a PostgreSQL store (connect-pg-simple), passport.initialize() + passport.session(),
// a PassportSerializer whose deserializeUser reads the user per request, a local
// strategy behind AuthGuard('local') that calls logIn(), and an "authenticated" guard.
// It keeps its own tables (recipe_users, recipe_sessions) in the bench's database
// (DATABASE_URL) and one user (BENCH_EMAIL, BENCH_PASSWORD) whose GET /api/auth/me
// answers what the service's does (BENCH_ME_JSON). Decorators applied by hand.
const { Controller, Get, HttpCode, Injectable, Module, Post, Req, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { AuthGuard, PassportModule, PassportSerializer, PassportStrategy } = require('@nestjs/passport');
const bcrypt = require('bcrypt');
const connectPgSimple = require('connect-pg-simple');
const session = require('express-session');
const passport = require('passport');
const { Strategy } = require('passport-local');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const ME = JSON.parse(process.env.BENCH_ME_JSON ?? '{}');

class LocalStrategy extends PassportStrategy(Strategy) {
  constructor() {
    super({ usernameField: 'email' });
  }
  async validate(email, password) {
    const { rows } = await pool.query(
      'SELECT id, password_hash, profile FROM recipe_users WHERE email = $1',
      [email],
    );
    if (!rows[0] || !(await bcrypt.compare(password, rows[0].password_hash))) return null;
    return { ...rows[0].profile, id: rows[0].id };
  }
}
Injectable()(LocalStrategy);

class SessionSerializer extends PassportSerializer {
  serializeUser(user, done) {
    done(null, user.id);
  }
  deserializeUser(id, done) {
    pool.query('SELECT id, profile FROM recipe_users WHERE id = $1', [id]).then(
      ({ rows }) => done(null, rows[0] ? { ...rows[0].profile, id: rows[0].id } : false),
      (error) => done(error),
    );
  }
}
Injectable()(SessionSerializer);

class LocalAuthGuard extends AuthGuard('local') {
  async canActivate(context) {
    const result = await super.canActivate(context);
    await super.logIn(context.switchToHttp().getRequest());
    return result;
  }
}
Injectable()(LocalAuthGuard);

class AuthenticatedGuard {
  canActivate(context) {
    return context.switchToHttp().getRequest().isAuthenticated();
  }
}
Injectable()(AuthenticatedGuard);

class AuthController {
  login(req) {
    return req.user;
  }
  me(req) {
    return req.user;
  }
}
Controller('api/auth')(AuthController);
const decorate = (name, ...decorators) => {
  const descriptor = Object.getOwnPropertyDescriptor(AuthController.prototype, name);
  for (const decorator of decorators) decorator(AuthController.prototype, name, descriptor);
  Req()(AuthController.prototype, name, 0);
};
decorate('login', Post('session'), HttpCode(200), UseGuards(LocalAuthGuard));
decorate('me', Get('me'), UseGuards(AuthenticatedGuard));

class SessionRecipeModule {}
Module({
  imports: [PassportModule.register({ session: true })],
  controllers: [AuthController],
  providers: [LocalStrategy, SessionSerializer],
})(SessionRecipeModule);

async function main() {
  await pool.query(
    'CREATE TABLE IF NOT EXISTS recipe_users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text UNIQUE NOT NULL, password_hash text NOT NULL, profile jsonb NOT NULL)',
  );
  await pool.query(
    'INSERT INTO recipe_users (email, password_hash, profile) VALUES ($1, $2, $3) ON CONFLICT (email) DO UPDATE SET password_hash = $2, profile = $3',
    [process.env.BENCH_EMAIL, await bcrypt.hash(process.env.BENCH_PASSWORD, 10), ME],
  );
  const app = await NestFactory.create(SessionRecipeModule, { logger: false });
  const PgStore = connectPgSimple(session);
  app.use(
    session({
      store: new PgStore({ pool, tableName: 'recipe_sessions', createTableIfMissing: true }),
      secret: process.env.BENCH_SESSION_SECRET,
      resave: false,
      saveUninitialized: false,
    }),
  );
  app.use(passport.initialize());
  app.use(passport.session());
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.stdout.write('listening\n');
  process.on(
    'SIGTERM',
    () =>
      void app
        .close()
        .then(() => pool.end())
        .then(() => process.exit(0)),
  );
}
void main();
