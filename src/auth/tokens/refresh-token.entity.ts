import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { TokenLogin } from '../../sessions/token-login.entity';

/** A refresh token, stored only as its SHA-256. Single use: `usedAt` is set when it is rotated. */
@Entity('refresh_tokens')
export class RefreshToken {
  @PrimaryColumn({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash!: string;

  @Index()
  @Column({ name: 'login_id', type: 'uuid' })
  loginId!: string;

  @ManyToOne(() => TokenLogin, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'login_id' })
  login?: TokenLogin;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;
}
