import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

/** The quoted, schema-qualified name of an entity's table, for hand-written SQL. */
export function tableOf(dataSource: DataSource, entity: EntityTarget<ObjectLiteral>): string {
  const { schema, tableName } = dataSource.getMetadata(entity);
  return schema ? `"${schema}"."${tableName}"` : `"${tableName}"`;
}

/** The same for the junction table of a many-to-many relation. */
export function junctionTableOf(
  dataSource: DataSource,
  entity: EntityTarget<ObjectLiteral>,
  relation: string,
): string {
  const junction = dataSource
    .getMetadata(entity)
    .findRelationWithPropertyPath(relation)?.junctionEntityMetadata;
  if (!junction) throw new Error(`No many-to-many relation ${relation}`);
  return junction.schema ? `"${junction.schema}"."${junction.tableName}"` : `"${junction.tableName}"`;
}
