import { NestFactory } from '@nestjs/core';
import { HostAppModule } from './host-app.module';

/** `DATABASE_URL=… node dist/examples/host-app/src/main.js` (secrets from the environment too). */
async function main(): Promise<void> {
  const app = await NestFactory.create(
    HostAppModule.forRoot({
      databaseUrl: required('DATABASE_URL'),
      sessionSecret: required('SESSION_SECRET'),
      jwtSecret: required('JWT_SECRET'),
      passwordPepper: required('PASSWORD_PEPPER'),
    }),
  );
  await app.listen(Number(process.env.PORT ?? 3001));
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

void main();
