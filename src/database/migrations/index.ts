import { InitialSchema1795443366013 } from './1795443366013-InitialSchema';
import { SignIns1795443997298 } from './1795443997298-SignIns';
import { LoginAttempts1795447707469 } from './1795447707469-LoginAttempts';
import { AuditEvents1795448381842 } from './1795448381842-AuditEvents';
import { CleanupIndexes1795453595746 } from './1795453595746-CleanupIndexes';
import { IntegrityUnderRaces1796127747170 } from './1796127747170-IntegrityUnderRaces';
import { AccountRecovery1796149708031 } from './1796149708031-AccountRecovery';
import { SecondFactors1796151733471 } from './1796151733471-SecondFactors';
import { SigningKeys1796153389562 } from './1796153389562-SigningKeys';
import { ApiKeys1796154991901 } from './1796154991901-ApiKeys';

/** Every migration, oldest first. `npm run migration:generate` writes new ones; add them here. */
export const migrations = [
  InitialSchema1795443366013,
  SignIns1795443997298,
  LoginAttempts1795447707469,
  AuditEvents1795448381842,
  CleanupIndexes1795453595746,
  IntegrityUnderRaces1796127747170,
  AccountRecovery1796149708031,
  SecondFactors1796151733471,
  SigningKeys1796153389562,
  ApiKeys1796154991901,
];
