/** The built-in roles, created by the initial migration. */
export const BuiltInRole = {
  User: 'user',
  Admin: 'admin',
} as const;
export type BuiltInRole = (typeof BuiltInRole)[keyof typeof BuiltInRole];

/** What each role implies, besides itself. The one place the hierarchy is defined. */
const IMPLIES: Record<string, readonly string[]> = {
  [BuiltInRole.Admin]: [BuiltInRole.User],
};

/** Every role a user effectively has, given the roles assigned to them. */
export function effectiveRoles(assigned: readonly string[]): Set<string> {
  const roles = new Set<string>();
  const pending = [...assigned];
  while (pending.length) {
    const role = pending.pop()!;
    if (roles.has(role)) continue;
    roles.add(role);
    pending.push(...(IMPLIES[role] ?? []));
  }
  return roles;
}
