// The NestJS documentation's JWT recipe ("Authentication" → "Implementing Passport
// JWT"), as a user would copy it: JwtModule with a string secret, a passport-jwt
// strategy whose validate() returns the user, AuthGuard('jwt') on the route. The
// route answers what the service's GET /api/auth/me answers (BENCH_ME_JSON) for a
// token signed with BENCH_JWT_SECRET (the bench signs it: the recipe's login is not
// what is measured). Plain JavaScript, decorators applied by hand.
const { Controller, Get, Injectable, Module, Req, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { JwtModule } = require('@nestjs/jwt');
const { AuthGuard, PassportModule, PassportStrategy } = require('@nestjs/passport');
const { ExtractJwt, Strategy } = require('passport-jwt');

const ME = JSON.parse(process.env.BENCH_ME_JSON ?? '{}');
const SECRET = process.env.BENCH_JWT_SECRET;

class JwtStrategy extends PassportStrategy(Strategy) {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      ignoreExpiration: false,
      secretOrKey: SECRET,
    });
  }
  validate(payload) {
    return { ...ME, id: payload.sub };
  }
}
Injectable()(JwtStrategy);

class ProfileController {
  me(req) {
    return req.user;
  }
}
Controller('api/auth')(ProfileController);
const me = Object.getOwnPropertyDescriptor(ProfileController.prototype, 'me');
Get('me')(ProfileController.prototype, 'me', me);
UseGuards(AuthGuard('jwt'))(ProfileController.prototype, 'me', me);
Req()(ProfileController.prototype, 'me', 0);

class JwtRecipeModule {}
Module({
  imports: [PassportModule, JwtModule.register({ secret: SECRET, signOptions: { expiresIn: '60m' } })],
  controllers: [ProfileController],
  providers: [JwtStrategy],
})(JwtRecipeModule);

async function main() {
  const app = await NestFactory.create(JwtRecipeModule, { logger: false });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.stdout.write('listening\n');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}
void main();
