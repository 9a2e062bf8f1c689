import { MigrationInterface, QueryRunner } from 'typeorm';
import { enterAuthSchema } from '../auth-schema';

export class SignIns1795443997298 implements MigrationInterface {
  name = 'SignIns1795443997298';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(
      `CREATE TABLE "token_logins" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE, "ip" character varying(64), "user_agent" character varying(512), CONSTRAINT "PK_0315e03654d59a2c3c88aba83ae" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_90bae0e2d3ca8070e9a4391756" ON "token_logins"  ("user_id") `);
    await queryRunner.query(
      `CREATE INDEX "IDX_739f7ba583df2f1cf8fc54def9" ON "token_logins"  ("expires_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_1510e31e53fda722df157de424" ON "token_logins"  ("revoked_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "refresh_tokens" ("token_hash" character(64) NOT NULL, "login_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_a7838d2ba25be1342091b6695f1" PRIMARY KEY ("token_hash"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_e0db42f27a8cb9857822ce4190" ON "refresh_tokens"  ("login_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "cookie_sessions" ("id_hash" character(64) NOT NULL, "public_id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid, "data" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "absolute_expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "ip" character varying(64), "user_agent" character varying(512), CONSTRAINT "PK_bfc944e647ae63af9e95657f29f" PRIMARY KEY ("id_hash"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_e82c4d196af56ec26b751c5a1e" ON "cookie_sessions"  ("public_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_08bc436cd5189de38f72579296" ON "cookie_sessions"  ("user_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_fcb3055a71aa22c8fde325795b" ON "cookie_sessions"  ("absolute_expires_at") `,
    );
    await queryRunner.query(
      `ALTER TABLE "token_logins" ADD CONSTRAINT "FK_90bae0e2d3ca8070e9a43917560" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "refresh_tokens" ADD CONSTRAINT "FK_e0db42f27a8cb9857822ce41901" FOREIGN KEY ("login_id") REFERENCES "token_logins"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "cookie_sessions" ADD CONSTRAINT "FK_08bc436cd5189de38f72579296e" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE "cookie_sessions" DROP CONSTRAINT "FK_08bc436cd5189de38f72579296e"`);
    await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP CONSTRAINT "FK_e0db42f27a8cb9857822ce41901"`);
    await queryRunner.query(`ALTER TABLE "token_logins" DROP CONSTRAINT "FK_90bae0e2d3ca8070e9a43917560"`);
    await queryRunner.query(`DROP INDEX "IDX_fcb3055a71aa22c8fde325795b"`);
    await queryRunner.query(`DROP INDEX "IDX_08bc436cd5189de38f72579296"`);
    await queryRunner.query(`DROP INDEX "IDX_e82c4d196af56ec26b751c5a1e"`);
    await queryRunner.query(`DROP TABLE "cookie_sessions"`);
    await queryRunner.query(`DROP INDEX "IDX_e0db42f27a8cb9857822ce4190"`);
    await queryRunner.query(`DROP TABLE "refresh_tokens"`);
    await queryRunner.query(`DROP INDEX "IDX_1510e31e53fda722df157de424"`);
    await queryRunner.query(`DROP INDEX "IDX_739f7ba583df2f1cf8fc54def9"`);
    await queryRunner.query(`DROP INDEX "IDX_90bae0e2d3ca8070e9a4391756"`);
    await queryRunner.query(`DROP TABLE "token_logins"`);
  }
}
