import { DataSource } from 'typeorm';

/** Exposes TypeORM's metadata builder, which `initialize()` runs before it connects. */
class MetadataOnlyDataSource extends DataSource {
  build(): Promise<void> {
    return this.buildMetadatas();
  }
}

/**
 * A PostgreSQL DataSource whose entities are resolved exactly as at boot, without a connection: for unit
 * specs of code that reads entity metadata. Example: `(await metadataOnly([Item, Tag])).getMetadata(Item)`.
 */
export async function metadataOnly(entities: NonNullable<unknown>[]): Promise<DataSource> {
  const dataSource = new MetadataOnlyDataSource({ type: 'postgres', entities: entities as never });
  await dataSource.build();
  return dataSource;
}
