import { effectiveRoles } from './role-names';

describe('effectiveRoles', () => {
  it('gives admin every permission of user', () => {
    expect([...effectiveRoles(['admin'])].sort()).toEqual(['admin', 'user']);
  });

  it('gives user nothing more, and keeps custom roles as they are', () => {
    expect([...effectiveRoles(['user'])]).toEqual(['user']);
    expect([...effectiveRoles(['auditor', 'user'])].sort()).toEqual(['auditor', 'user']);
  });
});
