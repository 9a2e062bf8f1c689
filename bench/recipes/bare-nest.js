// The floor the bench compares with: a NestJS app of the same versions with one
// route, GET /api/auth/me, answering the JSON the service's /me answers (given by
// the bench in BENCH_ME_JSON), and nothing else: no middleware, no guard, no logger.
// Plain JavaScript, with the decorators applied by hand, so that it runs as is.
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');

const ME = JSON.parse(process.env.BENCH_ME_JSON ?? '{}');

class MeController {
  me() {
    return ME;
  }
}
Controller('api/auth')(MeController);
Get('me')(MeController.prototype, 'me', Object.getOwnPropertyDescriptor(MeController.prototype, 'me'));

class BareModule {}
Module({ controllers: [MeController] })(BareModule);

async function main() {
  const app = await NestFactory.create(BareModule, { logger: false });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.stdout.write('listening\n');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}
void main();
