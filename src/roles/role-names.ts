/** The built-in roles, created by the initial migration. */
export const BuiltInRole = {
  User: 'user',
  Admin: 'admin',
} as const;
export type BuiltInRole = (typeof BuiltInRole)[keyof typeof BuiltInRole];
