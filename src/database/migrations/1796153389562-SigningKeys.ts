import { MigrationInterface, QueryRunner } from 'typeorm';
import { enterAuthSchema } from '../auth-schema';

export class SigningKeys1796153389562 implements MigrationInterface {
  name = 'SigningKeys1796153389562';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(
      `CREATE TABLE "signing_keys" ("kid" character varying(64) NOT NULL, "algorithm" character varying(10) NOT NULL, "public_jwk" jsonb NOT NULL, "private_key_sealed" text NOT NULL, "legacy_hs256_until" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "retired_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_13362ac3e792c69417e1a53d355" PRIMARY KEY ("kid"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(`DROP TABLE "signing_keys"`);
  }
}
