import { Module } from '@nestjs/common';

/** Sign-ins of both kinds (cookie sessions and token logins): listing and revocation. */
@Module({})
export class SessionsModule {}
